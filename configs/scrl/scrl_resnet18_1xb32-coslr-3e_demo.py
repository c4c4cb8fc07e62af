# SCRL with a ResNet-18 on the embedded synthetic scenes (no download), `make demo`, about 3 minutes on 2 cores:
#   python tools/train.py configs/scrl/scrl_resnet18_1xb32-coslr-3e_demo.py
# Same algorithm as the R50 configs (views, box pairs, RoIAlign on the last stage, EMA target, LARS),
# scaled down: 64 px views (a 2x2 last-stage map), min box side 16 px, narrower heads, 1024 textured scenes
# with 1-3 small objects (`material_scene` of the monitor base), 3 epochs = 96 iterations at LARS lr 1.0.
# The online kNN monitor (issue 9, 14) logs knn/top1 ± SE on 1024 held-out scenes after every epoch, labelled by
# the scene's texture (never used in training), and prints the curve at the end. Why these scenes and this
# learning rate (seeds, variants, what did not learn): configs/scrl/README.md#demo.
_base_ = ['../_base_/default_runtime.py', '../_base_/knn_monitor_demo.py', './_base_/scrl_views.py']

# the reference views of _base_/scrl_views.py at 64 px (the scenes are generated, so no LoadImageFromFile)
img_size = 64
view_pipeline1 = [dict(_base_.view_pipeline1[0], scale=img_size), *_base_.view_pipeline1[1:]]
view_pipeline2 = [dict(_base_.view_pipeline2[0], scale=img_size), *_base_.view_pipeline2[1:]]
train_dataloader = dict(
    batch_size=32,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    drop_last=True,
    dataset=dict(
        type='SyntheticScenes',
        num_images=1024,
        seed=0,
        **_base_.material_scene,
        pipeline=[
            dict(type='MultiViewWithGeometry', num_views=[1, 1], transforms=[view_pipeline1, view_pipeline2]),
            dict(type='PackInputs', algorithm_keys=_base_.geometry_keys),
        ]))
train_pipeline = None  # the base's file-loading pipeline does not apply to generated scenes

model = dict(
    type='SCRL',
    base_tau=0.97,
    data_preprocessor=dict(
        type='SelfSupDataPreprocessor', mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], to_rgb=True),
    backbone=dict(type='ResNet', depth=18, norm_cfg=dict(type='SyncBN'), zero_init_residual=False),
    neck=dict(
        type='NonLinearNeck',
        in_channels=512,
        hid_channels=1024,
        out_channels=128,
        num_layers=2,
        with_bias=True,
        with_last_bn=False,
        with_avg_pool=True),
    head=dict(
        type='LatentPredictHead',
        loss=dict(type='CosineSimilarityLoss', shift_factor=2., scale_factor=2.),
        predictor=dict(
            type='NonLinearNeck',
            in_channels=128,
            hid_channels=1024,
            out_channels=128,
            num_layers=2,
            with_bias=True,
            with_last_bn=False,
            with_avg_pool=False)),
    box_generator=dict(num_boxes=10, min_size=16, iou_threshold=0.5, max_tries=50),
    roi_align_cfg=dict(output_size=1, spatial_scale=1 / 32, sampling_ratio=-1, aligned=False))

optim_wrapper = dict(
    type='OptimWrapper',
    # lr 1.0 at batch 32 (BYOL's 4.8 / 4096 would be 0.0375): a demo setting, not a reproduction. On these scenes
    # lr 0.3 moved the kNN by +3.4 in 2 epochs and lr 3.0 was unstable across seeds (configs/scrl/README.md#demo).
    optimizer=dict(type='LARS', lr=1.0, weight_decay=1e-6, momentum=0.9),
    paramwise_cfg=dict(
        custom_keys={
            'bn': dict(decay_mult=0, lars_exclude=True),
            'bias': dict(decay_mult=0, lars_exclude=True),
            'neck.bn0.weight': dict(decay_mult=1, lars_exclude=False),
            'predictor.bn0.weight': dict(decay_mult=1, lars_exclude=False)
        }))
max_epochs = 3
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-2, by_epoch=True, begin=0, end=1, convert_to_iter_based=True),
    dict(
        type='CosineAnnealingLR',
        T_max=max_epochs - 1,
        by_epoch=True,
        begin=1,
        end=max_epochs,
        convert_to_iter_based=True)
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs)
default_hooks = dict(logger=dict(interval=8), checkpoint=dict(interval=3, max_keep_ckpts=2))
# the kNN monitor on the material scenes (custom_hooks.0) plus the target momentum's schedule length (required)
custom_hooks = [_base_.knn_monitor_material, dict(type='SCRLTargetMomentumHook')]
auto_scale_lr = dict(base_batch_size=256)
randomness = dict(seed=0)

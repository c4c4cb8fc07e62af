# SCRL ResNet-50 as in kakaobrain/scrl (config/scrl_200ep.yaml, models/backbone.py, models/heads.py):
# torchvision-style ResNet-50 (no zero-init residual), SyncBN everywhere under DDP, RoIAlign 1x1 on
# stage 4 (spatial scale 1/32, sampling ratio -1, not aligned), projector 2048-4096-256 and predictor
# 256-4096-256 (Linear-BN-ReLU-Linear without bias), loss 2 - 2cos on box pairs only.
model = dict(
    type='SCRL',
    base_tau=0.97,  # reference convention (target <- tau * target + (1 - tau) * online)
    target_init='random',  # the reference never copies the online network into the target
    data_preprocessor=dict(
        type='SelfSupDataPreprocessor', mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], to_rgb=True),
    backbone=dict(type='ResNet', depth=50, norm_cfg=dict(type='SyncBN'), zero_init_residual=False),
    neck=dict(
        type='NonLinearNeck',
        in_channels=2048,
        hid_channels=4096,
        out_channels=256,
        num_layers=2,
        with_bias=True,
        with_last_bn=False,
        with_avg_pool=True),
    head=dict(
        type='LatentPredictHead',
        loss=dict(type='CosineSimilarityLoss', shift_factor=2., scale_factor=2.),  # 2 - 2cos
        predictor=dict(
            type='NonLinearNeck',
            in_channels=256,
            hid_channels=4096,
            out_channels=256,
            num_layers=2,
            with_bias=True,
            with_last_bn=False,
            with_avg_pool=False)),
    box_generator=dict(
        num_boxes=10, min_size=32, iou_threshold=0.5, max_tries=50, grid_based=True,
        on_failure='keep_last'),  # the reference code; 'stop' is the rule described in scrl issue #2
    roi_align_cfg=dict(output_size=1, spatial_scale=1 / 32, sampling_ratio=-1, aligned=False),
    image_loss_weight=0.)  # the reference has no image-level loss when SCRL is on
# Gives the model the schedule length of the target momentum before each iteration (the model raises
# without it). A config that sets its own `custom_hooks` must keep this entry.
custom_hooks = [dict(type='SCRLTargetMomentumHook')]

# CPU-sized depth fine-tune on the synthetic scenes exported in NYU's layout (no download):
#   python tools/dataset_converters/synthetic_nyu_depth.py data/synthetic_nyu   # 256 train (seed 0) / 64 test (seed 1)
# The NYU ResNet-50 config here with the sizes of the data and of a CPU: ResNet-18 (our small-run backbone,
# loaded from a full pretraining checkpoint: prefix 'backbone.', the online network), BN (one process), FPN 128 /
# head 64 channels, 128x128 random crops of the 128x160 images, batch 8, 10 epochs (320 iterations), no warm-up
# (the 25k schedule's 12k-iteration warm-up would never end), whole-image test (the images are not resized: depth
# labels and predictions stay aligned pixel for pixel), DepthMetric without NYU's crop (it addresses 480x640).
# Depths lie in [1, 9.65] m, inside NYU's (1e-3, 10) evaluation window and max_depth 10.
# Random-init baseline: --cfg-options model.backbone.init_cfg=None custom_hooks.0.require_checkpoint=False
_base_ = './fpn_r50_4xb8-25k_nyu-480x480.py'

data_root = 'data/synthetic_nyu'
crop_size = (128, 128)
norm_cfg = dict(type='BN', requires_grad=True)
model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(
        depth=18,
        norm_cfg=norm_cfg,
        init_cfg=dict(type='Pretrained', checkpoint={{_base_.pretrained}}, prefix='backbone.')),
    neck=dict(in_channels=[64, 128, 256, 512], out_channels=128),
    decode_head=dict(in_channels=[128] * 4, channels=64, norm_cfg=norm_cfg),
    test_cfg=dict(_delete_=True, mode='whole'))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadDepthAnnotation', depth_rescale_factor=1e-3),
    dict(type='RandomDepthMix', prob=0.25),
    dict(type='RandomFlip', prob=0.5),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs', meta_keys={{_base_.meta_keys}}),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadDepthAnnotation', depth_rescale_factor=1e-3),
    dict(type='PackSegInputs', meta_keys={{_base_.meta_keys}}),
]
train_dataloader = dict(
    batch_size=8,
    num_workers=2,
    persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(data_root=data_root, pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=8, num_workers=0, persistent_workers=False, dataset=dict(data_root=data_root, pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(crop_type=None)
test_evaluator = val_evaluator

max_epochs = 10
optim_wrapper = dict(optimizer=dict(lr=1e-3))
param_scheduler = [dict(type='PolyLR', eta_min=0., power=0.9, begin=0, end=max_epochs, by_epoch=True)]
train_cfg = dict(_delete_=True, type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=max_epochs)
randomness = dict(seed=0)  # seeded small runs (--cfg-options randomness.seed=N)
default_hooks = dict(
    logger=dict(interval=10), checkpoint=dict(by_epoch=True, interval=max_epochs, save_best=None, max_keep_ckpts=1))

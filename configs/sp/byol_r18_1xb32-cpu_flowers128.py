# Small CPU run (not a reproduction): mmpretrain's BYOL, ResNet-18, 96-px views, batch 32, on the
# 3,483 photos of ../shared/data/flowers128 (5 class folders; labels unused in training). The host arm of
# the BYOL vs BYOL+SP comparison of README.md ("Small CPU-budget run"); byol_sp_r18_1xb32-cpu_flowers128.py
# is this file plus the SP wrapper and nothing else.
#   python tools/train.py configs/sp/byol_r18_1xb32-cpu_flowers128.py --work-dir work_dirs/byol_flowers
# Data elsewhere: FLOWERS128_ROOT=/path/to/flowers128 python tools/train.py ... (or
# --cfg-options train_dataloader.dataset.data_root=/path/to/flowers128). Length: --cfg-options
# train_cfg.max_iters=N (constant learning rate after the warm-up; a checkpoint is saved at the end).
_base_ = ['../byol/byol_resnet18_1xb32-coslr-8e_demo.py']  # model, LARS optimiser, runtime
custom_imports = dict(imports=['mmspatial'], allow_failed_imports=False)

data_root = '{{$FLOWERS128_ROOT:../shared/data/flowers128/}}'
img_size = 96
# BYOL's asymmetric augmentation (mmpretrain imagenet_bs32_byol.py) through the geometry-aware views.
view_pipeline1 = [
    dict(
        type='RandomResizedCropWithBox',
        scale=img_size,
        crop_ratio_range=(0.2, 1.),
        interpolation='bicubic',
        backend='pillow'),
    dict(type='RandomFlipWithFlag', prob=0.5),
    dict(
        type='RandomApply',
        transforms=[dict(type='SafeHueColorJitter', brightness=0.4, contrast=0.4, saturation=0.2, hue=0.1)],
        prob=0.8),
    dict(type='RandomGrayscale', prob=0.2, keep_channels=True, channel_weights=(0.114, 0.587, 0.2989)),
    dict(type='GaussianBlur', magnitude_range=(0.1, 2.0), magnitude_std='inf', prob=1.),
    dict(type='Solarize', thr=128, prob=0.),
]
view_pipeline2 = [
    dict(
        type='RandomResizedCropWithBox',
        scale=img_size,
        crop_ratio_range=(0.2, 1.),
        interpolation='bicubic',
        backend='pillow'),
    dict(type='RandomFlipWithFlag', prob=0.5),
    dict(
        type='RandomApply',
        transforms=[dict(type='SafeHueColorJitter', brightness=0.4, contrast=0.4, saturation=0.2, hue=0.1)],
        prob=0.8),
    dict(type='RandomGrayscale', prob=0.2, keep_channels=True, channel_weights=(0.114, 0.587, 0.2989)),
    dict(type='GaussianBlur', magnitude_range=(0.1, 2.0), magnitude_std='inf', prob=0.1),
    dict(type='Solarize', thr=128, prob=0.2),
]
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='MultiViewWithGeometry', num_views=[1, 1], transforms=[view_pipeline1, view_pipeline2]),
    dict(type='PackInputs', algorithm_keys=['view_bboxes', 'view_flips', 'view_shapes', 'ori_img_shape']),
]
train_dataloader = dict(
    batch_size=32,
    num_workers=1,
    persistent_workers=True,
    dataset=dict(_delete_=True, type='CustomDataset', data_root=data_root, with_label=False, pipeline=train_pipeline))

# Iteration-based: LARS lr 0.3 (the demo's), linear warm-up for 30 iterations, then constant, so a run
# stopped after N iterations (e.g. at a CPU-time budget) equals a run with max_iters=N.
max_iters = 300
warmup_iters = 30
train_cfg = dict(_delete_=True, type='IterBasedTrainLoop', max_iters=max_iters)
param_scheduler = [dict(type='LinearLR', start_factor=1e-2, by_epoch=False, begin=0, end=warmup_iters)]
default_hooks = dict(
    logger=dict(interval=10), checkpoint=dict(by_epoch=False, interval=100000, save_last=True, max_keep_ckpts=1))
log_processor = dict(by_epoch=False)
randomness = dict(seed=0)

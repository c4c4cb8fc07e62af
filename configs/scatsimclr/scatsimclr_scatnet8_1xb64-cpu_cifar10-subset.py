# CPU-budget runs on ../shared/data/cifar10_subset (10k train images, labels unused) for the learning
# evidence (benchmarks/learning/run.py, docs/evidence.md) and the tests (which shrink it further). Not a
# reproduction: the reproduction configs (*_1xb64-100e_*) keep the reference recipe (ImageNet-strength
# augmentation at 32 px, Adam 3e-4 constant, T = 0.5, projector without BN), which barely moves in a few
# CPU-minutes (issue 14). This file swaps in a CIFAR recipe that learns at that budget:
# * views: SimSiam's CIFAR augmentation (Chen & He 2021; facebookresearch/moco CIFAR demo), crop scale
#   0.2-1, jitter 0.4/0.4/0.4/0.1 (p 0.8), grayscale 0.2, no blur - as torchvision calls on PIL (RGB);
# * NT-Xent temperature 0.2 (MoCo v2), BN in the 2048-2048-128 projector (SimCLR v1);
# * LARS lr 0.3, 20-iteration warm-up, then constant (configs/_base_/schedules/lars_warmup-constant_cpu.py).
# Which of these matters: the ablation in docs/evidence.md.
_base_ = ['./scatsimclr_scatnet8_1xb64-100e_cifar10.py']
channel_order = 'rgb'  # the .npz arrays; the preprocessor keeps them (to_rgb=False in the dataset base)
view_pipeline = [
    dict(type='torchvision/ToPILImage'),
    dict(type='torchvision/RandomResizedCrop', size=(32, 32), scale=(0.2, 1.0)),
    dict(type='torchvision/RandomHorizontalFlip'),
    dict(
        type='RandomApply',
        prob=0.8,
        transforms=[dict(type='torchvision/ColorJitter', brightness=0.4, contrast=0.4, saturation=0.4, hue=0.1)]),
    dict(type='torchvision/RandomGrayscale', p=0.2),
]
train_pipeline = [
    dict(type='MultiView', num_views=2, transforms=[view_pipeline]),
    dict(type='PackInputs'),
]
rotation_train_pipeline = [
    dict(type='RotationPretext', transforms=view_pipeline),
    dict(type='MultiView', num_views=2, transforms=[view_pipeline]),
    dict(type='MergePretextViews'),
    dict(type='PackInputs', algorithm_keys=['pretext_label']),
]
jigsaw_train_pipeline = [
    dict(type='JigsawPretext', tile_size=32),
    dict(type='MultiView', num_views=2, transforms=[view_pipeline]),
    dict(type='MergePretextViews'),
    dict(type='PackInputs', algorithm_keys=['pretext_label']),
]
model = dict(
    neck=dict(
        _delete_=True,
        type='NonLinearNeck',
        in_channels=2048,
        hid_channels=2048,
        out_channels=128,
        num_layers=2,
        with_avg_pool=False),
    loss=dict(temperature=0.2))
train_dataloader = dict(
    num_workers=2,
    dataset=dict(
        _delete_=True,
        type='NpzImageDataset',
        ann_file='{{$CIFAR10_SUBSET_NPZ:../shared/data/cifar10_subset/cifar10_subset.npz}}',
        split='train',
        with_label=False,
        pipeline=train_pipeline))
# the values of configs/_base_/schedules/lars_warmup-constant_cpu.py (not inherited: its keys clash with
# the reproduction config's schedule base)
warmup_iters = 20
optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='LARS', lr=0.3, weight_decay=1e-6, momentum=0.9),
    paramwise_cfg=dict(
        custom_keys={
            'bn': dict(decay_mult=0, lars_exclude=True),
            'bias': dict(decay_mult=0, lars_exclude=True),
            'downsample.1': dict(decay_mult=0, lars_exclude=True)
        }))
param_scheduler = [dict(type='LinearLR', start_factor=1e-2, by_epoch=False, begin=0, end=warmup_iters)]
max_iters = 600
train_cfg = dict(_delete_=True, type='IterBasedTrainLoop', max_iters=max_iters)
default_hooks = dict(logger=dict(interval=20), checkpoint=dict(by_epoch=False, interval=max_iters, max_keep_ckpts=1))
log_processor = dict(by_epoch=False)
randomness = dict(seed=0)

# cifar10_subset (../shared/data, 10k RGB 32-px train images, labels unused in training) with the CIFAR
# augmentation of SimSiam (Chen & He, CVPR 2021, Sec. 4 / appendix "CIFAR experiments"; the same as the
# MoCo CIFAR-10 demo of facebookresearch/moco): RandomResizedCrop(32, scale 0.2-1), flip, colour jitter
# 0.4/0.4/0.4/0.1 with p=0.8, grayscale p=0.2, no blur, no solarisation. Built from the geometry-aware
# transforms, so SCRL and SP get every view's box and flip; the mmpretrain hosts ignore the extra keys.
# Channel order is a property of the data, set here once: the .npz arrays are RGB, so the preprocessor
# does not flip channels, the grayscale weights are the RGB ones, and every probe
# (mmspatial.evaluation.spatial_reasoning.common.dataset_channel_order) reads the same fact.
data_file = '{{$CIFAR10_SUBSET_NPZ:../shared/data/cifar10_subset/cifar10_subset.npz}}'
img_size = 32
channel_order = 'rgb'
data_preprocessor = dict(  # CIFAR-10 statistics, RGB order
    type='SelfSupDataPreprocessor',
    mean=[125.307, 122.961, 113.8575],
    std=[51.5865, 50.847, 51.255],
    to_rgb=channel_order == 'bgr')
view_pipeline = [
    dict(
        type='RandomResizedCropWithBox',
        scale=img_size,
        crop_ratio_range=(0.2, 1.),
        interpolation='bilinear',
        backend='pillow'),
    dict(type='RandomFlipWithFlag', prob=0.5),
    dict(
        type='RandomApply',
        prob=0.8,
        transforms=[dict(type='SafeHueColorJitter', brightness=0.4, contrast=0.4, saturation=0.4, hue=0.1)]),
    dict(type='RandomGrayscale', prob=0.2, keep_channels=True, channel_weights=(0.2989, 0.587, 0.114)),
]
geometry_keys = ['view_bboxes', 'view_flips', 'view_shapes', 'ori_img_shape']
train_pipeline = [
    dict(type='MultiViewWithGeometry', num_views=[1, 1], transforms=[view_pipeline, view_pipeline]),
    dict(type='PackInputs', algorithm_keys=geometry_keys),
]
train_dataloader = dict(
    batch_size=64,
    num_workers=2,
    persistent_workers=True,
    drop_last=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(type='NpzImageDataset', ann_file=data_file, split='train', with_label=False, pipeline=train_pipeline))

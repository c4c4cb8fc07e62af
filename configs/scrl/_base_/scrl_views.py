# The two SCRL views (kakaobrain/scrl augment/getters.py, BYOL's asymmetric augmentation with
# RandomResizedCrop scale (0.2, 1.0) and the down-up ResizeBlur), keeping crop box and flip per view.
img_size = 224
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
    dict(type='ResizeBlur', factors=(1.1, 1.2, 1.5), prob=1.),
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
    dict(type='ResizeBlur', factors=(1.1, 1.2, 1.5), prob=0.1),
    dict(type='Solarize', thr=128, prob=0.2),
]
geometry_keys = ['view_bboxes', 'view_flips', 'view_shapes', 'ori_img_shape']
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='MultiViewWithGeometry', num_views=[1, 1], transforms=[view_pipeline1, view_pipeline2]),
    dict(type='PackInputs', algorithm_keys=geometry_keys),
]

# ImageNet-1k train images (labels unused) with DINO's multi-crop augmentation (main_dino.py
# DataAugmentationDINO): 2 global crops 224 px scale (0.4, 1), 8 local crops 96 px scale (0.05, 0.4),
# blur p 1.0 / 0.1 / 0.5, solarisation p 0.2 on the second global crop. The crop boxes are recorded
# (DINOMultiCrop is a MultiViewWithGeometry). 64 images per GPU as main_dino.py's default.
data_preprocessor = dict(
    type='SelfSupDataPreprocessor', mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], to_rgb=True)
multicrop = dict(
    type='DINOMultiCrop',
    global_crop_size=224,
    local_crop_size=96,
    num_local_crops=8,
    global_crop_scale=(0.4, 1.0),
    local_crop_scale=(0.05, 0.4))
train_pipeline = [
    dict(type='LoadImageFromFile'),
    multicrop,
    dict(type='PackInputs', algorithm_keys=['view_bboxes', 'view_flips', 'view_shapes', 'ori_img_shape']),
]
train_dataloader = dict(
    batch_size=64,
    num_workers=10,
    persistent_workers=True,
    pin_memory=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    drop_last=True,
    dataset=dict(type='ImageNet', data_root='data/imagenet/', split='train', pipeline=train_pipeline))

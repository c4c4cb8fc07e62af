# DINO multi-crop at demo scale on the embedded synthetic scenes (no download): 2 global crops of
# 64 px and 2 local crops of 32 px, DINO's photometric augmentations unchanged.
data_preprocessor = dict(
    type='SelfSupDataPreprocessor', mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], to_rgb=True)
multicrop = dict(
    type='DINOMultiCrop',
    global_crop_size=64,
    local_crop_size=32,
    num_local_crops=2,
    global_crop_scale=(0.4, 1.0),
    local_crop_scale=(0.05, 0.4))
train_pipeline = [
    multicrop,
    dict(type='PackInputs', algorithm_keys=['view_bboxes', 'view_flips', 'view_shapes', 'ori_img_shape']),
]
train_dataloader = dict(
    batch_size=32,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    drop_last=True,
    dataset=dict(type='SyntheticScenes', num_images=256, img_size=(96, 128), seed=0, pipeline=train_pipeline))

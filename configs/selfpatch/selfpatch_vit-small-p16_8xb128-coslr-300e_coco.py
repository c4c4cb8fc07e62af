# SelfPatch ViT-S/16 on COCO train2017 images (118k, labels unused) with the ImageNet recipe
# (8 x 128, 300 epochs = about 34.6k iterations). Pre-training on COCO is our addition: the reference
# pre-trains on ImageNet only.
_base_ = [
    './_base_/selfpatch_vit-small-p16.py',
    '../_base_/datasets/coco_dino_multicrop.py',
    '../dino/_base_/dino_adamw_coslr.py',
    '../_base_/default_runtime.py',
]

# SelfPatch's crop scales (DINO: (0.4, 1) / (0.05, 0.4)).
multicrop = dict(
    type='DINOMultiCrop',
    global_crop_size=224,
    local_crop_size=96,
    num_local_crops=8,
    global_crop_scale=(0.25, 1.0),
    local_crop_scale=(0.05, 0.25))
train_pipeline = [
    dict(type='LoadImageFromFile'),
    multicrop,
    dict(type='PackInputs', algorithm_keys=['view_bboxes', 'view_flips', 'view_shapes', 'ori_img_shape']),
]

num_gpus, per_gpu_batch, epochs, warmup_epochs = 8, 128, 300, 10
train_dataloader = dict(batch_size=per_gpu_batch, dataset=dict(pipeline=train_pipeline))
optim_wrapper = dict(optimizer=dict(lr=5e-4 * num_gpus * per_gpu_batch / 256))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6, by_epoch=True, begin=0, end=warmup_epochs,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=1e-6, by_epoch=True, begin=warmup_epochs, end=epochs,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingParamScheduler', param_name='weight_decay', eta_min_ratio=10.0,
         by_epoch=True, begin=0, end=epochs, convert_to_iter_based=True),
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=epochs)
default_hooks = dict(checkpoint=dict(interval=10, max_keep_ckpts=3))
auto_scale_lr = dict(base_batch_size=num_gpus * per_gpu_batch)

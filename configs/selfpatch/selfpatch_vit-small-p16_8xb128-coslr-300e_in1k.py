# SelfPatch ViT-S/16 on ImageNet-1k (alinlab/SelfPatch README command: 8 GPUs x 128 = 1024 images,
# 8 local crops, patch 16, out_dim_selfpatch 4096, k_num 4), lr 5e-4 x 1024 / 256 = 2e-3 after 10
# warm-up epochs, cosine to 1e-6, crop scales (0.25, 1) / (0.05, 0.25).
# Epochs: 300, the `--epochs` default of main_selfpatch.py at 81aef14 (the command does not set it);
# the paper says 200 (SelfPatch issue #2, unanswered): for the paper's setting, --cfg-options
# train_cfg.max_epochs=200 param_scheduler.1.end=200 param_scheduler.2.end=200. See configs/selfpatch/README.md.
# fp16 is the reference's default: add --amp.
_base_ = [
    './_base_/selfpatch_vit-small-p16.py',
    '../_base_/datasets/imagenet_dino_multicrop.py',
    '../dino/_base_/dino_adamw-coslr-300e.py',
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

num_gpus, per_gpu_batch = 8, 128
train_dataloader = dict(batch_size=per_gpu_batch, dataset=dict(pipeline=train_pipeline))
optim_wrapper = dict(optimizer=dict(lr=5e-4 * num_gpus * per_gpu_batch / 256))
default_hooks = dict(checkpoint=dict(interval=10, max_keep_ckpts=3))
# lr above is already scaled for num_gpus x per_gpu_batch; --auto-scale-lr rescales it linearly.
auto_scale_lr = dict(base_batch_size=num_gpus * per_gpu_batch)

# DINO ViT-S/16 on ImageNet-1k with main_dino.py's defaults: 8 GPUs x 64 images (the README's
# --nproc_per_node=8 command), 100 epochs, lr 5e-4 x 512 / 256 = 1e-3 after 10 warm-up epochs, cosine
# to 1e-6, crop scales (0.4, 1) / (0.05, 0.4), 2 x 224 + 8 x 96 px crops.
# fp16 is the reference's default: add --amp.
_base_ = [
    './_base_/dino_vit-small-p16.py',
    '../_base_/datasets/imagenet_dino_multicrop.py',
    './_base_/dino_adamw-coslr-100e.py',
    '../_base_/default_runtime.py',
]

num_gpus, per_gpu_batch = 8, 64
train_dataloader = dict(batch_size=per_gpu_batch)
optim_wrapper = dict(optimizer=dict(lr=5e-4 * num_gpus * per_gpu_batch / 256))
default_hooks = dict(checkpoint=dict(interval=10, max_keep_ckpts=3))
# lr above is already scaled for num_gpus x per_gpu_batch; --auto-scale-lr rescales it linearly for
# another total batch size.
auto_scale_lr = dict(base_batch_size=num_gpus * per_gpu_batch)

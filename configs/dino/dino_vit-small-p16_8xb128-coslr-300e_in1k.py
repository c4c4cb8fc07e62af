# DINO ViT-S/16 on ImageNet-1k with SelfPatch's training budget (8 GPUs x 128 = 1024 images, 300
# epochs, lr 5e-4 x 1024 / 256 = 2e-3), DINO's own crop scales: the baseline to compare with
# configs/selfpatch/selfpatch_vit-small-p16_8xb128-coslr-300e_in1k.py (same schedule base). (SelfPatch's
# paper compares with VISSL's DINO checkpoint instead; see configs/dino/README.md.)
_base_ = [
    './_base_/dino_vit-small-p16.py',
    '../_base_/datasets/imagenet_dino_multicrop.py',
    './_base_/dino_adamw-coslr-300e.py',
    '../_base_/default_runtime.py',
]

num_gpus, per_gpu_batch = 8, 128
train_dataloader = dict(batch_size=per_gpu_batch)
optim_wrapper = dict(optimizer=dict(lr=5e-4 * num_gpus * per_gpu_batch / 256))
default_hooks = dict(checkpoint=dict(interval=10, max_keep_ckpts=3))
auto_scale_lr = dict(base_batch_size=num_gpus * per_gpu_batch)

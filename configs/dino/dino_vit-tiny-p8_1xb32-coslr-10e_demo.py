# DINO demo on the embedded synthetic scenes (no download; a few minutes on 2 CPU cores):
#   python tools/train.py configs/dino/dino_vit-tiny-p8_1xb32-coslr-10e_demo.py
# ViT-tiny (mmpretrain 'deit-tiny': 192 dims, 12 layers, 3 heads) with 8-px patches, 2 global crops of
# 64 px and 2 local crops of 32 px, a lighter head (hidden 512, 4096 prototypes instead of 2048 and
# 65536); everything else as DINO. 10 epochs, 1 warm-up epoch (_base_/dino_adamw-coslr-10e_demo.py).
_base_ = [
    './_base_/dino_vit-small-p16.py',
    '../_base_/datasets/demo_scenes_dino_multicrop.py',
    './_base_/dino_adamw-coslr-10e_demo.py',
]

out_channels = 4096
model = dict(
    backbone=dict(arch='deit-tiny', img_size=64, patch_size=8),
    neck=dict(in_channels=192, hidden_channels=512, out_channels=out_channels),
    loss=dict(out_channels=out_channels))

per_gpu_batch = 32
train_dataloader = dict(batch_size=per_gpu_batch)
optim_wrapper = dict(optimizer=dict(lr=5e-4 * per_gpu_batch / 256))
auto_scale_lr = dict(base_batch_size=per_gpu_batch)

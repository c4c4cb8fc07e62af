# SelfPatch demo on the embedded synthetic scenes (no download; a few minutes on 2 CPU cores):
#   python tools/train.py configs/selfpatch/selfpatch_vit-tiny-p8_1xb32-coslr-10e_demo.py
# ViT-tiny ('deit-tiny': 192 dims, 12 layers, 3 heads) with 8-px patches: 2 global crops of 64 px
# (8x8 patches) and 2 local crops of 32 px (4x4 patches), SelfPatch crop scales, lighter heads (hidden
# 512, 4096 image / 1024 patch prototypes instead of 2048 and 65536 / 4096); everything else as SelfPatch.
# 10 epochs, 1 warm-up epoch (../dino/_base_/dino_adamw-coslr-10e_demo.py).
_base_ = [
    './_base_/selfpatch_vit-small-p16.py',
    '../_base_/datasets/demo_scenes_dino_multicrop.py',
    '../dino/_base_/dino_adamw-coslr-10e_demo.py',
]

model = dict(
    backbone=dict(arch='deit-tiny', img_size=64, patch_size=8),
    aggregator=dict(embed_dims=192, num_heads=3),
    neck=dict(in_channels=192, hidden_channels=512, out_channels=4096),
    patch_neck=dict(in_channels=192, hidden_channels=512, out_channels=1024),
    loss=dict(out_channels=4096),
    patch_loss=dict(out_channels=1024))

# SelfPatch's crop scales (DINO: (0.4, 1) / (0.05, 0.4)).
multicrop = dict(
    type='DINOMultiCrop',
    global_crop_size=64,
    local_crop_size=32,
    num_local_crops=2,
    global_crop_scale=(0.25, 1.0),
    local_crop_scale=(0.05, 0.25))
train_pipeline = [
    multicrop,
    dict(type='PackInputs', algorithm_keys=['view_bboxes', 'view_flips', 'view_shapes', 'ori_img_shape']),
]

per_gpu_batch = 32
train_dataloader = dict(batch_size=per_gpu_batch, dataset=dict(pipeline=train_pipeline))
optim_wrapper = dict(optimizer=dict(lr=5e-4 * per_gpu_batch / 256))
auto_scale_lr = dict(base_batch_size=per_gpu_batch)

# Semantic FPN with a ViT-S/16 backbone on ADE20K, SelfPatch's protocol (alinlab/SelfPatch @ 929f45a,
# segmentation/configs/semfpn_vit-s16_512x512_40k_ade20k.py, hyper-parameters from XCiT): blocks
# (2, 5, 8, 11) (all stride 16) -> FPN -> FPNHead, 512x512, 40k iterations, 4 images/GPU, AdamW
# lr 6e-5 wd 0.01 (none on norms and position embeddings), linear warm-up 1500 iterations then poly
# (power 1), drop path 0.1. The reference does not state the GPU count; XCiT used 8 (8 x 4 = 32).
# Reference: SelfPatch ViT-S/16 -> 41.2 mIoU (DINO: 38.3).
#
# Backbone keys: mmpretrain's ViT layout (extract_backbone.py default); DINO / SelfPatch results use
# the teacher (--branch target). DINO checkpoints have a class token, this ViT has none: extract them
# with --drop-cls-token (mmpretrain's ViT cannot drop the token's pos_embed row and resize 14x14 ->
# 32x32 in one load; SelfPatch checkpoints have no class token). For mmseg's own VisionTransformer
# instead, extract with --vit-layout mmseg and use type='VisionTransformer', patch_bias=True.
# Checkpoint: MMSPATIAL_PRETRAINED=PATH or --cfg-options model.backbone.init_cfg.checkpoint=PATH.
_base_ = 'mmseg::sem_fpn/fpn_r50_4xb4-160k_ade20k-512x512.py'
custom_imports = dict(imports=['mmspatial'], allow_failed_imports=False)

pretrained = '{{$MMSPATIAL_PRETRAINED:MMSPATIAL_PRETRAINED-is-not-set.pth}}'
crop_size = (512, 512)
embed_dims = 384
model = dict(
    pretrained=None,
    backbone=dict(
        _delete_=True,
        type='mmpretrain.VisionTransformer',
        arch='deit-small',  # 384 dims, 12 layers, 6 heads
        img_size=crop_size,
        patch_size=16,
        with_cls_token=False,
        out_type='featmap',
        out_indices=(2, 5, 8, 11),
        final_norm=False,
        drop_path_rate=0.1,
        interpolate_mode='bicubic',
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    neck=dict(in_channels=[embed_dims] * 4))

max_iters = 40000
optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=6e-5, betas=(0.9, 0.999), weight_decay=0.01),
    paramwise_cfg=dict(
        norm_decay_mult=0., custom_keys={
            'pos_embed': dict(decay_mult=0.),
            'cls_token': dict(decay_mult=0.)
        }))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0, end=1500),
    dict(type='PolyLR', eta_min=0., power=1.0, begin=1500, end=max_iters, by_epoch=False)
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=4000)
default_hooks = dict(checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=4000))
auto_scale_lr = dict(enable=False, base_batch_size=32)

train_dataloader = dict(batch_size=4, collate_fn=dict(type='pseudo_collate'))
val_dataloader = dict(collate_fn=dict(type='pseudo_collate'))
test_dataloader = val_dataloader

custom_hooks = [dict(type='CheckpointCoverageHook')]

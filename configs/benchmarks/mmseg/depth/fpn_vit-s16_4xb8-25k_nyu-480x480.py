# Depth estimation on NYU-Depth-v2 with a ViT-S/16 from our checkpoints: the ResNet-50 config here (data, schedule,
# DepthFPNHead, SiLogLoss, DepthMetric; sources there) with the ViT of our ADE20K Semantic FPN config
# (../fpn_vit-s16_8xb4-40k_ade20k-512x512.py: mmpretrain's layout, no class token, drop path 0.1) turned into a
# stride 4/8/16/32 pyramid by ViTSimpleFPN (ViTDet's simple pyramid, Li et al. https://arxiv.org/abs/2203.16527,
# as our Mask R-CNN ViT config) so the same stride-4 decoder runs on both backbones.
# Checkpoint: extract_backbone.py (--branch target for DINO / SelfPatch teachers, --drop-cls-token for DINO), then
# MMSPATIAL_PRETRAINED=PATH or --cfg-options model.backbone.init_cfg.checkpoint=PATH.
_base_ = './fpn_r50_4xb8-25k_nyu-480x480.py'

embed_dims = 384
model = dict(
    backbone=dict(
        _delete_=True,
        type='mmpretrain.VisionTransformer',
        arch='deit-small',  # 384 dims, 12 layers, 6 heads
        img_size={{_base_.crop_size}},
        patch_size=16,
        with_cls_token=False,
        out_type='featmap',
        out_indices=(2, 5, 8, 11),
        final_norm=False,
        drop_path_rate=0.1,
        interpolate_mode='bicubic',
        init_cfg=dict(type='Pretrained', checkpoint={{_base_.pretrained}})),
    neck=[
        # norm_cfg written out: {{_base_.norm_cfg}} would carry a _scope_ key that mmcv's norm layers reject
        dict(
            type='ViTSimpleFPN',
            in_channels=embed_dims,
            scale_factors=(4, 2, 1, 0.5),
            norm_cfg=dict(type='SyncBN', requires_grad=True)),
        dict(type='FPN', in_channels=[embed_dims] * 4, out_channels=256, num_outs=4),
    ])
# ViT fine-tuning: no weight decay on norms and position embeddings (as our ADE20K ViT config)
optim_wrapper = dict(
    paramwise_cfg=dict(
        norm_decay_mult=0., custom_keys={
            'backbone': dict(lr_mult=0.1),
            'pos_embed': dict(decay_mult=0.)
        }))

# SelfPatch ViT-S/16 (alinlab/SelfPatch main_selfpatch.py): ViT-S/16 without class token (position
# embeddings over the patches only, no final norm, stochastic depth 0.1 in the student), class-attention
# aggregation (2 blocks, 6 heads), image head -> 65536 and patch head -> 4096 prototypes, k=4 matched
# neighbours of the 3x3 window (torus borders as the reference), patch loss weight 0.1.
model = dict(
    type='SelfPatch',
    data_preprocessor=dict(
        type='SelfSupDataPreprocessor', mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], to_rgb=True),
    backbone=dict(
        type='VisionTransformer',
        arch='deit-small',
        img_size=224,
        patch_size=16,
        drop_path_rate=0.1,
        with_cls_token=False,
        final_norm=False,
        out_type='featmap'),
    aggregator=dict(type='ClassAttentionAggregator', embed_dims=384, num_heads=6, num_blocks=2),
    neck=dict(type='DINONeck', in_channels=384, out_channels=65536, norm_last_layer=True),
    patch_neck=dict(type='DINONeck', in_channels=384, out_channels=4096, norm_last_layer=True),
    loss=dict(type='DINOLoss', out_channels=65536, student_temp=0.1, teacher_temp=0.04, center_momentum=0.9),
    patch_loss=dict(type='SelfPatchLoss', out_channels=4096, student_temp=0.1, teacher_temp=0.04, center_momentum=0.9),
    patch_loss_weight=0.1,
    num_neighbours=4,
    kernel_size=3,
    wrap_neighbours=True,
    center_on_all_crops=True,
    num_global_crops=2)

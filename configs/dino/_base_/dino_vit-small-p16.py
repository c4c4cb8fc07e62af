# DINO ViT-S/16 (main_dino.py defaults): ViT-S/16 = mmpretrain arch 'deit-small' (384 dims, 12 layers,
# 6 heads; arch='small' is a different, 768-dim model), stochastic depth 0.1 in the student, class
# token output; projection head 384 -> 2048 -> 2048 -> 256 -> 65536 prototypes with weight-normalised,
# norm-fixed last layer (norm_last_layer=True, the default; DINO's README uses False for ViT-S);
# student temperature 0.1, centre momentum 0.9.
# Weight init: mmpretrain's ViT init (DINO uses truncated normal 0.02 for all linear layers).
model = dict(
    type='DINO',
    data_preprocessor=dict(
        type='SelfSupDataPreprocessor', mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], to_rgb=True),
    backbone=dict(
        type='VisionTransformer',
        arch='deit-small',
        img_size=224,
        patch_size=16,
        drop_path_rate=0.1,
        out_type='cls_token'),
    neck=dict(
        type='DINONeck',
        in_channels=384,
        out_channels=65536,
        hidden_channels=2048,
        bottleneck_channels=256,
        norm_last_layer=True),
    loss=dict(type='DINOLoss', out_channels=65536, student_temp=0.1, teacher_temp=0.04, center_momentum=0.9),
    num_global_crops=2)

# Full fine-tuning of a self-supervised ViT-S/16 on a fine-grained dataset (the leaf configs add the data).
# - Model: mmpretrain's VisionTransformer arch='deit-small' (384 dims, 12 layers, 6 heads) with its CLS
#   token, drop path 0.1, final norm, VisionTransformerClsHead on the CLS token (mmpretrain's DeiT).
# - Optimiser: AdamW, weight decay 0.05, no decay on norms / position embedding / CLS token (DeiT, Touvron
#   et al., ICML 2021, Table 9's optimiser); lr 1e-4 for 8 GPUs x 8 images: our choice for a small-batch
#   transfer run, not tuned (the transfer papers tune lr and weight decay per dataset on a validation split).
# - Schedule: mmpretrain's fine-grained one (mmpretrain::_base_/schedules/cub_bs64.py): 5 warm-up epochs,
#   cosine, 100 epochs. Input 224 as in ../resnet50_fine-tune.py.
# Checkpoint: MMSPATIAL_PRETRAINED=PATH. Prefix 'teacher.backbone.' reads the teacher of a DINO /
# SelfPatch checkpoint (what DINO transfers); 'backbone.' for MoCo v3 and SP hosts; None for a backbone
# extracted with tools/model_converters/extract_backbone.py (keep the CLS token: no --drop-cls-token).
_base_ = [
    'mmpretrain::_base_/datasets/imagenet_bs32_pil_resize.py',
    'mmpretrain::_base_/schedules/cub_bs64.py',
    '../../../../_base_/default_runtime.py',
]

pretrained = '{{$MMSPATIAL_PRETRAINED:MMSPATIAL_PRETRAINED-is-not-set.pth}}'
model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='VisionTransformer',
        arch='deit-small',
        img_size=224,
        patch_size=16,
        drop_path_rate=0.1,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='teacher.backbone.')),
    neck=None,
    head=dict(
        type='VisionTransformerClsHead',
        num_classes=1000,
        in_channels=384,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0),
        init_cfg=dict(type='Normal', std=0.01, bias=0., layer='Linear')))

test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='ResizeEdge', scale=256, edge='short', backend='pillow', interpolation='bicubic'),
    dict(type='CenterCrop', crop_size=224),
    dict(type='PackInputs'),
]
train_dataloader = dict(batch_size=8)
val_dataloader = dict(batch_size=8, dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader

optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-4, betas=(0.9, 0.999), weight_decay=0.05),
    paramwise_cfg=dict(
        norm_decay_mult=0., custom_keys={
            'pos_embed': dict(decay_mult=0.),
            'cls_token': dict(decay_mult=0.)
        }))
default_hooks = dict(checkpoint=dict(type='CheckpointHook', interval=10, max_keep_ckpts=3))
custom_hooks = [dict(type='CheckpointCoverageHook')]

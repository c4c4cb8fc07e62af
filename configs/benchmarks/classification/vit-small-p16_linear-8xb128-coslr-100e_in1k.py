# Linear probe of a self-supervised ViT-S/16 on ImageNet-1k, DINO's protocol (facebookresearch/dino
# eval_linear.py, used by SelfPatch too):
# - ViT-S/16 is mmpretrain's arch='deit-small' (384 dims, 12 layers, 6 heads), frozen (frozen_stages=12:
#   patch embedding, position embedding, CLS token, all blocks and the final norm);
# - feature: the CLS tokens of the last 4 blocks, each through the final LayerNorm, concatenated
#   (n_last_blocks=4, no patch-token average: DINO's ViT-S setting) -> 1536 dims (ViTLastBlocks);
# - one Linear 1536 -> 1000, weights N(0, 0.01), bias 0;
# - SGD, lr 0.001 x batch / 256 = 0.004 for 8 GPUs x 128 images, momentum 0.9, no weight decay,
#   cosine to 0 over 100 epochs;
# - RandomResizedCrop 224 + flip for training, resize 256 (bicubic) + centre crop 224 for validation.
# Checkpoint: MMSPATIAL_PRETRAINED=PATH, or --cfg-options model.backbone.init_cfg.checkpoint=PATH.
# The prefix 'teacher.backbone.' reads the teacher of a DINO / SelfPatch checkpoint, which is what
# DINO evaluates (checkpoint_key='teacher'); use model.backbone.init_cfg.prefix=backbone. for an
# online backbone (MoCo v3, SP hosts) and prefix=None for an extracted backbone
# (tools/model_converters/extract_backbone.py --branch target).
_base_ = [
    'mmpretrain::_base_/datasets/imagenet_bs32_pil_resize.py',
    '../../_base_/default_runtime.py',
]

pretrained = '{{$MMSPATIAL_PRETRAINED:MMSPATIAL_PRETRAINED-is-not-set.pth}}'
n_last_blocks = 4
embed_dims = 384
model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='ViTLastBlocks',
        arch='deit-small',
        img_size=224,
        patch_size=16,
        n_last_blocks=n_last_blocks,
        avgpool_patchtokens=False,
        frozen_stages=12,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='teacher.backbone.')),
    head=dict(
        type='LinearClsHead',
        num_classes=1000,
        in_channels=embed_dims * n_last_blocks,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0),
        init_cfg=dict(type='Normal', std=0.01, bias=0., layer='Linear'),
        topk=(1, 5)))

# data: mmpretrain's ImageNet pipelines, with DINO's bicubic resize for validation
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='ResizeEdge', scale=256, edge='short', backend='pillow', interpolation='bicubic'),
    dict(type='CenterCrop', crop_size=224),
    dict(type='PackInputs'),
]
train_dataloader = dict(batch_size=128, num_workers=10)
val_dataloader = dict(batch_size=128, num_workers=10, dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader

# schedule
optim_wrapper = dict(
    type='OptimWrapper', optimizer=dict(type='SGD', lr=0.001 * 8 * 128 / 256, momentum=0.9, weight_decay=0.))
param_scheduler = [dict(type='CosineAnnealingLR', T_max=100, eta_min=0., by_epoch=True, begin=0, end=100)]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=100, val_interval=1)
val_cfg = dict()
test_cfg = dict()
auto_scale_lr = dict(base_batch_size=8 * 128)

default_hooks = dict(checkpoint=dict(type='CheckpointHook', interval=10, max_keep_ckpts=3))
custom_hooks = [dict(type='CheckpointCoverageHook')]

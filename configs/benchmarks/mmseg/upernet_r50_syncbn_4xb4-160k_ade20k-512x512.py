# UperNet R50 on ADE20K (150 classes, 512x512 crops, 160k iterations, 4 GPUs x 4 images; mmseg's
# recipe) initialised from a self-supervised ResNet-50. mmseg's R50 configs use ResNetV1c (deep stem),
# pretrained self-supervised ResNets are plain torchvision-style ResNets: the backbone type is mmseg's
# `ResNet` (single 7x7 stem), everything else (SyncBN, norm_eval=False, strides, dilations) is mmseg's.
# Checkpoint: MMSPATIAL_PRETRAINED=PATH or --cfg-options model.backbone.init_cfg.checkpoint=PATH.
_base_ = 'mmseg::upernet/upernet_r50_4xb4-160k_ade20k-512x512.py'
custom_imports = dict(imports=['mmspatial'], allow_failed_imports=False)

pretrained = '{{$MMSPATIAL_PRETRAINED:MMSPATIAL_PRETRAINED-is-not-set.pth}}'
model = dict(
    pretrained=None,  # mmseg's EncoderDecoder would otherwise replace backbone.init_cfg
    backbone=dict(type='ResNet', init_cfg=dict(type='Pretrained', checkpoint=pretrained)))

# Explicit pseudo_collate: mmseg's default, spelled out because mmpretrain-style train scripts
# (including mmspatial's tools/train.py) default to default_collate.
train_dataloader = dict(collate_fn=dict(type='pseudo_collate'))
val_dataloader = dict(collate_fn=dict(type='pseudo_collate'))
test_dataloader = val_dataloader

custom_hooks = [dict(type='CheckpointCoverageHook')]

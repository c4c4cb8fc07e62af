# FCN R50-D8 semantic segmentation on Cityscapes (19 classes, 512x1024 crops, 40k iterations, 4 GPUs
# x 2 images; mmseg's recipe, the protocol of mmselfsup's Cityscapes benchmark), initialised from a
# self-supervised ResNet-50: mmseg's plain `ResNet` (single 7x7 stem) instead of ResNetV1c, dilated
# last stages and SyncBN as mmseg's config.
# Checkpoint: MMSPATIAL_PRETRAINED=PATH or --cfg-options model.backbone.init_cfg.checkpoint=PATH.
_base_ = 'mmseg::fcn/fcn_r50-d8_4xb2-40k_cityscapes-512x1024.py'
custom_imports = dict(imports=['mmspatial'], allow_failed_imports=False)

pretrained = '{{$MMSPATIAL_PRETRAINED:MMSPATIAL_PRETRAINED-is-not-set.pth}}'
model = dict(pretrained=None, backbone=dict(type='ResNet', init_cfg=dict(type='Pretrained', checkpoint=pretrained)))

train_dataloader = dict(collate_fn=dict(type='pseudo_collate'))
val_dataloader = dict(collate_fn=dict(type='pseudo_collate'))
test_dataloader = val_dataloader

custom_hooks = [dict(type='CheckpointCoverageHook')]

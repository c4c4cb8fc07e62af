# Semantic FPN R50 on ADE20K, 512x512 crops, 40k iterations (the iteration budget of the SelfPatch /
# PVT Semantic FPN protocol), 4 GPUs x 4 images, mmseg's SGD recipe (lr 0.01, poly), SyncBN.
# Backbone: mmseg's plain `ResNet` (not the deep-stem ResNetV1c of mmseg's own R50 configs).
# Checkpoint: MMSPATIAL_PRETRAINED=PATH or --cfg-options model.backbone.init_cfg.checkpoint=PATH.
_base_ = 'mmseg::sem_fpn/fpn_r50_4xb4-160k_ade20k-512x512.py'
custom_imports = dict(imports=['mmspatial'], allow_failed_imports=False)

pretrained = '{{$MMSPATIAL_PRETRAINED:MMSPATIAL_PRETRAINED-is-not-set.pth}}'
model = dict(pretrained=None, backbone=dict(type='ResNet', init_cfg=dict(type='Pretrained', checkpoint=pretrained)))

max_iters = 40000
param_scheduler = [dict(type='PolyLR', eta_min=1e-4, power=0.9, begin=0, end=max_iters, by_epoch=False)]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=4000)
default_hooks = dict(checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=4000))

train_dataloader = dict(collate_fn=dict(type='pseudo_collate'))
val_dataloader = dict(collate_fn=dict(type='pseudo_collate'))
test_dataloader = val_dataloader

custom_hooks = [dict(type='CheckpointCoverageHook')]

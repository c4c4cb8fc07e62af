# Full fine-tuning of a self-supervised ResNet-50 on a fine-grained dataset (the leaf configs add the data).
# - Schedule and optimiser: mmpretrain's own fine-grained recipe (mmpretrain::_base_/schedules/cub_bs64.py,
#   used by mmpretrain::resnet/resnet50_8xb8_cub.py): SGD lr 0.01 for 8 GPUs x 8 images, Nesterov momentum
#   0.9, weight decay 5e-4, 5 warm-up epochs then cosine, 100 epochs. Not tuned per dataset: the transfer
#   papers (Kornblith et al., CVPR 2019; BYOL, Grill et al. 2020, transfer appendix) pick lr and weight
#   decay per dataset on a validation split, so treat these as a fixed, shared default.
# - Input: RandomResizedCrop 224 + flip, resize 256 + centre crop 224 (mmpretrain's ImageNet pipelines,
#   the resolution of Kornblith et al. and of our linear probes), not mmpretrain's 448 px CUB recipe.
# - Every layer trains, BN included (frozen_stages=-1, norm_eval=False).
# Checkpoint: MMSPATIAL_PRETRAINED=PATH; prefix 'backbone.' reads a full pretraining checkpoint's online
# backbone (SCRL, BYOL, SimCLR and their SP variants); --cfg-options model.backbone.init_cfg.prefix=None
# for an extracted backbone. CheckpointCoverageHook stops the run if the backbone was not fully loaded.
_base_ = [
    'mmpretrain::_base_/models/resnet50.py',
    'mmpretrain::_base_/datasets/imagenet_bs32_pil_resize.py',
    'mmpretrain::_base_/schedules/cub_bs64.py',
    '../../../../_base_/default_runtime.py',
]

pretrained = '{{$MMSPATIAL_PRETRAINED:MMSPATIAL_PRETRAINED-is-not-set.pth}}'
model = dict(
    backbone=dict(init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    head=dict(init_cfg=dict(type='Normal', std=0.01, bias=0., layer='Linear')))
train_dataloader = dict(batch_size=8)
val_dataloader = dict(batch_size=8)
test_dataloader = val_dataloader
default_hooks = dict(checkpoint=dict(type='CheckpointHook', interval=10, max_keep_ckpts=3))
custom_hooks = [dict(type='CheckpointCoverageHook')]

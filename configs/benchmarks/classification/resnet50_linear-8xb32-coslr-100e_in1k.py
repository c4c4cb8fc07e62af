# Linear probe of a self-supervised ResNet-50 on ImageNet-1k, mmpretrain's protocol
# (mmpretrain::barlowtwins/benchmarks/resnet50_8xb32-linear-coslr-100e_in1k.py, formerly mmselfsup's
# benchmarks/classification/imagenet/resnet50_linear-8xb32-coslr-100e_in1k.py):
# - backbone frozen (stem + 4 stages, BN in eval mode), global average pooling, one Linear 2048 -> 1000;
# - SGD lr 0.3 for 8 GPUs x 32 images, momentum 0.9, weight decay 1e-6, cosine over 100 epochs;
# - RandomResizedCrop 224 + flip for training, resize 256 + centre crop 224 for validation (pillow).
# Checkpoint: MMSPATIAL_PRETRAINED=PATH, or --cfg-options model.backbone.init_cfg.checkpoint=PATH.
# The prefix 'backbone.' reads a full pretraining checkpoint's online backbone (SCRL, BYOL, SimCLR, and
# their SP variants, which keep the host's layout); for an extracted backbone
# (tools/model_converters/extract_backbone.py) add --cfg-options model.backbone.init_cfg.prefix=None.
# CheckpointCoverageHook stops the run before its first iteration if the backbone was not fully loaded
# (a frozen random backbone would otherwise train quietly to a meaningless number).
_base_ = [
    'mmpretrain::_base_/models/resnet50.py',
    'mmpretrain::_base_/datasets/imagenet_bs32_pil_resize.py',
    'mmpretrain::_base_/schedules/imagenet_sgd_coslr_100e.py',
    '../../_base_/default_runtime.py',
]

pretrained = '{{$MMSPATIAL_PRETRAINED:MMSPATIAL_PRETRAINED-is-not-set.pth}}'
model = dict(
    backbone=dict(frozen_stages=4, init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.')))

# runtime settings (mmpretrain's benchmark: a checkpoint every 10 epochs)
default_hooks = dict(checkpoint=dict(type='CheckpointHook', interval=10, max_keep_ckpts=3))
custom_hooks = [dict(type='CheckpointCoverageHook')]
auto_scale_lr = dict(base_batch_size=256)

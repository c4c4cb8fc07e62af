# Self-supervised transfer protocol shared by the R50 Faster / Mask R-CNN COCO configs (SCRL / MoCo /
# mmpretrain BYOL benchmarks); each config inherits mmdet's detector and this file, and sets SyncBN
# (`norm_cfg`) in backbone, neck and RoI heads, all backbone stages trained (frozen_stages=-1,
# norm_eval=False) and multi-scale training (short side 640-800).
#
# The backbone comes from ONE place, `pretrained` below: the output of
# tools/model_converters/extract_backbone.py, set with the environment variable MMSPATIAL_PRETRAINED or
# `--cfg-options model.backbone.init_cfg.checkpoint=PATH` (a full pretraining checkpoint also works
# with `model.backbone.init_cfg.prefix=backbone.`). CheckpointCoverageHook stops the run before the
# first iteration if the checkpoint does not cover every backbone weight.
custom_imports = dict(imports=['mmspatial'], allow_failed_imports=False)
pretrained = '{{$MMSPATIAL_PRETRAINED:MMSPATIAL_PRETRAINED-is-not-set.pth}}'
norm_cfg = dict(type='SyncBN', requires_grad=True)
custom_hooks = [dict(type='CheckpointCoverageHook')]

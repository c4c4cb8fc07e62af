# Mask R-CNN R50-FPN instance segmentation on Cityscapes (8 classes, mmdet's 8-epoch schedule with
# 1 image/GPU x 8 GPUs), initialised from a self-supervised backbone instead of mmdet's COCO model
# (load_from=None), with the transfer protocol of the COCO configs (SyncBN, all stages trained).
# Evaluation: COCO-style bbox/segm AP on the val split. For the official Cityscapes AP add
# dict(type='CityScapesMetric', seg_prefix=data_root + 'gtFine/val', outfile_prefix=...) to the
# evaluators (needs `pip install cityscapesscripts`).
# Checkpoint: MMSPATIAL_PRETRAINED=PATH or --cfg-options model.backbone.init_cfg.checkpoint=PATH.
_base_ = 'mmdet::cityscapes/mask-rcnn_r50_fpn_1x_cityscapes.py'
custom_imports = dict(imports=['mmspatial'], allow_failed_imports=False)

pretrained = '{{$MMSPATIAL_PRETRAINED:MMSPATIAL_PRETRAINED-is-not-set.pth}}'
norm_cfg = dict(type='SyncBN', requires_grad=True)
model = dict(
    backbone=dict(
        frozen_stages=-1,
        norm_cfg=norm_cfg,
        norm_eval=False,
        init_cfg=dict(_delete_=True, type='Pretrained', checkpoint=pretrained)),
    neck=dict(norm_cfg=norm_cfg),
    roi_head=dict(bbox_head=dict(type='Shared4Conv1FCBBoxHead', norm_cfg=norm_cfg), mask_head=dict(norm_cfg=norm_cfg)))
load_from = None

train_dataloader = dict(collate_fn=dict(type='pseudo_collate'))
val_dataloader = dict(collate_fn=dict(type='pseudo_collate'))
test_dataloader = val_dataloader
data_root = 'data/cityscapes/'  # as in mmdet's cityscapes_instance.py
val_evaluator = dict(
    _delete_=True,
    type='CocoMetric',
    ann_file=data_root + 'annotations/instancesonly_filtered_gtFine_val.json',
    metric=['bbox', 'segm'])
test_evaluator = val_evaluator

custom_hooks = [dict(type='CheckpointCoverageHook')]

# Faster R-CNN R50-FPN 1x on COCO, self-supervised transfer protocol (_base_/transfer_protocol.py).
# Reference: SCRL R50 200 ep -> 40.49 bbox AP (detectron2; docs/transfer.md).
# Checkpoint: MMSPATIAL_PRETRAINED=PATH or --cfg-options model.backbone.init_cfg.checkpoint=PATH.
_base_ = ['mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py', './_base_/transfer_protocol.py']

norm_cfg = _base_.norm_cfg
model = dict(
    backbone=dict(
        frozen_stages=-1,
        norm_cfg=norm_cfg,
        norm_eval=False,
        init_cfg=dict(_delete_=True, type='Pretrained', checkpoint=_base_.pretrained)),
    neck=dict(norm_cfg=norm_cfg),
    roi_head=dict(bbox_head=dict(type='Shared4Conv1FCBBoxHead', norm_cfg=norm_cfg)))

train_pipeline = [
    dict(type='LoadImageFromFile', backend_args=None),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(
        type='RandomChoiceResize',
        scales=[(1333, 640), (1333, 672), (1333, 704), (1333, 736), (1333, 768), (1333, 800)],
        keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs')
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline), collate_fn=dict(type='pseudo_collate'))
val_dataloader = dict(collate_fn=dict(type='pseudo_collate'))
test_dataloader = val_dataloader

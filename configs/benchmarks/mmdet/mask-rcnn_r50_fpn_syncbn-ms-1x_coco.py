# Mask R-CNN R50-FPN 1x on COCO, self-supervised transfer protocol (SCRL / MoCo / mmpretrain BYOL
# benchmarks): SyncBN in backbone, neck and RoI heads, all backbone stages trained (frozen_stages=-1,
# norm_eval=False), multi-scale training (short side 640-800). 8 GPUs x 2 images.
# Reference: SCRL R50 200 ep -> 41.02 bbox AP / 37.50 mask AP (detectron2; docs/transfer.md).
# Protocol constants (checkpoint, SyncBN, coverage hook): _base_/transfer_protocol.py.
_base_ = ['mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py', './_base_/transfer_protocol.py']

norm_cfg = _base_.norm_cfg
model = dict(
    backbone=dict(
        frozen_stages=-1,
        norm_cfg=norm_cfg,
        norm_eval=False,
        init_cfg=dict(_delete_=True, type='Pretrained', checkpoint=_base_.pretrained)),
    neck=dict(norm_cfg=norm_cfg),
    roi_head=dict(bbox_head=dict(type='Shared4Conv1FCBBoxHead', norm_cfg=norm_cfg), mask_head=dict(norm_cfg=norm_cfg)))

train_pipeline = [
    dict(type='LoadImageFromFile', backend_args=None),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(
        type='RandomChoiceResize',
        scales=[(1333, 640), (1333, 672), (1333, 704), (1333, 736), (1333, 768), (1333, 800)],
        keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs')
]
# Explicit pseudo_collate: mmdet's default, spelled out because mmpretrain-style train scripts
# (including mmspatial's tools/train.py) default to default_collate.
train_dataloader = dict(dataset=dict(pipeline=train_pipeline), collate_fn=dict(type='pseudo_collate'))
val_dataloader = dict(collate_fn=dict(type='pseudo_collate'))
test_dataloader = val_dataloader

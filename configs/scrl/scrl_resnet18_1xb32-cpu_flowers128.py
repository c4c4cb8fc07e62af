# SCRL for the CPU-budget learning evidence on ../shared/data/flowers128 (benchmarks/learning/run.py), not
# a reproduction: the BYOL flowers arm (configs/sp/byol_r18_1xb32-cpu_flowers128.py: ResNet-18, 96-px
# views, batch 32, LARS warm-up/constant) with SCRL's box-level loss and heads of the SCRL demo (3x3
# last-stage map at 96 px, boxes of at least 16 px).
_base_ = ['../sp/byol_r18_1xb32-cpu_flowers128.py']
model = dict(
    _delete_=True,
    type='SCRL',
    base_tau=0.99,
    data_preprocessor=_base_.model.data_preprocessor,
    backbone=dict(type='ResNet', depth=18, zero_init_residual=False),
    neck=_base_.model.neck,
    head=dict(_base_.model.head, loss=dict(type='CosineSimilarityLoss', shift_factor=2., scale_factor=2.)),
    box_generator=dict(num_boxes=10, min_size=16, iou_threshold=0.5, max_tries=50),
    roi_align_cfg=dict(output_size=1, spatial_scale=1 / 32, sampling_ratio=-1, aligned=False))
custom_hooks = [dict(type='SCRLTargetMomentumHook')]  # the target momentum's schedule length (required)

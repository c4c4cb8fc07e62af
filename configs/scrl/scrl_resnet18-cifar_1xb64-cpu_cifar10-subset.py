# SCRL for the CPU-budget learning evidence (benchmarks/learning/run.py), not a reproduction: the BYOL arm
# (configs/byol/byol_resnet18-cifar_1xb64-cpu_cifar10-subset.py: backbone, heads, views, LARS schedule)
# with SCRL's box-level loss. CIFAR-stem ResNet-18: the last stage has stride 8, a 4x4 map at 32 px, so
# RoIAlign uses spatial_scale 1/8 and boxes of at least 8 px (one last-stage cell).
_base_ = ['../byol/byol_resnet18-cifar_1xb64-cpu_cifar10-subset.py']
model = dict(
    _delete_=True,
    type='SCRL',
    base_tau=0.99,
    backbone=_base_.model.backbone,
    neck=_base_.model.neck,
    head=dict(_base_.model.head, loss=dict(type='CosineSimilarityLoss', shift_factor=2., scale_factor=2.)),
    box_generator=dict(num_boxes=10, min_size=8, iou_threshold=0.5, max_tries=50),
    roi_align_cfg=dict(output_size=1, spatial_scale=1 / 8, sampling_ratio=-1, aligned=False))
custom_hooks = [dict(type='SCRLTargetMomentumHook')]  # the target momentum's schedule length (required)

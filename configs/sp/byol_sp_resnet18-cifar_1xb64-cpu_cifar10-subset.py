# BYOL + SP for the CPU-budget learning evidence (benchmarks/learning/run.py): the BYOL arm
# (configs/byol/byol_resnet18-cifar_1xb64-cpu_cifar10-subset.py) plus the SP plug-in (./_base_/sp.py),
# with 16-px local views (DINO's local/global size ratio at 32 px), nothing else changed.
_base_ = ['../byol/byol_resnet18-cifar_1xb64-cpu_cifar10-subset.py', './_base_/sp.py']
sp_views = dict(_base_.sp_views, scale=16)
model = dict(
    _delete_=True,
    type='SpatialPrediction',
    host=_base_.model,
    sp_head=_base_.sp_head,
    sp_weight=_base_.sp_weight,
    sp_probe_size=16)
_pipe = _base_.train_dataloader.dataset.pipeline
train_dataloader = dict(
    dataset=dict(
        pipeline=[sp_views, *_pipe[:-1],
                  dict(_pipe[-1], algorithm_keys=[*_pipe[-1].algorithm_keys, *_base_.sp_keys])]))

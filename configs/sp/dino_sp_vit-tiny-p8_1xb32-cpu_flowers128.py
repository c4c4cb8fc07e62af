# DINO + SP for the CPU-budget learning evidence on flowers128: the DINO flowers arm
# (configs/dino/dino_vit-tiny-p8_1xb32-cpu_flowers128.py) plus SP with 32-px local views, nothing else.
_base_ = ['../dino/dino_vit-tiny-p8_1xb32-cpu_flowers128.py', './_base_/sp.py']
sp_views = dict(_base_.sp_views, scale=32)
model = dict(
    _delete_=True,
    type='SpatialPrediction',
    host=_base_.model,
    sp_head=_base_.sp_head,
    sp_weight=_base_.sp_weight,
    sp_probe_size=32)
_pipe = _base_.train_dataloader.dataset.pipeline
train_dataloader = dict(
    dataset=dict(pipeline=[
        _pipe[0], sp_views, *_pipe[1:-1],
        dict(_pipe[-1], algorithm_keys=[*_pipe[-1].get('algorithm_keys', []), *_base_.sp_keys])
    ]))

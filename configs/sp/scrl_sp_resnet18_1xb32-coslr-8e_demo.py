# SCRL + SP demo: configs/scrl/scrl_resnet18_1xb32-coslr-3e_demo.py (ResNet-18, 64-px views of the embedded
# textured scenes with 1-3 small objects, LARS lr 1.0) plus SP with 48-px local views, 8 epochs.
#   python tools/train.py configs/sp/scrl_sp_resnet18_1xb32-coslr-8e_demo.py
_base_ = ['../scrl/scrl_resnet18_1xb32-coslr-3e_demo.py', './_base_/sp.py']
custom_imports = dict(imports=['mmspatial'], allow_failed_imports=False)

sp_views = dict(_base_.sp_views, scale=48)
model = dict(
    _delete_=True,
    type='SpatialPrediction',
    host=_base_.model,
    sp_head=_base_.sp_head,
    sp_weight=_base_.sp_weight,
    sp_probe_size=48)
max_epochs = 8  # the SCRL demo runs 3; this demo keeps its 8 (scheduler and loop restated for the new length)
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-2, by_epoch=True, begin=0, end=1, convert_to_iter_based=True),
    dict(
        type='CosineAnnealingLR',
        T_max=max_epochs - 1,
        by_epoch=True,
        begin=1,
        end=max_epochs,
        convert_to_iter_based=True)
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs)
_pipe = _base_.train_dataloader.dataset.pipeline
_at = 1 if _pipe[0].type == 'LoadImageFromFile' else 0
train_dataloader = dict(
    dataset=dict(pipeline=[
        *_pipe[:_at], sp_views, *_pipe[_at:-1],
        dict(_pipe[-1], algorithm_keys=[*_pipe[-1].get('algorithm_keys', []), *_base_.sp_keys])
    ]))

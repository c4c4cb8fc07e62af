# DINO + SP demo: configs/dino/dino_vit-tiny-p8_1xb32-coslr-10e_demo.py (ViT-tiny/8, 64/32-px crops of the synthetic
# scenes) plus SP with 32-px local views. python tools/train.py configs/sp/dino_sp_vit-tiny-p8_1xb32-coslr-10e_demo.py
_base_ = ['../dino/dino_vit-tiny-p8_1xb32-coslr-10e_demo.py', './_base_/sp.py']
custom_imports = dict(imports=['mmspatial'], allow_failed_imports=False)

sp_views = dict(_base_.sp_views, scale=32)
model = dict(
    _delete_=True,
    type='SpatialPrediction',
    host=_base_.model,
    sp_head=_base_.sp_head,
    sp_weight=_base_.sp_weight,
    sp_probe_size=32)
_pipe = _base_.train_dataloader.dataset.pipeline
_at = 1 if _pipe[0].type == 'LoadImageFromFile' else 0
train_dataloader = dict(
    dataset=dict(pipeline=[
        *_pipe[:_at], sp_views, *_pipe[_at:-1],
        dict(_pipe[-1], algorithm_keys=[*_pipe[-1].get('algorithm_keys', []), *_base_.sp_keys])
    ]))

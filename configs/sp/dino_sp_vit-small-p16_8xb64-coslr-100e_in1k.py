# DINO + SP: our DINO ViT-S/16 config (configs/dino), unchanged, plus the SP plug-in
# (configs/sp/README.md). SP embeds its views with the student backbone's CLS token.
_base_ = ['../dino/dino_vit-small-p16_8xb64-coslr-100e_in1k.py', './_base_/sp.py']
custom_imports = dict(imports=['mmspatial'], allow_failed_imports=False)

model = dict(
    _delete_=True, type='SpatialPrediction', host=_base_.model, sp_head=_base_.sp_head, sp_weight=_base_.sp_weight)
# SP views are sampled right after loading (first, for in-memory datasets), before the host's views;
# the host's PackInputs also packs them. Everything else in the pipeline is the host's.
_pipe = _base_.train_dataloader.dataset.pipeline
_at = 1 if _pipe[0].type == 'LoadImageFromFile' else 0
train_dataloader = dict(
    dataset=dict(pipeline=[
        *_pipe[:_at], _base_.sp_views, *_pipe[_at:-1],
        dict(_pipe[-1], algorithm_keys=[*_pipe[-1].get('algorithm_keys', []), *_base_.sp_keys])
    ]))

# SimCLR + SP: mmpretrain's SimCLR ResNet-50 config, unchanged, plus the SP plug-in
# (configs/sp/README.md).
_base_ = ['mmpretrain::simclr/simclr_resnet50_16xb256-coslr-200e_in1k.py', './_base_/sp.py']
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
# mmpretrain's SimCLR config has no auto_scale_lr; its lr 4.8 is for 16 GPUs x 256 (as BYOL's / MoCo v3's).
auto_scale_lr = dict(base_batch_size=4096)
# mmspatial's reliability hooks, as in configs/_base_/default_runtime.py (the host config uses
# mmpretrain's runtime): NaN/Inf loss guard, generator states in checkpoints, skipped-sample count.
default_hooks = dict(
    nan_guard=dict(type='NaNGuardHook'),
    rng_state=dict(type='RNGStateHook'),
    skipped_samples=dict(type='SkippedSamplesHook'))

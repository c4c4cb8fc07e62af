# Small CPU run (not a reproduction): byol_r18_1xb32-cpu_flowers128.py plus the SP plug-in (defaults of
# ./_base_/sp.py: one pair of 96-px local views per image, smooth-L1, lambda 1), nothing else changed.
#   python tools/train.py configs/sp/byol_sp_r18_1xb32-cpu_flowers128.py --work-dir work_dirs/byol_sp_flowers
# Data and length are overridden as in the host config (FLOWERS128_ROOT, train_cfg.max_iters, ...).
_base_ = ['./byol_r18_1xb32-cpu_flowers128.py', './_base_/sp.py']
custom_imports = dict(imports=['mmspatial'], allow_failed_imports=False)

model = dict(
    _delete_=True, type='SpatialPrediction', host=_base_.model, sp_head=_base_.sp_head, sp_weight=_base_.sp_weight)
# SP views right after loading, before the host's views; the host's PackInputs also packs them.
_pipe = _base_.train_dataloader.dataset.pipeline
_at = 1 if _pipe[0].type == 'LoadImageFromFile' else 0
train_dataloader = dict(
    dataset=dict(pipeline=[
        *_pipe[:_at], _base_.sp_views, *_pipe[_at:-1],
        dict(_pipe[-1], algorithm_keys=[*_pipe[-1].get('algorithm_keys', []), *_base_.sp_keys])
    ]))

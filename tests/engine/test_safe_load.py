"""Checkpoint loading stays ``weights_only=True``: the scoped allow-list, refusals, the per-run trust switch."""
import os
import pickle

import pytest
import torch
from mmengine.config import Config
from mmengine.logging import HistoryBuffer
from mmengine.registry import RUNNERS
from mmengine.runner import Runner
from mmengine.runner.checkpoint import CheckpointLoader, _load_checkpoint, load_from_local
from pickle_attack import WritesMarker
from reliability_utils import ToyModel, toy_runner_cfg

from mmspatial.engine.launch import merge_train_args
from mmspatial.engine.runner import SpatialRunner
from mmspatial.engine.safe_load import (CHECKPOINT_SAFE_GLOBALS, UntrustedCheckpointError, checkpoint_loading,
                                        load_local_checkpoint)


class _WalksGetattr:
    """``getattr(HistoryBuffer, '__init__')``: the first step from an allowed class to ``__globals__``."""

    def __reduce__(self):
        return getattr, (HistoryBuffer, '__init__')


def _evil_checkpoint(tmp_path, payload):
    path = tmp_path / 'evil.pth'
    torch.save(dict(state_dict=ToyModel().state_dict(), meta=dict(x=payload)), path)
    return path


def test_mmengine_checkpoint_loads_inside_the_scope_only(tmp_path):
    path = tmp_path / 'ckpt.pth'  # what mmengine's resume files hold besides tensors
    allowed_before = list(torch.serialization.get_safe_globals())
    hub = HistoryBuffer()
    hub.update(1.5)
    import numpy as np
    torch.save(
        dict(
            state_dict=dict(w=torch.ones(2)),
            message_hub=dict(h=hub),
            meta=dict(arr=np.arange(3, dtype=np.uint32), f=np.float64(2.5))), path)
    ckpt = load_local_checkpoint(str(path))
    assert isinstance(ckpt['message_hub']['h'], HistoryBuffer) and ckpt['message_hub']['h'].current() == 1.5
    assert ckpt['meta']['arr'].tolist() == [0, 1, 2] and ckpt['meta']['f'] == 2.5
    with checkpoint_loading():
        assert torch.equal(_load_checkpoint(str(path))['state_dict']['w'], torch.ones(2))
    # Outside the scope nothing changed: mmengine's loader is back, torch's allow-list is as before.
    assert CheckpointLoader._schemes[''] is load_from_local
    assert torch.serialization.get_safe_globals() == allowed_before
    assert HistoryBuffer not in allowed_before
    with pytest.raises(pickle.UnpicklingError, match='Weights only load failed'):
        _load_checkpoint(str(path))


@pytest.mark.parametrize('via', ['load_local_checkpoint', 'load_from', 'init_cfg'])
def test_checkpoint_that_runs_code_is_refused_and_named(tmp_path, via):
    marker = tmp_path / 'pwned'
    path = _evil_checkpoint(tmp_path, WritesMarker(marker))
    with pytest.raises(UntrustedCheckpointError) as err:
        if via == 'load_local_checkpoint':
            load_local_checkpoint(str(path))
        elif via == 'load_from':
            SpatialRunner(**toy_runner_cfg(tmp_path / 'w', load_from=str(path))).load_or_resume()
        else:
            model = ToyModel()
            model.init_cfg = dict(type='Pretrained', checkpoint=str(path))
            runner = SpatialRunner(**toy_runner_cfg(tmp_path / 'w', model=model))
            runner._init_model_weights()
    msg = str(err.value)
    assert 'posix.system' in msg and str(path) in msg  # the global and the file
    assert f"trusted_checkpoints=['{path}']" in msg and '--trust-checkpoint' in msg
    assert not marker.exists(), 'the checkpoint ran its command'
    assert CheckpointLoader._schemes[''] is load_from_local


def test_trusted_checkpoint_is_unpickled_in_full(tmp_path):
    """Control for the test above: trusting the file really unpickles it (so the refusal is not vacuous)."""
    marker = tmp_path / 'ran'
    path = _evil_checkpoint(tmp_path, WritesMarker(marker))
    runner = SpatialRunner(
        **toy_runner_cfg(tmp_path / 'w', load_from=str(path)), cfg=dict(trusted_checkpoints=[str(path)]))
    runner.load_or_resume()
    assert marker.exists()
    with pytest.raises(TypeError, match='list of paths'):
        SpatialRunner(**toy_runner_cfg(tmp_path / 'w2'), trusted_checkpoints=str(path))


def test_getattr_is_restricted_to_history_buffer_statistics(tmp_path):
    path = _evil_checkpoint(tmp_path, _WalksGetattr())
    with pytest.raises(UntrustedCheckpointError, match=r"getattr\(.*HistoryBuffer.*'__init__'\) is not allowed"):
        load_local_checkpoint(str(path))


def test_allow_list_is_what_it_says():
    names = sorted(
        n if isinstance(n, str) else f'{n.__module__}.{n.__qualname__}'
        for n in (e[1] if isinstance(e, tuple) else e for e in CHECKPOINT_SAFE_GLOBALS))
    assert 'mmengine.logging.history_buffer.HistoryBuffer' in names and 'builtins.getattr' in names
    assert not [n for n in names if n.split('.')[0] in ('os', 'posix', 'subprocess', 'sys', 'importlib')]
    getattr_stand_in = next(e[0] for e in CHECKPOINT_SAFE_GLOBALS if isinstance(e, tuple))
    assert getattr_stand_in is not getattr


@pytest.mark.slow
def test_amp_and_knn_monitor_checkpoint_resumes_with_the_allow_list(tmp_path):
    """Tiny SCRL (the resume cases' config: schedule hooks, reliability hooks) plus the kNN monitor and
    CPU AMP: its checkpoint needs nothing outside the allow-list and resumes; plain torch refuses it."""
    import sys
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', 'distributed'))
    from resume_cases import resume_cfg
    knn_data = dict(
        type='SyntheticScenes',
        img_size=(48, 64),
        pipeline=[dict(type='ResizeWithBox', scale=32, backend='pillow'),
                  dict(type='PackInputs')])
    cfg = resume_cfg('scrl', tmp_path, max_epochs=1, num_images=4)
    cfg.custom_hooks.append(
        dict(
            type='KNNMonitorHook',
            interval=1,
            k=2,
            train_dataloader=dict(batch_size=4, num_workers=0, dataset=dict(knn_data, num_images=8, seed=1)),
            val_dataloader=dict(batch_size=4, num_workers=0, dataset=dict(knn_data, num_images=4, seed=2))))
    cfg = merge_train_args(cfg, config_path='scrl.py', amp=True)
    assert cfg.optim_wrapper.type in ('CPUAmpOptimWrapper', 'AmpOptimWrapper')
    RUNNERS.build(cfg).train()
    ckpt = tmp_path / 'epoch_1.pth'
    loaded = load_local_checkpoint(str(ckpt))
    assert 'loss_scaler' in loaded['optimizer'] and 'rng_state' in loaded
    assert any(k.startswith('knn/') for k in loaded['message_hub']['log_scalars'])
    with torch.serialization.safe_globals(CHECKPOINT_SAFE_GLOBALS):
        assert torch.serialization.get_unsafe_globals_in_checkpoint(str(ckpt)) == []
    with pytest.raises(pickle.UnpicklingError):
        torch.load(ckpt)  # torch's default weights_only load, without mmspatial's allow-list

    cfg.resume = True  # the whole resume path: model, optimiser + loss scaler, schedulers, message hub
    runner = RUNNERS.build(cfg)
    assert isinstance(runner, SpatialRunner)
    runner.load_or_resume()
    assert runner.iter == 1 and 'knn/top1' in runner.message_hub.log_scalars


def test_merge_train_args_selects_spatial_runner_and_adds_trusted_files():
    cfg = Config(dict(model=dict(type='X'), trusted_checkpoints=['/a.pth']))
    cfg = merge_train_args(cfg, config_path='x.py', trust_checkpoints=['/b.pth'])
    assert cfg.runner_type == 'SpatialRunner' and cfg.trusted_checkpoints == ['/a.pth', '/b.pth']
    cfg = merge_train_args(Config(dict(runner_type='Runner')), config_path='x.py')
    assert cfg.runner_type == 'Runner'  # a config's own choice is kept


def test_plain_runner_is_untouched(tmp_path):
    """mmengine's Runner keeps mmengine's loading: no allow-list leaks out of SpatialRunner."""
    runner = SpatialRunner(**toy_runner_cfg(tmp_path / 'a', max_iters=2, ckpt_interval=2))
    runner.train()
    plain = Runner(**toy_runner_cfg(tmp_path / 'b', load_from=str(tmp_path / 'a' / 'iter_2.pth')))
    with pytest.raises(pickle.UnpicklingError, match='Weights only load failed'):
        plain.load_or_resume()

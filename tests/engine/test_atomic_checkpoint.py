"""Atomic checkpoints: a crash during a save never leaves a truncated or missing latest checkpoint."""
import os
import resource
import signal

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner
from mmengine.runner.checkpoint import save_checkpoint as mmengine_save_checkpoint
from reliability_utils import toy_runner_cfg

import mmspatial.engine.atomic_checkpoint as atomic
from mmspatial.engine.runner import SpatialRunner


def _killed_mid_write(save, path, checkpoint, limit_bytes):
    """Run ``save(checkpoint, path)`` in a forked child whose file-size limit kills it mid-write.

    ``RLIMIT_FSIZE`` makes the kernel send SIGXFSZ (default action: terminate) when a write crosses the
    limit: the same state as a pre-empted / OOM-killed trainer halfway through ``f.write``.
    """
    pid = os.fork()
    if pid == 0:  # child
        try:
            signal.signal(signal.SIGXFSZ, signal.SIG_DFL)
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit_bytes, limit_bytes))
            save(checkpoint, str(path))
        finally:
            os._exit(0)
    _, status = os.waitpid(pid, 0)
    return os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGXFSZ


@pytest.mark.parametrize('atomic_save', [True, False], ids=['mmspatial', 'mmengine'])
def test_kill_during_save_keeps_previous_checkpoint(tmp_path, atomic_save):
    path = tmp_path / 'epoch_1.pth'
    old = dict(state_dict=dict(w=torch.zeros(4)), meta=dict(epoch=1))
    atomic.atomic_save_checkpoint(old, str(path))
    new = dict(state_dict=dict(w=torch.ones(200_000)), meta=dict(epoch=2))  # ~800 kB
    save = atomic.atomic_save_checkpoint if atomic_save else mmengine_save_checkpoint
    assert _killed_mid_write(save, path, new, limit_bytes=200_000), 'the child was not killed mid-write'
    if atomic_save:
        loaded = torch.load(path, weights_only=True)
        assert loaded['meta'] == dict(epoch=1) and torch.equal(loaded['state_dict']['w'], torch.zeros(4))
        leftovers = [p.name for p in tmp_path.iterdir() if p.name != 'epoch_1.pth']
        assert all(name.startswith('.epoch_1.pth.tmp-') for name in leftovers)
    else:  # control: mmengine's in-place write leaves a truncated file
        assert path.stat().st_size == 200_000
        with pytest.raises(Exception):
            torch.load(path, weights_only=True)


def test_default_runtime_selects_the_runner_and_the_hook():
    cfg = Config.fromfile(
        os.path.join(os.path.dirname(__file__), '..', '..', 'configs', '_base_', 'default_runtime.py'))
    assert cfg.runner_type == 'SpatialRunner'
    assert cfg.default_hooks.checkpoint.type == 'AtomicCheckpointHook'


def test_exception_during_write_removes_temp_file(tmp_path):

    def failing_writer(data, f):
        f.write(b'x' * 10)
        raise OSError('No space left on device (simulated)')

    with pytest.raises(OSError, match='No space left'):
        atomic.atomic_write_bytes(b'', str(tmp_path / 'a.pth'), writer=failing_writer)
    assert list(tmp_path.iterdir()) == []


class _CrashOnSave:
    """``os.replace`` that fails when the ``n``-th checkpoint file is moved into place."""

    def __init__(self, n):
        self.n, self.seen = n, 0

    def __call__(self, src, dst):
        if str(dst).endswith('.pth'):
            self.seen += 1
            if self.seen == self.n:
                raise OSError('simulated crash while saving a checkpoint')
        return os.rename(src, dst)


@pytest.mark.slow
@pytest.mark.parametrize(
    'runner_cls,hook', [(SpatialRunner, 'AtomicCheckpointHook'), (Runner, 'AtomicCheckpointHook'),
                        (SpatialRunner, 'CheckpointHook')],
    ids=['SpatialRunner', 'mmengine-Runner', 'mmengine-hook-order'])
def test_crash_while_saving_with_max_keep_1_keeps_last_checkpoint(tmp_path, monkeypatch, runner_cls, hook):
    """mmengine's CheckpointHook deletes the old checkpoint *before* writing the new one; ours after."""
    monkeypatch.setattr(atomic.os, 'replace', _CrashOnSave(n=3))
    runner = runner_cls(
        **toy_runner_cfg(tmp_path, max_iters=8, ckpt_interval=2, max_keep_ckpts=1, checkpoint_hook=hook))
    with pytest.raises(OSError, match='simulated crash'):
        runner.train()  # saves iter_2, iter_4, crashes while saving iter_6
    pointer = (tmp_path / 'last_checkpoint').read_text().strip()
    assert not list(tmp_path.glob('.*.tmp-*')), 'temporary file left behind'
    if hook == 'CheckpointHook':  # control: mmengine's order lost iter_4 before iter_6 was written
        assert not (tmp_path / 'iter_4.pth').exists()
        return
    assert pointer.endswith('iter_4.pth')
    assert sorted(p.name for p in tmp_path.glob('*.pth')) == ['iter_4.pth']
    monkeypatch.undo()
    # --resume picks up iteration 4 and trains to the end; max_keep_ckpts still holds.
    runner = SpatialRunner(**toy_runner_cfg(tmp_path, max_iters=8, ckpt_interval=2, max_keep_ckpts=1, resume=True))
    runner.train()
    assert runner.iter == 8
    assert sorted(p.name for p in tmp_path.glob('*.pth')) == ['iter_8.pth']
    assert (tmp_path / 'last_checkpoint').read_text().strip().endswith('iter_8.pth')

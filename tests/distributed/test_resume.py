"""Kill a run right after a checkpoint, ``--resume`` it, and get the uninterrupted run's losses.

For every algorithm: run A trains uninterrupted; run B is a separate process killed with
``os._exit(1)`` right after the checkpoint of epoch 1 (``KillAtIterHook``); B is then resumed
(``resume=True``, what ``tools/train.py --resume`` sets; ``SpatialRunner``, so the checkpoints are
unpickled with ``weights_only=True`` and mmspatial's allow-list) and its per-iteration losses in
``vis_data/scalars.json`` must equal A's. This covers the EMA target / DINO teacher, the DINO centres
(buffers), the optimiser and LR/WD schedules, the teacher-temperature warm-up (mid-warm-up at the
resume point) and the sampler (epoch-seeded order). ``test_resume_mid_epoch`` resumes DINO from an
iteration checkpoint in the middle of an epoch (``InfiniteSampler`` position, teacher momentum).

Tolerance: relative 1e-6 (the same float operations in the same order; deterministic mode).
"""
import json
import multiprocessing
from pathlib import Path

import pytest
import torch
from mmengine.registry import RUNNERS
from resume_cases import resume_cfg, train_until_killed

ALGORITHMS = ['byol', 'simclr', 'scatsimclr_rotation', 'dino', 'selfpatch', 'scrl', 'byol_sp', 'dino_sp']
RTOL = 1e-6


@pytest.fixture(autouse=True)
def _one_thread_and_restore_determinism():
    # One intra-op thread in every run: the runs are then bit-reproducible (with 2 threads on a loaded
    # machine a rare ~1e-7 difference was seen, which Adam amplifies to 1e-3 two steps later).
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(False)  # randomness.deterministic sets it process-wide


def losses(work_dir: Path) -> dict:
    """``{iteration: loss}`` from every ``vis_data/scalars.json`` under ``work_dir``."""
    out = {}
    for path in sorted(work_dir.glob('*/vis_data/scalars.json')):
        for line in path.read_text().splitlines():
            record = json.loads(line)
            if 'loss' in record:
                out[record['step']] = record['loss']
    return out


@pytest.fixture(scope='module')
def fork_server():
    """Processes forked from a server that imported mmspatial but never ran torch ops.

    Forking the pytest process itself can deadlock the child (OpenMP / lock state of threads that do
    not exist in the child); a fresh interpreter per run would re-import everything (~10 s each).
    """
    ctx = multiprocessing.get_context('forkserver')
    ctx.set_forkserver_preload(['mmspatial', 'resume_cases'])
    return ctx


def train_killed(ctx, name, work_dir, kill_at: int, cfg_kwargs: dict) -> int:
    """Train in a separate process that kills itself after iteration ``kill_at``; its exit code."""
    proc = ctx.Process(target=train_until_killed, args=(name, str(work_dir), kill_at, cfg_kwargs))
    proc.start()
    proc.join(timeout=300)
    return proc.exitcode


def check_resume(ctx, tmp_path, name, kill_at, **cfg_kwargs):
    RUNNERS.build(resume_cfg(name, tmp_path / 'a', **cfg_kwargs)).train()
    expected = losses(tmp_path / 'a')
    assert train_killed(ctx, name, tmp_path / 'b', kill_at, cfg_kwargs) == 1
    before = losses(tmp_path / 'b')
    assert max(before) == kill_at, 'the killed run did not stop where it should'
    RUNNERS.build(resume_cfg(name, tmp_path / 'b', resume=True, **cfg_kwargs)).train()
    resumed = {k: v for k, v in losses(tmp_path / 'b').items() if k > kill_at}
    assert sorted(resumed) == [k for k in sorted(expected) if k > kill_at]
    for step, loss in resumed.items():
        assert loss == pytest.approx(expected[step], rel=RTOL), (name, step, loss, expected)
    return expected, resumed


@pytest.mark.slow
@pytest.mark.parametrize('name', ALGORITHMS)
def test_resume_after_kill_matches_uninterrupted(fork_server, tmp_path, name):
    # 4 images, batch 4: one iteration per epoch; killed after epoch 1, compared on iterations 2-3
    # (two iterations, so that the restored optimiser state shows in the second one's loss).
    check_resume(fork_server, tmp_path, name, kill_at=1, max_epochs=3, num_images=4)


@pytest.mark.slow
def test_resume_mid_epoch(fork_server, tmp_path):
    # 8 images, batch 4: the checkpoint of iteration 3 is in the middle of the second pass.
    check_resume(fork_server, tmp_path, 'dino', kill_at=3, max_iters=5, ckpt_iters=3)


@pytest.mark.slow
def test_control_without_rng_state_hook_resume_diverges(fork_server, tmp_path):
    """mmengine alone re-seeds on resume: the augmentations after the resume are not the same."""
    with pytest.raises(AssertionError, match="'byol', 2"):
        check_resume(fork_server, tmp_path, 'byol', kill_at=1, max_epochs=3, num_images=4, rng=False)

"""RNGStateHook pieces and CPU bfloat16 AMP (the end-to-end checks are in tests/distributed/)."""
import logging
import random

import numpy as np
import pytest
import torch
from mmengine.optim import AmpOptimWrapper
from mmengine.registry import OPTIM_WRAPPERS
from mmengine.runner import Runner
from reliability_utils import toy_runner_cfg

from mmspatial.engine.cpu_amp import CPUAmpOptimWrapper, accelerator_available, cpu_bf16_is_fast
from mmspatial.engine.hooks.rng_state_hook import _RestoreAfterSkip, get_rng_state, set_rng_state
from mmspatial.engine.runner import SpatialRunner


def _draw():
    return random.random(), float(np.random.rand()), float(torch.rand(1))


def test_get_set_rng_state_round_trip():
    state = get_rng_state()
    first = _draw()
    set_rng_state(state)
    assert _draw() == first


def test_restore_after_skip_restores_right_before_the_first_new_batch():
    state = get_rng_state()
    expected = _draw()
    inner = iter(range(10))
    wrapped = _RestoreAfterSkip(inner, n_skip=3, state=state)
    assert [next(wrapped) for _ in range(3)] == [0, 1, 2]
    _draw()  # the skipped batches' augmentations advance the generators...
    assert next(wrapped) == 3
    assert _draw() == expected  # ...and the state is back before batch 3 is loaded


@pytest.mark.slow
def test_checkpoint_holds_rng_state_and_load_from_does_not_restore_it(tmp_path):
    runner = Runner(**toy_runner_cfg(tmp_path, max_iters=2, ckpt_interval=2, custom_hooks=[dict(type='RNGStateHook')]))
    runner.train()
    ckpt = torch.load(tmp_path / 'iter_2.pth', weights_only=False)
    assert len(ckpt['rng_state']) == 1 and set(ckpt['rng_state'][0]) >= {'python', 'numpy', 'torch'}
    runner = SpatialRunner(**toy_runner_cfg(
        tmp_path / 'ft', max_iters=2, load_from=str(tmp_path / 'iter_2.pth'), custom_hooks=[dict(type='RNGStateHook')]))
    runner.load_or_resume()
    hook = next(h for h in runner.hooks if type(h).__name__ == 'RNGStateHook')
    assert hook._restore is None  # fine-tuning from a checkpoint keeps the fresh seed


@pytest.mark.skipif(accelerator_available(), reason='CPU-only behaviour')
def test_cpu_amp_optim_wrapper_uses_bfloat16_and_leaves_mmengine_alone():
    model = torch.nn.Linear(4, 2)
    wrapper = OPTIM_WRAPPERS.build(
        dict(
            type='CPUAmpOptimWrapper',
            loss_scale='dynamic',
            dtype='bfloat16',
            optimizer=torch.optim.SGD(model.parameters(), lr=0.1)))
    assert isinstance(wrapper, CPUAmpOptimWrapper) and isinstance(wrapper, AmpOptimWrapper)
    with wrapper.optim_context(model):
        out = model(torch.randn(3, 4))
    assert out.dtype == torch.bfloat16
    before = model.weight.detach().clone()
    wrapper.update_params(out.float().pow(2).mean())
    assert not torch.equal(before, model.weight)
    state = wrapper.state_dict()  # what a checkpoint holds; loads back
    CPUAmpOptimWrapper(optimizer=torch.optim.SGD(model.parameters(), lr=0.1)).load_state_dict(state)
    with pytest.raises(ValueError, match='bfloat16 only'):
        CPUAmpOptimWrapper(optimizer=torch.optim.SGD(model.parameters(), lr=0.1), dtype='float16')
    # mmengine's own wrapper keeps its accelerator check: nothing was patched.
    with pytest.raises(AssertionError, match='only available training on gpu'):
        AmpOptimWrapper(optimizer=torch.optim.SGD(model.parameters(), lr=0.1), dtype='bfloat16')


@pytest.mark.skipif(accelerator_available(), reason='CPU-only behaviour')
def test_cpu_amp_warns_where_the_cpu_has_no_bfloat16_kernels():
    """bf16 on an AVX2-only CPU is correct but slow (measured 100x for a matmul): the log must say so,
    and must not where oneDNN computes bf16."""
    from mmengine.logging import MMLogger
    logger = MMLogger.get_instance('test_cpu_amp_warns', log_level='WARNING')
    warned = []
    handler = logging.Handler()
    handler.emit = lambda record: warned.append(record.getMessage())
    logger.addHandler(handler)
    try:
        CPUAmpOptimWrapper(optimizer=torch.optim.SGD(torch.nn.Linear(2, 2).parameters(), lr=0.1))
    finally:
        logger.removeHandler(handler)
    slow = [m for m in warned if 'no bfloat16 kernels' in m]
    assert len(slow) == (0 if cpu_bf16_is_fast() else 1)
    if slow:
        assert torch.backends.cpu.get_cpu_capability() in slow[0] and 'drop --amp' in slow[0]

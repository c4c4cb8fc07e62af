"""NaNGuardHook: a non-finite loss stops the run, names the iteration and keeps the last good checkpoint."""
import math

import pytest
import torch
from mmengine.runner import Runner
from reliability_utils import toy_runner_cfg

from mmspatial.engine.hooks.nan_guard_hook import NaNGuardHook, NonFiniteLossError, _non_finite


def test_non_finite_detects_nan_and_inf_in_loss_entries_only():
    outputs = dict(loss=torch.tensor(1.), loss_a=torch.tensor(float('inf')), acc=torch.tensor(math.nan))
    assert _non_finite(outputs, None) == ['loss_a=inf']  # 'acc' is not a loss: not checked
    assert _non_finite(outputs, ['acc']) == ['acc=nan']
    assert _non_finite(dict(loss=torch.tensor(2.)), None) == []
    assert _non_finite(dict(loss_list=[torch.tensor(1.), torch.tensor(-math.inf)]), None) == ['loss_list=-inf']


@pytest.mark.slow
def test_nan_stops_run_and_keeps_last_good_checkpoint(tmp_path):
    runner = Runner(
        **toy_runner_cfg(tmp_path, max_iters=6, ckpt_interval=2, nan_at=5, custom_hooks=[dict(type='NaNGuardHook')]))
    with pytest.raises(NonFiniteLossError, match=r'iteration 5\b') as err:
        runner.train()
    assert err.value.iteration == 5
    assert 'loss=nan' in str(err.value) and 'iter_4.pth' in str(err.value)
    # The broken step is never saved: the pointer still names the checkpoint of iteration 4.
    assert (tmp_path / 'last_checkpoint').read_text().strip().endswith('iter_4.pth')
    assert sorted(p.name for p in tmp_path.glob('*.pth')) == ['iter_2.pth', 'iter_4.pth']
    ckpt = torch.load(tmp_path / 'iter_4.pth', map_location='cpu', weights_only=False)
    assert ckpt['meta']['iter'] == 4
    assert all(torch.isfinite(v).all() for v in ckpt['state_dict'].values())


@pytest.mark.slow
def test_nan_at_a_checkpoint_iteration_is_not_saved(tmp_path):
    """Without the guard the NaN parameters of iteration 4 would be written to iter_4.pth."""
    runner = Runner(
        **toy_runner_cfg(tmp_path, max_iters=6, ckpt_interval=2, nan_at=4, custom_hooks=[dict(type='NaNGuardHook')]))
    with pytest.raises(NonFiniteLossError, match='iteration 4'):
        runner.train()
    assert sorted(p.name for p in tmp_path.glob('*.pth')) == ['iter_2.pth']
    # Control: the same run without the guard saves the broken state (so the test above can fail).
    runner = Runner(**toy_runner_cfg(tmp_path / 'unguarded', max_iters=4, ckpt_interval=2, nan_at=4))
    runner.train()
    state = torch.load(tmp_path / 'unguarded' / 'iter_4.pth', weights_only=False)['state_dict']
    assert not torch.isfinite(state['linear.weight']).all()


def test_rejects_bad_interval():
    with pytest.raises(ValueError, match='interval'):
        NaNGuardHook(interval=0)

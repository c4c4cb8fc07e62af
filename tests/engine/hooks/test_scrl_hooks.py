"""SCRLTargetMomentumHook gives the model the run's length before every iteration (real Runners)."""
import os.path as osp
import sys

import pytest
from mmengine.runner import Runner

import mmspatial  # noqa: F401  (registers the hook)

sys.path.insert(0, osp.join(osp.dirname(__file__), '..'))
from reliability_utils import ToyModel, toy_runner_cfg  # noqa: E402


class RecordingModel(ToyModel):
    """The toy model with SCRL's schedule setter; records (calls so far, value) at each set."""

    def __init__(self) -> None:
        super().__init__()
        self.schedule = []

    def set_target_schedule(self, max_iters: int) -> None:
        self.schedule.append((self.calls, max_iters))


@pytest.mark.parametrize('loop', ['iter', 'epoch'])
def test_hook_sets_the_run_length_before_every_iteration(tmp_path, loop):
    model = RecordingModel()
    train_cfg = dict(
        type='IterBasedTrainLoop', max_iters=5) if loop == 'iter' else dict(
            type='EpochBasedTrainLoop', max_epochs=2)  # 8 samples / batch 2 = 4 iterations an epoch
    runner = Runner(**toy_runner_cfg(
        tmp_path,
        model=model,
        train_cfg=train_cfg,
        ckpt_interval=100,
        custom_hooks=[dict(type='SCRLTargetMomentumHook')]))
    runner.train()
    total = 5 if loop == 'iter' else 8
    # before forward k (k calls done so far) the model knows the total
    assert model.schedule == [(k, total) for k in range(total)]


def test_hook_refuses_a_model_without_the_setter_before_training(tmp_path):
    runner = Runner(**toy_runner_cfg(tmp_path, custom_hooks=[dict(type='SCRLTargetMomentumHook')]))
    with pytest.raises(TypeError, match='SCRLTargetMomentumHook needs an SCRL model.*ToyModel'):
        runner.train()
    assert runner.iter == 0 and runner.model.calls == 0

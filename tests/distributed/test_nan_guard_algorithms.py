"""A NaN loss in every algorithm's real training run stops it at that iteration, keeping the last good
checkpoint (the toy-model details of ``NaNGuardHook`` are in ``tests/engine/test_nan_guard_hook.py``).

Each run is the ``resume_cases`` tiny config of the algorithm with the default runtime's hooks (the
NaN guard is on in ``configs/_base_/default_runtime.py``), a checkpoint after every iteration, and a
hook that writes NaN into one backbone weight before iteration 2, as a diverging step would.
"""
import pytest
import torch
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.runner import Runner
from mmpretrain.registry import HOOKS
from resume_cases import resume_cfg

from mmspatial.engine.hooks.nan_guard_hook import NonFiniteLossError

ALGORITHMS = ['byol', 'scatsimclr_rotation', 'dino', 'selfpatch', 'scrl', 'byol_sp', 'dino_sp']


@HOOKS.register_module(force=True)
class PoisonWeightHook(Hook):
    """Sets the first trainable backbone weight to NaN before (1-based) iteration ``at``.

    Trainable: ScatNet's frozen scattering BN is not applied by default (reference), so a NaN there
    would never reach the loss."""

    def __init__(self, at: int = 2) -> None:
        self.at = at

    def before_train_iter(self, runner, batch_idx, data_batch=None) -> None:
        if runner.iter + 1 == self.at:
            model = runner.model.module if is_model_wrapper(runner.model) else runner.model
            backbone = model.host.backbone if hasattr(model, 'host') else model.backbone
            with torch.no_grad():
                next(p for p in backbone.parameters() if p.requires_grad).fill_(float('nan'))


@pytest.mark.slow
@pytest.mark.parametrize('name', ALGORITHMS)
def test_nan_loss_stops_run_with_iteration_and_keeps_last_checkpoint(tmp_path, name):
    cfg = resume_cfg(name, tmp_path, max_iters=3, ckpt_iters=1, rng=False, num_images=4)
    assert cfg.default_hooks.nan_guard.type == 'NaNGuardHook'  # on by default
    cfg.custom_hooks = [h for h in cfg.custom_hooks if h['type'] != 'KillAtIterHook'
                        ] + [dict(type='PoisonWeightHook', at=2)]
    runner = Runner.from_cfg(cfg)
    try:
        with pytest.raises(NonFiniteLossError, match=r'Non-finite loss at iteration 2\b') as err:
            runner.train()
    finally:
        torch.use_deterministic_algorithms(False)
    assert 'iter_1.pth' in str(err.value)
    assert (tmp_path / 'last_checkpoint').read_text().strip().endswith('iter_1.pth')
    assert not (tmp_path / 'iter_2.pth').exists()
    ckpt = torch.load(tmp_path / 'iter_1.pth', map_location='cpu', weights_only=False)
    assert ckpt['meta']['iter'] == 1
    assert all(torch.isfinite(v).all() for v in ckpt['state_dict'].values() if v.is_floating_point())

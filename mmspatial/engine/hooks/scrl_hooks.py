"""Target-momentum schedule hook of SCRL (https://arxiv.org/abs/2103.06122).

Reference: kakaobrain/scrl ``trainer/base.py`` (``_decay_ema_momentum``): after optimiser step ``k`` of
``K`` (the run's total number of steps), ``tau_k = 1 - (1 - base_tau) * (cos(pi * k / K) + 1) / 2``.
The step counter is the target's own (``SCRLTargetNetwork.steps``, saved in checkpoints); this hook
gives the model ``K`` before every training iteration, as mmpretrain's ``DenseCLHook`` sets DenseCL's
``loss_lambda``, so the model never reads runner state itself.
"""
from typing import Optional

from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmpretrain.registry import HOOKS

__all__ = ['SCRLTargetMomentumHook']


@HOOKS.register_module()
class SCRLTargetMomentumHook(Hook):
    """Before every training iteration, call ``model.set_target_schedule(runner.max_iters)``.

    ``runner.max_iters`` is the train loop's length in iterations for epoch- and iteration-based loops
    alike (and after ``--resume``). Works for SCRL and SP-wrapped SCRL (``SpatialPrediction`` with an
    SCRL host is an SCRL subclass). Raises before training if the model has no ``set_target_schedule``
    (a wrong config).
    """

    priority = 'NORMAL'

    @staticmethod
    def _model(runner):
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        if not hasattr(model, 'set_target_schedule'):
            raise TypeError(f'SCRLTargetMomentumHook needs an SCRL model (with set_target_schedule), got '
                            f'{type(model).__name__}')
        return model

    def before_train(self, runner) -> None:
        self._model(runner)

    def before_train_iter(self, runner, batch_idx: int, data_batch: Optional[dict] = None) -> None:
        self._model(runner).set_target_schedule(runner.max_iters)

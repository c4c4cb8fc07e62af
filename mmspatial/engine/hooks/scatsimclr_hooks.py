"""Pretext-loss schedule hook of ScatSimCLR (https://arxiv.org/abs/2108.13939).

The paper turns the pretext regulariser on after 40 epochs (lambda = 0 before); the reference code
(vkinakh/scatsimclr ``src/trainer/pretext_task_trainer.py``) applies it from the start. The schedule's
parameters live on the model (``pretext_start``, ``pretext_start_by``); this hook gives the model the
training progress, as mmpretrain's ``DenseCLHook`` sets DenseCL's ``loss_lambda``, so the model never
reads runner state itself.
"""
from typing import Optional

from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmpretrain.registry import HOOKS

__all__ = ['ScatSimCLRPretextScheduleHook']


@HOOKS.register_module()
class ScatSimCLRPretextScheduleHook(Hook):
    """Before every training iteration, call ``model.set_pretext_progress(runner.epoch, runner.iter)``.

    Works with epoch- and iteration-based loops and after ``--resume`` (the runner restores its epoch
    and iteration counters). Raises if the model has no ``set_pretext_progress`` (a wrong config).
    """

    priority = 'NORMAL'

    def before_train_iter(self, runner, batch_idx: int, data_batch: Optional[dict] = None) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        if not hasattr(model, 'set_pretext_progress'):
            raise TypeError(f'ScatSimCLRPretextScheduleHook needs a ScatSimCLR model, got {type(model).__name__}')
        model.set_pretext_progress(epoch=runner.epoch, iteration=runner.iter)

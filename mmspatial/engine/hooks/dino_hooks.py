"""Training-schedule hooks of DINO (and SelfPatch, which trains the same way).

Reference: ``train_one_epoch`` of ``main_dino.py`` and ``utils.py`` of facebookresearch/dino
(``cosine_scheduler``, ``cancel_gradients_last_layer``, ``clip_gradients``). Every hook works with a
bare model and with a DDP-wrapped one (``mmengine.model.is_model_wrapper``), and counts in
iterations, so it works with epoch- and iteration-based loops alike (an epoch is
``len(runner.train_dataloader)`` iterations, as ``it // niter_per_ep`` in the reference).

The two gradient hooks act between ``backward`` and the parameter update. mmengine's
``OptimWrapper.update_params`` runs backward and step back to back, so they register a
``torch.optim.Optimizer`` step pre-hook: it runs inside ``optimizer.step()``, i.e. after
mmengine's own clipping and, with ``AmpOptimWrapper``, after the gradients are unscaled.
"""
import math
from typing import List, Optional

import numpy as np
import torch
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmpretrain.registry import HOOKS
from torch import nn

from mmspatial.models.losses.dino_loss import CenteredDistillationLoss

__all__ = [
    'teacher_temp_at', 'teacher_momentum_at', 'DINOTeacherTempHook', 'DINOTeacherMomentumHook',
    'DINOFreezeLastLayerHook', 'PerParamGradClipHook'
]


def _unwrap(model: nn.Module) -> nn.Module:
    return model.module if is_model_wrapper(model) else model


def _iters_per_epoch(runner) -> int:
    n = len(runner.train_dataloader)
    if n < 1:
        raise ValueError('the train dataloader is empty: cannot convert epochs to iterations')
    return n


def _optimizer(runner, hook_name: str) -> torch.optim.Optimizer:
    optimizer = getattr(runner.optim_wrapper, 'optimizer', None)
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(f'{hook_name} needs a single OptimWrapper (with .optimizer), got '
                        f'{type(runner.optim_wrapper).__name__}')
    return optimizer


def teacher_temp_at(step: int, warmup_steps: int, warmup_temp: float, temp: float) -> float:
    """Reference schedule: ``np.linspace(warmup_temp, temp, warmup_steps)`` then constant ``temp``."""
    if step < warmup_steps:
        return float(np.linspace(warmup_temp, temp, warmup_steps)[step])
    return float(temp)


def teacher_momentum_at(it: int, max_iters: int, base: float, end: float = 1.) -> float:
    """Reference ``cosine_scheduler(base, end, epochs, niter)[it]``: cosine from ``base`` to ``end``."""
    return end + 0.5 * (base - end) * (1 + math.cos(math.pi * it / max_iters))


@HOOKS.register_module()
class DINOTeacherTempHook(Hook):
    """Set the teacher temperature of every DINO-style loss of the model before each iteration.

    Reference: ``DINOLoss.teacher_temp_schedule``, a linear warm-up from ``warmup_teacher_temp`` to
    ``teacher_temp`` over ``warmup_teacher_temp_epochs`` epochs (``np.linspace``, one value per epoch),
    then constant. DINO's defaults are 0.04 -> 0.04 over 0 epochs (constant 0.04); its README trains
    ViT-S/16 with 0.04 -> 0.07 over 30 epochs. SelfPatch uses the defaults.

    Args:
        warmup_teacher_temp (float): first value. Defaults to 0.04.
        teacher_temp (float): value after warm-up. Defaults to 0.04.
        warmup_epochs (int): warm-up length in epochs (per-epoch steps as the reference).
            Defaults to 0.
        warmup_iters (int, optional): warm-up length in iterations (per-iteration steps) instead.
    """

    priority = 'NORMAL'

    def __init__(self,
                 warmup_teacher_temp: float = 0.04,
                 teacher_temp: float = 0.04,
                 warmup_epochs: int = 0,
                 warmup_iters: Optional[int] = None) -> None:
        if warmup_teacher_temp <= 0 or teacher_temp <= 0:
            raise ValueError(f'teacher temperatures must be > 0, got {warmup_teacher_temp}, '
                             f'{teacher_temp}')
        if warmup_epochs < 0 or (warmup_iters is not None and warmup_iters < 0):
            raise ValueError(f'warm-up lengths must be >= 0, got epochs={warmup_epochs}, '
                             f'iters={warmup_iters}')
        self.warmup_teacher_temp = warmup_teacher_temp
        self.teacher_temp = teacher_temp
        self.warmup_epochs = warmup_epochs
        self.warmup_iters = warmup_iters

    @staticmethod
    def find_losses(model: nn.Module) -> List[CenteredDistillationLoss]:
        return [m for m in _unwrap(model).modules() if isinstance(m, CenteredDistillationLoss)]

    def current_temp(self, runner) -> float:
        if self.warmup_iters is not None:
            return teacher_temp_at(runner.iter, self.warmup_iters, self.warmup_teacher_temp, self.teacher_temp)
        epoch = runner.iter // _iters_per_epoch(runner)
        return teacher_temp_at(epoch, self.warmup_epochs, self.warmup_teacher_temp, self.teacher_temp)

    def before_train(self, runner) -> None:
        if not self.find_losses(runner.model):
            raise RuntimeError('DINOTeacherTempHook: the model has no DINO-style loss '
                               '(CenteredDistillationLoss) whose teacher temperature it could set')

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        temp = self.current_temp(runner)
        for loss in self.find_losses(runner.model):
            loss.teacher_temp = temp
        runner.message_hub.update_scalar('train/teacher_temp', temp)


@HOOKS.register_module()
class DINOTeacherMomentumHook(Hook):
    """EMA update of the teacher after every optimiser step, momentum cosine ``base -> end``.

    Reference: ``momentum_schedule = cosine_scheduler(0.996, 1, epochs, niter)`` and the update
    ``teacher = m * teacher + (1 - m) * student`` right after ``optimizer.step()``, with ``m`` the value
    of the iteration just done. The model must provide ``momentum_update(m)`` (``DINO`` does); a model
    with ``register_teacher_updater`` (``DINO``) is told before training that this hook updates it, and
    refuses to train without it. It updates after every iteration: with gradient accumulation
    (``accumulative_counts > 1``, not used by the reference) the teacher would also move between
    optimiser steps.

    Args:
        base_momentum (float): momentum at the first iteration (DINO 0.996; DINO recommends 0.9995 for
            batch 256). Defaults to 0.996.
        end_momentum (float): momentum approached at the end of training. Defaults to 1.
    """

    priority = 'NORMAL'

    def __init__(self, base_momentum: float = 0.996, end_momentum: float = 1.) -> None:
        if not 0 <= base_momentum <= 1 or not 0 <= end_momentum <= 1:
            raise ValueError(f'momenta must be in [0, 1], got {base_momentum}, {end_momentum}')
        self.base_momentum = base_momentum
        self.end_momentum = end_momentum

    def before_train(self, runner) -> None:
        model = _unwrap(runner.model)
        if not hasattr(model, 'momentum_update'):
            raise TypeError(f'DINOTeacherMomentumHook: {type(model).__name__} has no '
                            'momentum_update(momentum) method')
        if hasattr(model, 'register_teacher_updater'):
            model.register_teacher_updater(type(self).__name__)

    def after_train(self, runner) -> None:
        model = _unwrap(runner.model)
        if hasattr(model, 'register_teacher_updater'):
            model.register_teacher_updater(None)

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        m = teacher_momentum_at(runner.iter, runner.max_iters, self.base_momentum, self.end_momentum)
        _unwrap(runner.model).momentum_update(m)
        runner.message_hub.update_scalar('train/teacher_momentum', m)


@HOOKS.register_module()
class DINOFreezeLastLayerHook(Hook):
    """Drop the gradients of the projection heads' last layer during the first epoch(s).

    Reference ``cancel_gradients_last_layer``: ``p.grad = None`` for every student parameter whose
    name contains ``last_layer``, after clipping and before ``optimizer.step()``; AdamW then leaves
    them (and their optimiser state) untouched, weight decay included.

    Args:
        freeze_epochs (int): epochs to freeze (DINO's ``freeze_last_layer``, 1). Defaults to 1.
        freeze_iters (int, optional): iterations to freeze instead of epochs.
        name_pattern (str): substring of the frozen parameters' names. Defaults to 'last_layer'.
    """

    priority = 'NORMAL'

    def __init__(self,
                 freeze_epochs: int = 1,
                 freeze_iters: Optional[int] = None,
                 name_pattern: str = 'last_layer') -> None:
        if freeze_epochs < 0 or (freeze_iters is not None and freeze_iters < 0):
            raise ValueError(f'freeze lengths must be >= 0, got epochs={freeze_epochs}, '
                             f'iters={freeze_iters}')
        self.freeze_epochs = freeze_epochs
        self.freeze_iters = freeze_iters
        self.name_pattern = name_pattern
        self.frozen = False
        self._params: List[nn.Parameter] = []
        self._handle = None

    def _cancel(self, optimizer, args, kwargs) -> None:
        if self.frozen:
            for p in self._params:
                p.grad = None

    def before_train(self, runner) -> None:
        model = _unwrap(runner.model)
        self._params = [p for n, p in model.named_parameters() if self.name_pattern in n and p.requires_grad]
        if not self._params:
            raise RuntimeError(f'DINOFreezeLastLayerHook: no trainable parameter of '
                               f'{type(model).__name__} has {self.name_pattern!r} in its name')
        self._handle = _optimizer(runner, type(self).__name__).register_step_pre_hook(self._cancel)

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        limit = self.freeze_iters
        if limit is None:
            limit = self.freeze_epochs * _iters_per_epoch(runner)
        self.frozen = runner.iter < limit

    def after_train(self, runner) -> None:
        if self._handle is not None:
            self._handle.remove()
            self._handle = None


@HOOKS.register_module()
class PerParamGradClipHook(Hook):
    """Clip each parameter's gradient to an L2 norm of at most ``max_norm`` (DINO's clipping).

    Reference ``utils.clip_gradients``: every gradient is rescaled on its own by
    ``max_norm / (norm + 1e-6)`` when that is below 1. mmengine's ``clip_grad=dict(max_norm=...)``
    clips the global norm instead, which is a different rule: configs set ``clip_grad=None`` and use
    this hook.

    Args:
        max_norm (float): DINO's ``clip_grad``, 3.0.
    """

    priority = 'NORMAL'

    def __init__(self, max_norm: float = 3.0) -> None:
        if max_norm <= 0:
            raise ValueError(f'max_norm must be > 0, got {max_norm}')
        self.max_norm = max_norm
        self._handle = None

    @torch.no_grad()
    def _clip(self, optimizer, args, kwargs) -> None:
        for group in optimizer.param_groups:
            for p in group['params']:
                if p.grad is None:
                    continue
                coef = self.max_norm / (p.grad.norm(2) + 1e-6)
                p.grad.mul_(coef.clamp(max=1.))

    def before_train(self, runner) -> None:
        self._handle = _optimizer(runner, type(self).__name__).register_step_pre_hook(self._clip)

    def after_train(self, runner) -> None:
        if self._handle is not None:
            self._handle.remove()
            self._handle = None

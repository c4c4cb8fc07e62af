"""SCRL's target network: an EMA of the online network that starts from its own random initialisation.

Reference: kakaobrain/scrl ``trainer/trainer.py`` (``run`` calls ``_initialize_target_network(from_online=
False)``: the target is never copied from the online network) and ``trainer/base.py``
(``_decay_ema_momentum``, ``_update_target_network_parameters``). Paper: `Spatially Consistent
Representation Learning <https://arxiv.org/abs/2103.06122>`_ (Sec. 3, BYOL's target network).
"""
from math import cos, pi
from typing import Optional

import torch
import torch.nn as nn

__all__ = ['SCRLTargetNetwork']


class SCRLTargetNetwork(nn.Module):
    """EMA target with the reference's initialisation and momentum schedule.

    After optimiser step ``k`` (0-based) of ``K`` the reference sets
    ``tau_k = 1 - (1 - base_tau) * (cos(pi * k / K) + 1) / 2`` and updates the parameters
    ``target <- tau_k * target + (1 - tau_k) * online``; buffers (BN statistics) stay the target's own.
    :meth:`update_parameters` is called at the start of every training forward, i.e. after step
    ``s - 1`` on its ``s``-th call, so call ``s >= 1`` applies ``tau_{s-1}`` and call 0 applies nothing
    (``init='random'``, the reference) or copies the online parameters and buffers (``init='online'``,
    mmpretrain BYOL's start). ``K`` is given by :meth:`set_schedule`: in a Runner by
    ``SCRLTargetMomentumHook`` (mmspatial/engine/hooks/scrl_hooks.py, in every SCRL config's
    ``custom_hooks``) before each iteration, so the model reads no runner state; without it the first
    update raises.

    The state dict has the layout of mmengine's averaged models (``steps``, ``module.*``), so checkpoints
    of ``CosineEMA`` targets load.

    Args:
        module (nn.Module): the target's own network, e.g. ``Sequential(backbone, neck)`` built from the
            online configs (for ``init='random'`` it must not share tensors with the online network).
        base_tau (float): ``tau`` at step 0, in ``[0, 1)`` (0.97 or 0.996 in the reference).
        init (str): ``'random'`` (reference) or ``'online'``. Defaults to ``'random'``.
    """

    INIT = ('random', 'online')

    def __init__(self, module: nn.Module, base_tau: float, init: str = 'random') -> None:
        super().__init__()
        if init not in self.INIT:
            raise ValueError(f'target init must be one of {self.INIT}, got {init!r}')
        if not 0 <= base_tau < 1:
            raise ValueError(f'base_tau must be in [0, 1), got {base_tau}')
        self.module = module.requires_grad_(False)
        self.base_tau = base_tau
        self.init = init
        self.register_buffer('steps', torch.tensor(0, dtype=torch.long))
        self.max_iters: Optional[int] = None  # K, set by set_schedule (not state: the run's length)

    def set_schedule(self, max_iters: int) -> None:
        """Set ``K``, the number of optimiser steps the momentum anneals over (the run's ``max_iters``)."""
        if isinstance(max_iters, bool) or not isinstance(max_iters, int) or max_iters < 1:
            raise ValueError(f'SCRL target schedule: max_iters must be an int >= 1, got {max_iters!r}')
        self.max_iters = max_iters

    def init_weights(self) -> None:
        """Initialise the target's own weights (``init='random'``) with the modules' ``init_cfg``s.

        Called by the algorithm's ``init_weights``; with ``init='online'`` the weights are overwritten
        at the first update, so nothing is done.
        """
        if self.init != 'random':
            return
        for child in self.module.children():
            if hasattr(child, 'init_weights') and not getattr(child, 'is_init', False):
                child.init_weights()

    def tau(self, step: int, max_iters: int) -> float:
        """Reference ``_decay_ema_momentum(step)``."""
        return 1 - (1 - self.base_tau) * (cos(pi * step / max_iters) + 1) / 2

    @torch.no_grad()
    def update_parameters(self, online: nn.Module) -> None:
        """One EMA update towards ``online`` (same structure as :attr:`module`); see the class doc."""
        if self.max_iters is None:  # checked from the first step on, when a missing hook is cheap to fix
            raise RuntimeError(
                "SCRL's target EMA has no momentum schedule: nothing set its length. Add "
                "dict(type='SCRLTargetMomentumHook') to the config's `custom_hooks` (the SCRL configs have it; "
                'a `custom_hooks` list in a config replaces its _base_\'s list); a hand-written loop calls '
                'model.set_target_schedule(max_iters) before its first step.')
        step = int(self.steps)
        if step == 0:
            if self.init == 'online':
                self.module.load_state_dict(online.state_dict())
        else:
            tau = self.tau(step - 1, self.max_iters)
            targets = [p.data for p in self.module.parameters()]
            sources = list(online.parameters())
            if len(sources) != len(targets):
                raise RuntimeError(f'target ({len(targets)}) and online ({len(sources)}) networks have '
                                   'different numbers of parameters')
            sources = [p.data.to(t.device) for p, t in zip(sources, targets)]
            torch._foreach_mul_(targets, tau)
            torch._foreach_add_(targets, sources, alpha=1 - tau)
        self.steps += 1

    def forward(self, *args, **kwargs):
        return self.module(*args, **kwargs)

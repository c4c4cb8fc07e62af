"""LARS as kakaobrain/scrl trains with it: ``torchlars.LARS`` around ``torch.optim.SGD``, two groups.

References: kakaobrain/torchlars ``torchlars/lars.py`` and ``torchlars/adaptive_lr.cc`` (v0.1.2),
kakaobrain/scrl ``optim/optim.py`` (``CustomLARS``) and ``optim/getters.py``
(``bisect_params_with_names``, ``get_optimizer_and_scheduler``). LARS paper:
`Large Batch Training of Convolutional Networks <https://arxiv.org/abs/1708.03888>`_.

How it differs from mmpretrain's ``LARS`` (the numbers are in configs/scrl/README.md):

- momentum is kept on the lr-free update and the current lr multiplies the whole buffer (SGD's form);
  mmpretrain accumulates ``lr * update`` instead, which differs whenever the lr changes (warm-up, cosine);
- parameters of a group without LARS adaptation are scaled by ``lr`` before SGD scales them by ``lr``
  again, so their step is ``lr**2 * grad`` (``excluded_lr='squared'``, the reference's behaviour);
  ``excluded_lr='linear'`` gives them a plain SGD step ``lr * grad``;
- the update runs on whole groups with ``torch._foreach_*`` ops and computes the trust ratios as tensors
  (no host synchronisation per parameter); :class:`LARSParamGroupsConstructor` builds the reference's two
  groups instead of one group per parameter.
"""
import inspect
from collections import defaultdict
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from mmengine.optim import DefaultOptimWrapperConstructor, OptimWrapper
from mmpretrain.registry import OPTIM_WRAPPER_CONSTRUCTORS, OPTIM_WRAPPERS, OPTIMIZERS
from torch import Tensor
from torch.optim.optimizer import Optimizer

__all__ = ['TorchLARS', 'LARSParamGroupsConstructor', 'bisect_params_by_name']


@OPTIMIZERS.register_module()
class TorchLARS(Optimizer):
    """LARS over SGD with momentum, exactly as ``torchlars.LARS(SGD(...))`` with scrl's ``CustomLARS``.

    For each parameter ``p`` with gradient ``g`` in a group with ``lr``, ``weight_decay`` ``wd`` and
    ``momentum`` ``mu``::

        a   = trust_coef * |p| / (|g| + wd * |p| + eps)     if |p| > 0 and |g| > 0, else 1
              (a group with lars_adaptation=False: a = lr, or 1 with excluded_lr='linear')
        u   = a * (g + wd * p)
        buf = u at the first step, then mu * buf + (1 - dampening) * u
        p   = p - lr * buf                  (nesterov: p - lr * (u + mu * buf))

    A group's ``lars_adaptation`` (scrl's key) defaults to True; mmpretrain's ``lars_exclude=True``
    (set by ``paramwise_cfg.custom_keys``) is read as ``lars_adaptation=False``. As in torchlars, the
    gradients are overwritten: after the step ``p.grad`` holds ``u``.

    Args:
        params (iterable): parameters or parameter groups.
        lr (float): learning rate.
        momentum (float): SGD momentum. Defaults to 0.
        dampening (float): SGD dampening. Defaults to 0.
        weight_decay (float): weight decay, added to the gradient before the LARS scaling. Defaults to 0.
        nesterov (bool): SGD's Nesterov momentum. Defaults to False.
        trust_coef (float): LARS trust coefficient (torchlars ``trust_coef``). Defaults to 1e-3.
        eps (float): added to the trust-ratio denominator. Defaults to 1e-8 (torchlars).
        excluded_lr (str): step of parameters without adaptation: ``'squared'`` (``lr**2 * g``, the
            reference through torchlars + CustomLARS) or ``'linear'`` (``lr * g``). Defaults to
            ``'squared'``.
    """

    EXCLUDED_LR = ('squared', 'linear')

    def __init__(self,
                 params: Iterable,
                 lr: float,
                 momentum: float = 0.,
                 dampening: float = 0.,
                 weight_decay: float = 0.,
                 nesterov: bool = False,
                 trust_coef: float = 1e-3,
                 eps: float = 1e-8,
                 excluded_lr: str = 'squared') -> None:
        if lr < 0 or momentum < 0 or weight_decay < 0:
            raise ValueError(f'TorchLARS: lr={lr}, momentum={momentum} and weight_decay={weight_decay} '
                             'must be >= 0')
        if trust_coef < 0 or eps < 0:
            raise ValueError(f'TorchLARS: trust_coef={trust_coef} and eps={eps} must be >= 0')
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError('TorchLARS: nesterov needs momentum > 0 and dampening = 0')
        if excluded_lr not in self.EXCLUDED_LR:
            raise ValueError(f'TorchLARS: excluded_lr must be one of {self.EXCLUDED_LR}, got {excluded_lr!r}')
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay, nesterov=nesterov)
        super().__init__(params, defaults)
        self.trust_coef = trust_coef
        self.eps = eps
        self.excluded_lr = excluded_lr
        for group in self.param_groups:
            self._adapts(group)  # fail at construction on contradictory keys

    @staticmethod
    def _adapts(group: dict) -> bool:
        adapt = bool(group.get('lars_adaptation', True))
        if 'lars_exclude' in group:
            if 'lars_adaptation' in group and adapt == bool(group['lars_exclude']):
                raise ValueError(f"TorchLARS: a parameter group sets lars_adaptation={adapt} and "
                                 f"lars_exclude={group['lars_exclude']}")
            adapt = not group['lars_exclude']
        return adapt

    def _scales(self, group: dict, params: List[Tensor], grads: List[Tensor]):
        """Per-parameter scale ``a`` (a tuple of 0-d tensors) or one float for the whole bucket."""
        if not self._adapts(group):
            return group['lr'] if self.excluded_lr == 'squared' else 1.
        wd = group['weight_decay']
        p_norm = torch.stack(torch._foreach_norm(params))
        g_norm = torch.stack(torch._foreach_norm(grads))
        # same operation order as torchlars' compute_adaptive_lr
        trust = p_norm / (g_norm + wd * p_norm + self.eps) * self.trust_coef
        trust = torch.where((p_norm > 0) & (g_norm > 0), trust, torch.ones_like(trust))
        return trust.unbind(0)

    @torch.no_grad()
    def step(self, closure: Optional[Callable[[], Tensor]] = None) -> Optional[Tensor]:
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            buckets: Dict[Tuple, List[Tensor]] = defaultdict(list)
            for p in group['params']:
                if p.grad is None:
                    continue
                if p.grad.is_sparse:
                    raise RuntimeError('TorchLARS does not support sparse gradients')
                buckets[(p.device, p.dtype)].append(p)
            for params in buckets.values():
                self._update(group, params)
        return loss

    def _update(self, group: dict, params: List[Tensor]) -> None:
        lr, wd, mu = group['lr'], group['weight_decay'], group['momentum']
        grads = [p.grad for p in params]
        scales = self._scales(group, params, grads)
        # in place, as torchlars (it leaves a * (g + wd * p) in p.grad): no model-sized temporaries,
        # whose first-touch page faults cost more than the whole update on CPU
        if wd != 0:
            torch._foreach_add_(grads, params, alpha=wd)
        if not (isinstance(scales, float) and scales == 1.):
            torch._foreach_mul_(grads, scales)
        step = grads
        if mu != 0:
            bufs, old_bufs, old_grads = [], [], []
            for p, u in zip(params, grads):
                state = self.state[p]
                if 'momentum_buffer' not in state:
                    state['momentum_buffer'] = u.clone()
                else:
                    old_bufs.append(state['momentum_buffer'])
                    old_grads.append(u)
                bufs.append(state['momentum_buffer'])
            if old_bufs:
                torch._foreach_mul_(old_bufs, mu)
                torch._foreach_add_(old_bufs, old_grads, alpha=1 - group['dampening'])
            if group['nesterov']:
                step = torch._foreach_add(grads, bufs, alpha=mu)
            else:
                step = bufs
        torch._foreach_add_(params, step, alpha=-lr)


def bisect_params_by_name(model: nn.Module,
                          exclude_keywords: Sequence[str] = ('bn', 'bias'),
                          rename: Optional[Dict[str, str]] = None) -> Tuple[List[Tensor], List[Tensor]]:
    """``(adapted, excluded)`` trainable parameters, by scrl's ``bisect_params_with_names`` rule.

    A parameter is excluded when its name contains any of ``exclude_keywords``. The rule is applied to
    the name after ``rename`` (each ``{ours: reference}`` substring replaced once), so that it sees the
    reference's module names where ours differ (``backbone.bn1.`` is torchvision's ``encoder.1.``).
    Parameters that do not require gradients are left out.
    """
    adapted, excluded = [], []
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        for ours, theirs in (rename or {}).items():
            if ours in name:
                name = name.replace(ours, theirs, 1)
        (excluded if any(k in name for k in exclude_keywords) else adapted).append(param)
    return adapted, excluded


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class LARSParamGroupsConstructor(DefaultOptimWrapperConstructor):
    """The two parameter groups of kakaobrain/scrl ``optim/getters.py`` (see :func:`bisect_params_by_name`).

    ``[{'params': adapted, 'lars_adaptation': True}, {'params': excluded, 'lars_adaptation': False,
    'weight_decay': 0.}]``; the optimiser's ``weight_decay`` applies to the first group. Configure with
    ``paramwise_cfg=dict(exclude_keywords=('bn', 'bias'), rename={...})`` (both optional).
    """

    KEYS = ('exclude_keywords', 'rename')

    def __call__(self, model: nn.Module) -> OptimWrapper:
        unknown = set(self.paramwise_cfg) - set(self.KEYS)
        if unknown:
            raise ValueError(f'LARSParamGroupsConstructor: unknown paramwise_cfg keys {sorted(unknown)}; '
                             f'it takes only {list(self.KEYS)} (custom_keys would make one group per '
                             'parameter; use the DefaultOptimWrapperConstructor for that)')
        if hasattr(model, 'module'):
            model = model.module
        adapted, excluded = bisect_params_by_name(model,
                                                  tuple(self.paramwise_cfg.get('exclude_keywords', ('bn', 'bias'))),
                                                  dict(self.paramwise_cfg.get('rename', {})))
        groups = [dict(params=adapted, lars_adaptation=True)]
        if excluded:
            groups.append(dict(params=excluded, lars_adaptation=False, weight_decay=0.))
        optim_wrapper_cfg = self.optim_wrapper_cfg.copy()
        optim_wrapper_cfg.setdefault('type', 'OptimWrapper')
        optimizer_cfg = self.optimizer_cfg.copy()
        optimizer_cls = optimizer_cfg['type']
        if isinstance(optimizer_cls, str):
            with OPTIMIZERS.switch_scope_and_registry(None) as registry:
                optimizer_cls = registry.get(optimizer_cls)
        first_arg = next(iter(inspect.signature(optimizer_cls).parameters))
        optimizer_cfg[first_arg] = groups
        optimizer = OPTIMIZERS.build(optimizer_cfg)
        return OPTIM_WRAPPERS.build(optim_wrapper_cfg, default_args=dict(optimizer=optimizer))

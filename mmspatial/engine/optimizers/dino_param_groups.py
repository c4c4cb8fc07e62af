"""DINO's two optimiser parameter groups.

Reference: ``get_params_groups`` in ``utils.py`` of facebookresearch/dino: parameters whose name ends
in ``.bias`` or that are 1-D (LayerNorm weights...) get no weight decay, all others the scheduled one.
Unlike mmengine's ``paramwise_cfg`` (one group per parameter, and a warning for every frozen
parameter), this gives exactly the reference's two groups and silently leaves out parameters that do
not require gradients (the EMA teacher, a fixed ``weight_g``).
"""
import inspect
from typing import List

import torch.nn as nn
from mmengine.optim import DefaultOptimWrapperConstructor, OptimWrapper
from mmpretrain.registry import OPTIM_WRAPPER_CONSTRUCTORS, OPTIM_WRAPPERS, OPTIMIZERS

__all__ = ['DINOParamGroupsConstructor', 'dino_param_groups']


def dino_param_groups(model: nn.Module) -> List[dict]:
    """``[{'params': regularised}, {'params': not_regularised, 'weight_decay': 0.}]``."""
    regularised, not_regularised = [], []
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        if name.endswith('.bias') or param.ndim == 1:
            not_regularised.append(param)
        else:
            regularised.append(param)
    return [dict(params=regularised), dict(params=not_regularised, weight_decay=0.)]


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class DINOParamGroupsConstructor(DefaultOptimWrapperConstructor):
    """Optimiser wrapper constructor with DINO's parameter groups (see the module docstring).

    Use as ``optim_wrapper = dict(constructor='DINOParamGroupsConstructor', optimizer=...)``; the
    optimiser's ``weight_decay`` applies to the first group and a ``CosineAnnealingParamScheduler``
    with ``param_name='weight_decay', eta_min_ratio=...`` schedules it while the second stays at 0.
    """

    def __call__(self, model: nn.Module) -> OptimWrapper:
        if self.paramwise_cfg:
            raise ValueError('DINOParamGroupsConstructor defines the parameter groups itself; remove '
                             f'paramwise_cfg={dict(self.paramwise_cfg)} from optim_wrapper')
        if hasattr(model, 'module'):
            model = model.module
        optim_wrapper_cfg = self.optim_wrapper_cfg.copy()
        optim_wrapper_cfg.setdefault('type', 'OptimWrapper')
        optimizer_cfg = self.optimizer_cfg.copy()
        optimizer_cls = optimizer_cfg['type']
        if isinstance(optimizer_cls, str):
            with OPTIMIZERS.switch_scope_and_registry(None) as registry:
                optimizer_cls = registry.get(optimizer_cls)
        first_arg = next(iter(inspect.signature(optimizer_cls).parameters))
        optimizer_cfg[first_arg] = dino_param_groups(model)
        optimizer = OPTIMIZERS.build(optimizer_cfg)
        return OPTIM_WRAPPERS.build(optim_wrapper_cfg, default_args=dict(optimizer=optimizer))

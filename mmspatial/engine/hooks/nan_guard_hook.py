"""Stop training at the first non-finite loss, before anything saves the broken state."""
import math
from typing import Dict, List, Optional, Sequence

import torch
from mmengine.dist import all_reduce, get_dist_info
from mmengine.hooks import Hook
from mmpretrain.registry import HOOKS

__all__ = ['NaNGuardHook', 'NonFiniteLossError']


class NonFiniteLossError(FloatingPointError):
    """Raised by :class:`NaNGuardHook`; carries the (1-based) iteration where the loss went bad."""

    def __init__(self, message: str, iteration: int) -> None:
        super().__init__(message)
        self.iteration = iteration


def _non_finite(outputs: Dict, keys: Optional[Sequence[str]]) -> List[str]:
    """``name=value`` for every checked loss entry of ``outputs`` that is NaN or +-Inf."""
    bad = []
    for name, value in outputs.items():
        if keys is None and 'loss' not in name or keys is not None and name not in keys:
            continue
        values = value if isinstance(value, (list, tuple)) else [value]
        for v in values:
            v = v.detach().float() if isinstance(v, torch.Tensor) else torch.tensor(float(v))
            if not bool(torch.isfinite(v).all()):
                bad.append(f'{name}={v.flatten()[~torch.isfinite(v.flatten())][0].item()}')
                break
    return bad


@HOOKS.register_module()
class NaNGuardHook(Hook):
    """Raise :class:`NonFiniteLossError` when a loss of the training step is NaN or Inf.

    Runs in ``after_train_iter`` with ``VERY_HIGH`` priority, i.e. before ``CheckpointHook``
    (``VERY_LOW``) and ``LoggerHook``: the step's parameters (already updated from non-finite gradients)
    are never written to a checkpoint, and ``last_checkpoint`` keeps pointing at the last good one. All
    ranks take the decision together (one ``all_reduce`` per check), so in DDP every process stops at
    the same iteration instead of the healthy ranks hanging in the next collective.

    Args:
        keys (Sequence[str], optional): names in the step's ``outputs`` (the log variables) to check.
            Default: every entry whose name contains ``'loss'`` (as mmengine's ``parse_losses``).
        interval (int): check every ``interval`` iterations. Default 1 (the check is one scalar
            all-reduce; a larger interval means a NaN can go unnoticed for ``interval - 1`` steps,
            but still never reaches a checkpoint saved at a multiple of ``interval``).
    """

    priority = 'VERY_HIGH'

    def __init__(self, keys: Optional[Sequence[str]] = None, interval: int = 1) -> None:
        if interval < 1:
            raise ValueError(f'NaNGuardHook: interval must be >= 1, got {interval}')
        self.keys = list(keys) if keys is not None else None
        self.interval = interval

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs: Optional[Dict] = None) -> None:
        if not self.every_n_train_iters(runner, self.interval) or outputs is None:
            return
        bad = _non_finite(outputs, self.keys)
        rank, world_size = get_dist_info()
        flags = torch.zeros(world_size)
        flags[rank] = float(bool(bad))
        if world_size > 1:
            all_reduce(flags)  # every rank learns which ranks saw a bad loss
        if not bool(flags.any()):
            return
        iteration = runner.iter + 1  # 1-based, as in the log lines "Iter(train) [k/N]"
        bad_ranks = [r for r in range(world_size) if flags[r] > 0]
        last = runner.message_hub.get_info('last_ckpt', None)
        where = f'rank {rank}: {", ".join(bad)}' if bad else f'reported by rank(s) {bad_ranks}'
        epoch = f', epoch {runner.epoch + 1}' if hasattr(runner.train_loop, 'max_epochs') else ''
        lr = ''
        try:
            lrs = runner.optim_wrapper.get_lr()
            first = next(iter(lrs.values()))
            lr = f' (lr {first[0]:.3g})' if first and math.isfinite(first[0]) else ''
        except Exception:  # noqa: BLE001  (only decorates the message)
            pass
        raise NonFiniteLossError(
            f'Non-finite loss at iteration {iteration}{epoch}{lr} ({where}); training stopped. '
            f'This step was not saved. Last good checkpoint: {last or "none saved yet"} '
            '(--resume continues from it). Usual causes: learning rate too high for the batch size, '
            'no gradient clipping, fp16 overflow, or a degenerate input batch.', iteration)

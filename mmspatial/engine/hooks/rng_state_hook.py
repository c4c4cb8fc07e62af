"""Checkpoint the random-number generators, so a resumed run continues the uninterrupted one exactly.

mmengine 0.10.7 seeds the generators once, at start-up, and does not save them: after ``--resume`` the
augmentations (numpy / python ``random`` / torch in the data pipeline) and the model's own randomness
(stochastic depth, SCRL's box sampling, ...) restart from the seed instead of continuing, so a resumed
run diverges from the uninterrupted one at the first iteration (``tests/distributed/test_resume.py``).

:class:`RNGStateHook` stores the python, numpy, torch (and CUDA) generator states of every rank in the
checkpoint (``checkpoint['rng_state']``, one entry per rank) and restores them when resuming, at the
point where the uninterrupted run was: before the next epoch (epoch-based loops), or, for
``IterBasedTrainLoop``, after mmengine has skipped the already-trained batches (the skip draws
augmentations too), right before the first new batch is loaded.

Limits: with ``num_workers > 0`` the augmentations run in worker processes, whose generators mmengine
re-seeds (``worker_init_fn``) when they start; those streams cannot be restored, so exact equality after a
resume needs ``num_workers=0`` (the model-side randomness is restored either way). Resuming on a
different number of ranks restores nothing (with a warning).
"""
import logging
import random
from typing import Any, Dict, List, Optional

import numpy as np
import torch
from mmengine.dist import all_gather_object, get_dist_info
from mmengine.hooks import CheckpointHook, Hook
from mmengine.logging import print_log
from mmpretrain.registry import HOOKS

__all__ = ['RNGStateHook', 'get_rng_state', 'set_rng_state']


def get_rng_state() -> Dict[str, Any]:
    state = dict(python=random.getstate(), numpy=np.random.get_state(), torch=torch.get_rng_state())
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state['cuda'] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: Dict[str, Any]) -> None:
    random.setstate(state['python'])
    np.random.set_state(state['numpy'])
    torch.set_rng_state(state['torch'])
    if state.get('cuda') is not None and torch.cuda.is_available() \
            and len(state['cuda']) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(state['cuda'])


class _RestoreAfterSkip:
    """Wraps ``IterBasedTrainLoop.dataloader_iterator``: restores the generator state right before the
    first batch after mmengine's ``n_skip`` skipped ones."""

    def __init__(self, inner, n_skip: int, state: Dict[str, Any]) -> None:
        self.inner, self.n_skip, self.state = inner, n_skip, state

    def __iter__(self):
        return self

    def __next__(self):
        if self.n_skip == 0 and self.state is not None:
            set_rng_state(self.state)
            self.state = None
        self.n_skip = max(self.n_skip - 1, 0)
        return next(self.inner)

    def __getattr__(self, name: str):
        return getattr(self.inner, name)


@HOOKS.register_module()
class RNGStateHook(Hook):
    """Save every rank's generator states in checkpoints; restore them on resume (see module doc)."""

    priority = 'LOW'  # after_train_iter/epoch: before CheckpointHook (VERY_LOW) writes the checkpoint

    def __init__(self) -> None:
        self._pending: Optional[List[Dict[str, Any]]] = None
        self._restore: Optional[List[Dict[str, Any]]] = None

    # ---------------------------------------------------------------------------- saving
    @staticmethod
    def _checkpoint_due(runner, by_epoch: bool) -> bool:
        """Whether a CheckpointHook saves in this after_train_iter / after_train_epoch (mmengine 0.10.7)."""
        for hook in runner.hooks:
            if not isinstance(hook, CheckpointHook) or hook.by_epoch != by_epoch:
                continue
            if by_epoch and (hook.every_n_epochs(runner, hook.interval, hook.save_begin)
                             or hook.save_last and hook.is_last_train_epoch(runner)):
                return True
            if not by_epoch and (hook.every_n_train_iters(runner, hook.interval, hook.save_begin)
                                 or hook.save_last and hook.is_last_train_iter(runner)):
                return True
        return False

    def _capture(self, runner, by_epoch: bool) -> None:
        _, world_size = get_dist_info()
        if world_size == 1:  # no communication: always keep the latest state
            self._pending = [get_rng_state()]
        elif self._checkpoint_due(runner, by_epoch):  # every rank takes part in the gather
            self._pending = all_gather_object(get_rng_state())

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        self._capture(runner, by_epoch=False)

    def after_train_epoch(self, runner) -> None:
        self._capture(runner, by_epoch=True)

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        checkpoint['rng_state'] = self._pending if self._pending is not None else [get_rng_state()]
        self._pending = None

    # ---------------------------------------------------------------------------- restoring
    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        if getattr(runner, '_resume', False):  # load_from (fine-tuning) keeps the fresh seed
            self._restore = checkpoint.get('rng_state')

    def before_train(self, runner) -> None:
        states, self._restore = self._restore, None
        if states is None:
            return
        rank, world_size = get_dist_info()
        if len(states) != world_size:
            print_log(
                f'RNGStateHook: the checkpoint has generator states of {len(states)} rank(s), this '
                f'run has {world_size}: not restored (augmentations restart from the seed)',
                logger='current',
                level=logging.WARNING)
            return
        loop = runner.train_loop
        skip = runner.iter if hasattr(loop, 'dataloader_iterator') else 0
        if skip > 0:  # IterBasedTrainLoop replays `skip` batches first; restore after them
            loop.dataloader_iterator = _RestoreAfterSkip(loop.dataloader_iterator, skip, states[rank])
        else:
            set_rng_state(states[rank])

"""Log how many training samples ``LoadImageOrSkip(on_error='skip')`` has skipped."""
from typing import Any, List, Optional

from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmpretrain.registry import HOOKS

from mmspatial.datasets.transforms.safe_loading import LoadImageOrSkip

__all__ = ['SkippedSamplesHook', 'find_skipping_loaders']

_CHILDREN = ('dataset', 'datasets', 'pipeline', 'transforms', 'pipelines')


def find_skipping_loaders(obj: Any, _seen: Optional[set] = None) -> List[LoadImageOrSkip]:
    """Every ``LoadImageOrSkip`` reachable from a dataset (wrappers, pipelines, nested transforms)."""
    seen = set() if _seen is None else _seen
    if id(obj) in seen:
        return []
    seen.add(id(obj))
    if isinstance(obj, LoadImageOrSkip):
        return [obj]
    found: List[LoadImageOrSkip] = []
    if isinstance(obj, (list, tuple)):
        for item in obj:
            found += find_skipping_loaders(item, seen)
        return found
    for name in _CHILDREN:
        child = getattr(obj, name, None)
        if child is not None and not isinstance(child, (str, bytes, dict)):
            found += find_skipping_loaders(child, seen)
    return found


@HOOKS.register_module()
class SkippedSamplesHook(Hook):
    """Add ``skipped_samples`` (total so far) to the training log and ``vis_data/scalars.json``.

    Updates the scalar every iteration (before ``LoggerHook`` reads it) and logs a warning at the end of
    each epoch in which samples were skipped. Without any ``LoadImageOrSkip`` in the training pipeline
    it does nothing.
    """

    priority = 'NORMAL'  # before LoggerHook (BELOW_NORMAL)

    def __init__(self) -> None:
        self._loaders: List[LoadImageOrSkip] = []
        self._last_logged = 0

    def before_train(self, runner) -> None:
        self._loaders = find_skipping_loaders(runner.train_dataloader.dataset)
        self._last_logged = self._total()

    def _total(self) -> int:
        return sum(t.num_skipped for t in self._loaders)

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        if self._loaders:
            runner.message_hub.update_scalar('train/skipped_samples', self._total())

    def after_train_epoch(self, runner) -> None:
        total = self._total() if self._loaders else 0
        if total > self._last_logged:
            print_log(
                f'{total - self._last_logged} unreadable training samples skipped this epoch '
                f'({total} in total; see the LoadImageOrSkip warnings for the files).',
                logger='current',
                level=30)
        self._last_logged = total

"""Checkpoint loading with ``torch.load(weights_only=True)`` and a scoped allow-list of globals.

mmengine 0.10.7's local loader calls ``torch.load(filename, map_location=...)``; under torch >= 2.6
that means ``weights_only=True``, which refuses mmengine's *own* resume files (they pickle
``HistoryBuffer``, numpy arrays and scalars). Instead of unpickling with ``weights_only=False`` (a
checkpoint could then run arbitrary code), :func:`load_local_checkpoint` keeps ``weights_only=True``
and allows, only for the duration of the call (``torch.serialization.safe_globals``, not the
process-wide ``add_safe_globals``), exactly the globals that checkpoints of every mmspatial algorithm
(SCRL, DINO, SelfPatch, ScatSimCLR, SimCLR/BYOL with and without SP, mmpretrain's BYOL) pickle with
mmengine's default hooks and ours: :data:`CHECKPOINT_SAFE_GLOBALS`, found by saving such checkpoints
and listing ``torch.serialization.get_unsafe_globals_in_checkpoint`` (``tests/engine/test_safe_load.py``
re-checks it on real checkpoints).

A checkpoint needing any other global raises :class:`UntrustedCheckpointError` naming the globals and
the per-run way to trust that one file: ``trusted_checkpoints = ['/path/x.pth']`` in the config or
``tools/train.py --trust-checkpoint /path/x.pth`` (then it is loaded with ``weights_only=False``).

:func:`checkpoint_loading` routes mmengine's local loader (``load_from``, ``--resume``,
``init_cfg=dict(type='Pretrained')``, ``mmengine.runner.load_checkpoint``) through
:func:`load_local_checkpoint` inside a ``with`` block; :class:`~mmspatial.engine.runner.SpatialRunner`
uses it around its loads. Nothing changes outside the block.
"""
import os.path as osp
import pickle
import re
from contextlib import contextmanager
from typing import Any, Callable, Iterable, Iterator, List, Optional

import numpy as np
import torch
from mmengine.logging import HistoryBuffer
from mmengine.runner.checkpoint import CheckpointLoader

__all__ = [
    'CHECKPOINT_SAFE_GLOBALS', 'UntrustedCheckpointError', 'load_local_checkpoint', 'checkpoint_loading', 'TRUST_HINT'
]


def _numpy_globals() -> List[Any]:
    """What numpy arrays, dtypes and scalars pickle as (``np.core`` is ``np._core`` in numpy 2)."""
    core = getattr(np, '_core', None) or np.core
    # Unpickling a dtype BUILDs an instance of its class (numpy.dtypes.Float64DType, ...): the numeric
    # ones that message-hub values, generator states and dataset metadata hold.
    dtype_classes = [
        type(np.dtype(t)) for t in (np.bool_, np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32,
                                    np.uint64, np.float16, np.float32, np.float64)
    ]
    return [core.multiarray._reconstruct, core.multiarray.scalar, np.ndarray, np.dtype, *dtype_classes]


_HISTORY_BUFFER_STATISTICS = ('min', 'max', 'current', 'mean')


def _history_buffer_getattr(obj: Any, name: str) -> Any:
    """Stands in for ``builtins.getattr`` while unpickling: only ``HistoryBuffer.<statistic>``.

    ``HistoryBuffer.__getstate__`` pickles its statistics methods, which pickle stores as
    ``getattr(HistoryBuffer, 'min')`` etc. A general ``getattr`` would let a crafted file walk from any
    allowed object to ``__globals__`` / ``__builtins__`` and run code, so nothing else is allowed.
    """
    if obj is HistoryBuffer and name in _HISTORY_BUFFER_STATISTICS:
        return getattr(obj, name)
    raise pickle.UnpicklingError(f'getattr({obj!r}, {name!r}) is not allowed in a checkpoint (only '
                                 f'HistoryBuffer.{{{", ".join(_HISTORY_BUFFER_STATISTICS)}}})')


#: Globals that mmengine's / mmspatial's checkpoints pickle besides tensors and plain containers
#: (which torch allows by default), found on real checkpoints (module docstring). ``builtins.getattr``
#: is a restricted stand-in, see :func:`_history_buffer_getattr`.
CHECKPOINT_SAFE_GLOBALS: List[Any] = [HistoryBuffer, *_numpy_globals(), (_history_buffer_getattr, 'builtins.getattr')]

TRUST_HINT = ("If you trust this file, allow it for this run with trusted_checkpoints=['{file}'] in the "
              'config (or tools/train.py --trust-checkpoint {file}); it is then unpickled with '
              'weights_only=False, which can run code stored in the file.')


class UntrustedCheckpointError(pickle.UnpicklingError):
    """A checkpoint needs a global outside :data:`CHECKPOINT_SAFE_GLOBALS`; nothing was unpickled."""

    def __init__(self, filename: str, unsafe_globals: List[str], detail: str = '') -> None:
        self.filename, self.unsafe_globals = filename, unsafe_globals
        names = ', '.join(unsafe_globals) or '(unknown, see below)'
        msg = (f'checkpoint {filename} refused: unpickling it needs the global(s) {names}, which are not '
               "in mmspatial's allow-list of checkpoint types (mmspatial.engine.safe_load"
               '.CHECKPOINT_SAFE_GLOBALS). ' + TRUST_HINT.format(file=filename))
        super().__init__(msg + (f'\ntorch: {detail}' if detail and not unsafe_globals else ''))


def _unsafe_globals(filename: str, exc: Exception) -> List[str]:
    names = re.findall(r"GLOBAL ([\w.]+)|but got <class '([\w.]+)'>", str(exc))
    names = [a or b for a, b in names]
    try:  # every offending GLOBAL, found without unpickling anything
        names += [n for n in torch.serialization.get_unsafe_globals_in_checkpoint(filename) if n not in names]
    except Exception:  # noqa: BLE001  (torch's message already named one)
        pass
    return names


def _is_trusted(filename: str, trusted: Iterable[str]) -> bool:
    real = osp.realpath(filename)
    return any(osp.realpath(osp.expanduser(str(t))) == real for t in trusted)


def load_local_checkpoint(filename: str, map_location: Optional[Any] = None, trusted: Iterable[str] = ()) -> Any:
    """``torch.load`` of a local checkpoint, ``weights_only=True`` with :data:`CHECKPOINT_SAFE_GLOBALS`.

    Args:
        filename (str): local path (``~`` is expanded).
        map_location: as ``torch.load``.
        trusted (Iterable[str]): files the user explicitly trusts for this run: loaded with
            ``weights_only=False``.

    Raises:
        FileNotFoundError: no such file.
        UntrustedCheckpointError: the file needs another global (named in the message).
    """
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'{filename} can not be found.')
    if _is_trusted(filename, trusted):
        return torch.load(filename, map_location=map_location, weights_only=False)
    with torch.serialization.safe_globals(CHECKPOINT_SAFE_GLOBALS):
        try:
            return torch.load(filename, map_location=map_location, weights_only=True)
        except pickle.UnpicklingError as exc:
            raise UntrustedCheckpointError(filename, _unsafe_globals(filename, exc), str(exc)) from None


@contextmanager
def checkpoint_loading(trusted: Iterable[str] = ()) -> Iterator[Callable]:
    """Within the block, mmengine loads local checkpoints with :func:`load_local_checkpoint`.

    mmengine resolves every local path through ``CheckpointLoader``'s ``''`` scheme; it is swapped for
    the block and restored afterwards (also on error), so other code in the process is unaffected.
    """
    trusted = tuple(trusted)

    def load_from_local(filename: str, map_location: Optional[Any] = None) -> Any:  # mmengine logs the name
        return load_local_checkpoint(filename, map_location, trusted=trusted)

    loader = load_from_local
    schemes = CheckpointLoader._schemes
    original = schemes.get('')
    schemes[''] = loader
    try:
        yield loader
    finally:
        if original is None:
            schemes.pop('', None)
        else:
            schemes[''] = original

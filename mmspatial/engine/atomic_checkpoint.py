"""Atomic checkpoint writes: a crash during a save never leaves a truncated or missing latest checkpoint.

mmengine 0.10.7 writes checkpoints in place (``open(path, 'wb').write(...)`` in ``LocalBackend.put``), so
a process killed mid-write (pre-emption, OOM killer, full disk) leaves a truncated ``epoch_N.pth``. Worse,
``CheckpointHook`` deletes the oldest checkpoint (``max_keep_ckpts``) *before* it writes the new one and
then rewrites ``last_checkpoint`` in place: with ``max_keep_ckpts=1`` a crash mid-save leaves no valid
checkpoint at all, and ``--resume`` follows the pointer to the truncated file.

Importing this module (``import mmspatial`` does) installs two patches:

1. :func:`atomic_save_checkpoint` replaces ``mmengine.runner.checkpoint.save_checkpoint`` (and the names
   ``mmengine.runner`` / ``mmengine.runner.runner`` imported from it, which ``Runner.save_checkpoint``
   calls). For local paths it serialises to a temporary file in the same directory, ``fsync``s it and
   ``os.replace``s it onto the target (atomic on POSIX within one file system). Other back ends (pavi,
   petrel, ...) are left to mmengine.
2. ``CheckpointHook._save_checkpoint_with_step`` is replaced by :func:`_save_checkpoint_with_step`: the
   same bookkeeping, in a safe order: save the new checkpoint, then atomically rewrite the
   ``last_checkpoint`` pointer, and only then delete the checkpoints beyond ``max_keep_ckpts``.

A hard kill during a save can leave a hidden ``.<name>.tmp-*`` file next to the checkpoints; it is
never pointed to and can be deleted.
"""
import io
import os
import os.path as osp
import tempfile
from typing import Any, Callable, Optional

import torch
import mmengine.runner as mmengine_runner
import mmengine.runner.checkpoint as mmengine_checkpoint
import mmengine.runner.runner as mmengine_runner_module
from mmengine.dist import is_main_process
from mmengine.fileio import get_file_backend
from mmengine.fileio.backends import LocalBackend
from mmengine.hooks import CheckpointHook

__all__ = ['atomic_write_bytes', 'atomic_write_text', 'atomic_save_checkpoint']

_original_save_checkpoint: Callable = getattr(mmengine_checkpoint.save_checkpoint,
                                              '__wrapped_save__', mmengine_checkpoint.save_checkpoint)
_original_save_with_step: Callable = getattr(CheckpointHook._save_checkpoint_with_step,
                                             '__wrapped_save__',
                                             CheckpointHook._save_checkpoint_with_step)


def atomic_write_bytes(data: Any, path: str, writer: Optional[Callable] = None) -> None:
    """Write to ``path`` atomically: temp file in the same directory, fsync, ``os.replace``.

    Args:
        data: bytes to write, or the object handed to ``writer``.
        path (str): destination.
        writer (callable, optional): ``writer(data, fileobj)``; default ``fileobj.write(data)``.
    """
    directory = osp.dirname(osp.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f'.{osp.basename(path)}.tmp-', dir=directory)
    try:
        with os.fdopen(fd, 'wb') as f:
            if writer is None:
                f.write(data)
            else:
                writer(data, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if osp.exists(tmp):
            os.unlink(tmp)
        raise
    try:  # persist the rename itself (POSIX); not possible on every platform / file system
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError:
        pass


def atomic_write_text(text: str, path: str) -> None:
    """:func:`atomic_write_bytes` for a UTF-8 text file (e.g. ``last_checkpoint``)."""
    atomic_write_bytes(text.encode('utf-8'), path)


def _is_local(filename: str, backend_args: Optional[dict]) -> bool:
    if filename.startswith('pavi://'):
        return False
    return isinstance(get_file_backend(filename, backend_args=backend_args), LocalBackend)


def atomic_save_checkpoint(checkpoint: dict, filename: str, file_client_args: Optional[dict] = None,
                           backend_args: Optional[dict] = None) -> None:
    """``mmengine.runner.checkpoint.save_checkpoint`` with an atomic write for local files."""
    if file_client_args is not None or not _is_local(filename, backend_args):
        return _original_save_checkpoint(checkpoint, filename, file_client_args=file_client_args,
                                         backend_args=backend_args)
    with io.BytesIO() as buffer:  # serialise fully before touching the destination directory
        torch.save(checkpoint, buffer)
        atomic_write_bytes(buffer.getvalue(), filename)


atomic_save_checkpoint.__wrapped_save__ = _original_save_checkpoint


def _save_checkpoint_with_step(self: CheckpointHook, runner, step: int, meta: dict) -> None:
    """``CheckpointHook._save_checkpoint_with_step`` (mmengine 0.10.7), reordered for crash safety.

    mmengine: delete the oldest checkpoint -> save the new one -> rewrite ``last_checkpoint``.
    Here: save the new one (atomically) -> rewrite ``last_checkpoint`` (atomically) -> delete.
    """
    to_remove = []
    if self.max_keep_ckpts > 0 and not (self.keep_ckpt_ids and self.keep_ckpt_ids[-1] == step):
        # Same bookkeeping as mmengine (the list is saved in the message hub for resuming).
        while len(self.keep_ckpt_ids) >= self.max_keep_ckpts:
            to_remove.append(self.keep_ckpt_ids.popleft())
        self.keep_ckpt_ids.append(step)
        runner.message_hub.update_info('keep_ckpt_ids', list(self.keep_ckpt_ids))

    ckpt_filename = self.filename_tmpl.format(step)
    self.last_ckpt = self.file_backend.join_path(self.out_dir, ckpt_filename)
    runner.message_hub.update_info('last_ckpt', self.last_ckpt)
    runner.save_checkpoint(
        self.out_dir, ckpt_filename, self.file_client_args, save_optimizer=self.save_optimizer,
        save_param_scheduler=self.save_param_scheduler, meta=meta, by_epoch=self.by_epoch,
        backend_args=self.backend_args, **self.args)

    if not is_main_process():
        return
    atomic_write_text(self.last_ckpt, osp.join(runner.work_dir, 'last_checkpoint'))
    for old_step in to_remove:
        old = self.file_backend.join_path(self.out_dir, self.filename_tmpl.format(old_step))
        if old == self.last_ckpt:
            continue
        if self.file_backend.isfile(old):
            self.file_backend.remove(old)
        elif self.file_backend.isdir(old):  # checkpoints saved by deepspeed are directories
            self.file_backend.rmtree(old)


_save_checkpoint_with_step.__wrapped_save__ = _original_save_with_step


def install() -> None:
    """Install both patches (idempotent; done on import)."""
    for module in (mmengine_checkpoint, mmengine_runner, mmengine_runner_module):
        module.save_checkpoint = atomic_save_checkpoint
    CheckpointHook._save_checkpoint_with_step = _save_checkpoint_with_step


install()

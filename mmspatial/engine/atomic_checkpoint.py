"""Atomic checkpoint writes: a crash during a save never leaves a truncated or missing latest checkpoint.

mmengine 0.10.7 writes checkpoints in place (``open(path, 'wb').write(...)`` in ``LocalBackend.put``), so
a process killed mid-write (pre-emption, OOM killer, full disk) leaves a truncated ``epoch_N.pth``. Worse,
``CheckpointHook`` deletes the oldest checkpoint (``max_keep_ckpts``) *before* it writes the new one and
then rewrites ``last_checkpoint`` in place: with ``max_keep_ckpts=1`` a crash mid-save leaves no valid
checkpoint at all, and ``--resume`` follows the pointer to the truncated file.

Two registered components fix this; nothing of mmengine is modified:

1. :func:`save_runner_checkpoint_atomically` (what ``SpatialRunner.save_checkpoint`` does): the runner
   writes the checkpoint to a hidden temporary file in the same directory, which is ``fsync``-ed and
   ``os.replace``-d onto the target (atomic on POSIX within one file system). Other back ends (pavi,
   petrel, ...) are left to mmengine.
2. :class:`AtomicCheckpointHook` (``default_hooks.checkpoint`` in ``configs/_base_/default_runtime.py``):
   ``CheckpointHook`` with the bookkeeping in a safe order: save the new checkpoint (atomically, also
   with a plain mmengine ``Runner``), then atomically rewrite the ``last_checkpoint`` pointer, and only
   then delete the checkpoints beyond ``max_keep_ckpts``.

A hard kill during a save can leave a hidden ``.<name>.tmp-*`` file next to the checkpoints; it is
never pointed to and can be deleted.
"""
import io
import os
import os.path as osp
import tempfile
from typing import Any, Callable, Optional

import torch
from mmengine.dist import is_main_process
from mmengine.fileio import get_file_backend
from mmengine.fileio.backends import LocalBackend
from mmengine.hooks import CheckpointHook
from mmengine.registry import HOOKS

__all__ = [
    'atomic_write_bytes', 'atomic_write_text', 'atomic_save_checkpoint', 'save_runner_checkpoint_atomically',
    'AtomicCheckpointHook'
]


def _fsync_dir(directory: str) -> None:
    try:  # persist the rename itself (POSIX); not possible on every platform / file system
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError:
        pass


def _temp_path(path: str) -> str:
    directory = osp.dirname(osp.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f'.{osp.basename(path)}.tmp-', dir=directory)
    os.close(fd)
    return tmp


def _commit(tmp: str, path: str) -> None:
    """fsync ``tmp``, rename it onto ``path``, fsync the directory."""
    with open(tmp, 'rb+') as f:
        os.fsync(f.fileno())
    os.replace(tmp, path)
    _fsync_dir(osp.dirname(osp.abspath(path)))


def atomic_write_bytes(data: Any, path: str, writer: Optional[Callable] = None) -> None:
    """Write to ``path`` atomically: temp file in the same directory, fsync, ``os.replace``.

    Args:
        data: bytes to write, or the object handed to ``writer``.
        path (str): destination.
        writer (callable, optional): ``writer(data, fileobj)``; default ``fileobj.write(data)``.
    """
    tmp = _temp_path(path)
    try:
        with open(tmp, 'wb') as f:
            if writer is None:
                f.write(data)
            else:
                writer(data, f)
        _commit(tmp, path)
    except BaseException:
        if osp.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_text(text: str, path: str) -> None:
    """:func:`atomic_write_bytes` for a UTF-8 text file (e.g. ``last_checkpoint``)."""
    atomic_write_bytes(text.encode('utf-8'), path)


def _is_local(filename: str, backend_args: Optional[dict]) -> bool:
    if filename.startswith('pavi://'):
        return False
    return isinstance(get_file_backend(filename, backend_args=backend_args), LocalBackend)


def atomic_save_checkpoint(checkpoint: dict, filename: str) -> None:
    """``torch.save`` of a checkpoint dict to a local file, atomically."""
    with io.BytesIO() as buffer:  # serialise fully before touching the destination directory
        torch.save(checkpoint, buffer)
        atomic_write_bytes(buffer.getvalue(), filename)


def save_runner_checkpoint_atomically(save: Callable,
                                      out_dir: str,
                                      filename: str,
                                      file_client_args: Optional[dict] = None,
                                      backend_args: Optional[dict] = None,
                                      **kwargs) -> None:
    """Call a runner's ``save_checkpoint`` (``save``) on a temporary name, then move it into place.

    Args:
        save (Callable): the bound ``Runner.save_checkpoint`` (mmengine's signature).
        out_dir (str), filename (str), file_client_args, backend_args: as ``Runner.save_checkpoint``.
        **kwargs: the other arguments of ``Runner.save_checkpoint``.
    """
    path = osp.join(out_dir, filename)
    if file_client_args is not None or not _is_local(path, backend_args):
        return save(out_dir, filename, file_client_args=file_client_args, backend_args=backend_args, **kwargs)
    if not is_main_process():  # Runner.save_checkpoint is master-only
        return None
    tmp = _temp_path(path)
    try:
        save(out_dir, osp.relpath(tmp, osp.abspath(out_dir)), backend_args=backend_args, **kwargs)
        _commit(tmp, path)
    except BaseException:
        if osp.exists(tmp):
            os.unlink(tmp)
        raise


@HOOKS.register_module()
class AtomicCheckpointHook(CheckpointHook):
    """``CheckpointHook`` (mmengine 0.10.7) that never leaves a run without a valid latest checkpoint.

    mmengine: delete the oldest checkpoint -> save the new one in place -> rewrite ``last_checkpoint``
    in place. Here: save the new one (atomically) -> rewrite ``last_checkpoint`` (atomically) ->
    delete. Same arguments as ``CheckpointHook``.
    """

    def _save_checkpoint_with_step(self, runner, step: int, meta: dict) -> None:
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
        kwargs = dict(
            save_optimizer=self.save_optimizer,
            save_param_scheduler=self.save_param_scheduler,
            meta=meta,
            by_epoch=self.by_epoch,
            backend_args=self.backend_args,
            **self.args)
        if getattr(runner, 'saves_atomically', False):  # SpatialRunner
            runner.save_checkpoint(self.out_dir, ckpt_filename, self.file_client_args, **kwargs)
        else:
            save_runner_checkpoint_atomically(runner.save_checkpoint, self.out_dir, ckpt_filename,
                                              self.file_client_args, **kwargs)

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

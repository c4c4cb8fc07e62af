"""``SpatialRunner``: mmengine's ``Runner`` with safe checkpoint loading, strict-key checks and atomic saves.

Selected with ``runner_type = 'SpatialRunner'`` (``configs/_base_/default_runtime.py``; mmpretrain's,
mmdet's and mmseg's ``tools/train.py`` build ``RUNNERS.build(cfg)`` when the key is set, and our
``tools/train.py`` uses it for every config that names no other runner). Compared with ``Runner``:

* every checkpoint it loads (``load_from``, ``resume``, ``init_cfg=dict(type='Pretrained')`` during
  ``init_weights``, ``runner.load_checkpoint``) is unpickled with ``weights_only=True`` and the scoped
  allow-list of :mod:`mmspatial.engine.safe_load`; a file needing another global is refused with an
  error naming it, unless the config lists it in ``trusted_checkpoints``;
* ``load_from`` / ``resume`` refuse a checkpoint whose keys or shapes do not fit the model
  (:mod:`mmspatial.engine.checkpoint_load_check`; ``load_from_strict = False`` restores mmengine's
  partial load);
* ``save_checkpoint`` writes atomically (:mod:`mmspatial.engine.atomic_checkpoint`).
"""
from typing import Iterable, Optional

from mmengine.dist import master_only
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

from .atomic_checkpoint import save_runner_checkpoint_atomically
from .checkpoint_load_check import load_checkpoint_checked
from .safe_load import checkpoint_loading

__all__ = ['SpatialRunner']


@RUNNERS.register_module()
class SpatialRunner(Runner):
    """mmengine ``Runner`` that loads checkpoints safely and strictly and saves them atomically.

    Args:
        *args: as ``Runner``.
        trusted_checkpoints (Iterable[str], optional): checkpoint files to unpickle with
            ``weights_only=False`` in this run (they may run code). Defaults to the config's
            ``trusted_checkpoints`` key, else none.
        **kwargs: as ``Runner``.
    """

    saves_atomically = True  # read by AtomicCheckpointHook

    def __init__(self, *args, trusted_checkpoints: Optional[Iterable[str]] = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if trusted_checkpoints is None:
            trusted_checkpoints = self.cfg.get('trusted_checkpoints', None) or ()
        if isinstance(trusted_checkpoints, str):
            raise TypeError(f'trusted_checkpoints must be a list of paths, got the string '
                            f'{trusted_checkpoints!r} (write [{trusted_checkpoints!r}])')
        self.trusted_checkpoints = tuple(str(p) for p in trusted_checkpoints)

    def _init_model_weights(self) -> None:
        with checkpoint_loading(self.trusted_checkpoints):  # init_cfg=dict(type='Pretrained', ...)
            super()._init_model_weights()

    def load_checkpoint(self,
                        filename: str,
                        map_location='cpu',
                        strict: bool = False,
                        revise_keys: list = [(r'^module.', '')]):  # noqa: B006  (mmengine's signature)
        """``Runner.load_checkpoint`` with the safe loader and the strict-key check."""
        with checkpoint_loading(self.trusted_checkpoints):
            return load_checkpoint_checked(
                self, filename, map_location=map_location, strict=strict, revise_keys=revise_keys)

    @master_only
    def save_checkpoint(self,
                        out_dir: str,
                        filename: str,
                        file_client_args: Optional[dict] = None,
                        save_optimizer: bool = True,
                        save_param_scheduler: bool = True,
                        meta: Optional[dict] = None,
                        by_epoch: bool = True,
                        backend_args: Optional[dict] = None) -> None:
        """``Runner.save_checkpoint`` (same arguments), written atomically to local files."""
        save_runner_checkpoint_atomically(
            super().save_checkpoint,
            out_dir,
            filename,
            file_client_args=file_client_args,
            backend_args=backend_args,
            save_optimizer=save_optimizer,
            save_param_scheduler=save_param_scheduler,
            meta=meta,
            by_epoch=by_epoch)

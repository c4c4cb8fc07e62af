"""``LoadImageOrSkip``: image loading with clear errors, or counted skips, for unreadable files.

mmcv 2.1.0's ``LoadImageFromFile`` fails on a corrupt file with a bare ``AssertionError: failed to load
image`` (gone under ``python -O``), and its ``ignore_empty=True`` drops bad files silently. This variant:

* ``on_error='raise'`` (default): ``FileNotFoundError`` for a missing file, :class:`CorruptImageError`
  (an ``OSError``) for a file that cannot be decoded; both name the file and the reason.
* ``on_error='skip'``: logs a warning naming the file, counts it, and returns ``None`` so mmengine's
  ``BaseDataset`` fetches another sample (its ``max_refetch`` bounds the retries). The count is shared by
  all data-loader workers; :class:`~mmspatial.engine.hooks.SkippedSamplesHook` logs it as
  ``skipped_samples``. ``max_skips`` turns "too many bad files" into an error.

Colour handling is mmcv's ``color_type='color'`` (tested in ``tests/engine/test_bad_input.py``): with the
``cv2`` and ``pillow`` back ends, grayscale, RGBA (alpha dropped) and 16-bit images all arrive as
``uint8`` 3-channel BGR, so downstream transforms never see 1 or 4 channels. Images smaller than a crop
are upscaled by the ``RandomResizedCrop*`` transforms (they sample a region of the image and resize it
to the crop size), so they need no special case here.
"""
import copy
import multiprocessing as mp
from typing import Optional

import mmcv
import numpy as np
from mmcv.transforms import LoadImageFromFile
from mmengine import fileio
from mmengine.logging import print_log
from mmpretrain.registry import TRANSFORMS

__all__ = ['CorruptImageError', 'LoadImageOrSkip']


class CorruptImageError(OSError):
    """An image file exists but cannot be decoded."""


@TRANSFORMS.register_module()
class LoadImageOrSkip(LoadImageFromFile):
    """``LoadImageFromFile`` that raises a clear error or skips (and counts) unreadable images.

    Args:
        on_error (str): ``'raise'`` or ``'skip'``. Defaults to ``'raise'``.
        max_skips (int, optional): with ``'skip'``, raise once more than this many samples were skipped
            (over all workers). Default: no limit.
        **kwargs: ``LoadImageFromFile`` arguments (``color_type``, ``imdecode_backend``, ...).
            ``ignore_empty`` is not accepted: use ``on_error='skip'``.
    """

    def __init__(self, on_error: str = 'raise', max_skips: Optional[int] = None, **kwargs) -> None:
        if on_error not in ('raise', 'skip'):
            raise ValueError(f"LoadImageOrSkip: on_error must be 'raise' or 'skip', got {on_error!r}")
        if 'ignore_empty' in kwargs:
            raise ValueError("LoadImageOrSkip: use on_error='skip' instead of ignore_empty")
        super().__init__(**kwargs)
        self.on_error = on_error
        self.max_skips = max_skips
        # Shared memory: data-loader workers (forked or spawned) increment the same counter.
        self._skipped = mp.Value('q', 0)

    @property
    def num_skipped(self) -> int:
        """Samples skipped so far, over all processes that share this transform."""
        return int(self._skipped.value)

    def __deepcopy__(self, memo: dict) -> 'LoadImageOrSkip':
        # mp.Value cannot be deep-copied; a copy counts into the same counter.
        new = copy.copy(self)
        memo[id(self)] = new
        return new

    def _read(self, filename: str) -> np.ndarray:
        try:
            if self.file_client_args is not None:
                img_bytes = fileio.FileClient.infer_client(self.file_client_args, filename).get(filename)
            else:
                img_bytes = fileio.get(filename, backend_args=self.backend_args)
        except FileNotFoundError as e:
            raise FileNotFoundError(f'image file not found: {filename}') from e
        if not img_bytes:
            raise CorruptImageError(f'image file is empty (0 bytes): {filename}')
        try:
            img = mmcv.imfrombytes(img_bytes, flag=self.color_type, backend=self.imdecode_backend)
        except Exception as e:  # noqa: BLE001  (pillow raises its own error types)
            raise CorruptImageError(f'cannot decode image {filename} ({len(img_bytes)} bytes, '
                                    f'{self.imdecode_backend}): {e}') from e
        if img is None or img.size == 0:
            raise CorruptImageError(f'cannot decode image {filename} ({len(img_bytes)} bytes, '
                                    f'{self.imdecode_backend}): corrupt or not an image')
        return img

    def transform(self, results: dict) -> Optional[dict]:
        filename = results['img_path']
        try:
            img = self._read(filename)
        except (OSError, ValueError) as e:
            if self.on_error == 'raise':
                raise
            with self._skipped.get_lock():
                self._skipped.value += 1
                count = self._skipped.value
            print_log(f'LoadImageOrSkip: skipped sample ({count} so far): {e}', logger='current', level=30)
            if self.max_skips is not None and count > self.max_skips:
                raise RuntimeError(f'LoadImageOrSkip: {count} unreadable images skipped, more than '
                                   f'max_skips={self.max_skips}; last: {e}') from e
            return None
        if self.to_float32:
            img = img.astype(np.float32)
        results['img'] = img
        results['img_shape'] = img.shape[:2]
        results['ori_shape'] = img.shape[:2]
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(on_error={self.on_error!r}, max_skips={self.max_skips}, '
                f"color_type='{self.color_type}', imdecode_backend='{self.imdecode_backend}')")

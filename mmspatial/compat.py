"""Numpy-2-safe hue adjustment for mmcv 2.1.0, without modifying mmcv.

mmcv 2.1.0's ``adjust_hue`` does ``h += np.uint8(hue_factor * 255)``; for a negative factor numpy >= 2
raises "OverflowError: Python integer -14 out of bounds for uint8" where numpy 1 wrapped around. Every
colour jitter with ``hue > 0`` (BYOL, SCRL, DINO pipelines) draws negative factors half of the time.

* :func:`adjust_hue`: mmcv's function with the shift computed modulo 256 (numpy 1's result).
* ``SafeHueColorJitter`` (``mmspatial/datasets/transforms/color_jitter.py``): mmpretrain's
  ``ColorJitter`` calling :func:`adjust_hue`; mmspatial's configs use it.
* :func:`enable_numpy2_hue_fix`: an explicit, process-wide opt-in that makes ``mmcv.adjust_hue`` this
  function, for pipelines we do not write (``mmpretrain::`` base configs). ``tools/train.py`` calls
  it; ``import mmspatial`` does not.
"""
from typing import Optional

import cv2
import mmcv
import numpy as np

__all__ = ['adjust_hue', 'enable_numpy2_hue_fix']

_MMCV_ADJUST_HUE = mmcv.image.photometric.adjust_hue  # mmcv's own function, for the opt-in's undo


def adjust_hue(img: np.ndarray, hue_factor: float, backend: Optional[str] = None) -> np.ndarray:
    """``mmcv.adjust_hue`` (mmcv 2.1.0) with the hue shift computed modulo 256.

    Same maths as under numpy 1: ``int(hue_factor * 255)`` (truncation toward zero), wrapped onto the
    0..255 hue circle (OpenCV's ``HSV_FULL`` / PIL's ``HSV`` hue range).

    Args:
        img (np.ndarray): BGR image, ``(H, W, 3)``.
        hue_factor (float): shift of the hue channel, in ``[-0.5, 0.5]`` turns.
        backend (str, optional): ``'cv2'`` or ``'pillow'``; defaults to mmcv's ``imread_backend``.
    """
    if backend is None:
        backend = mmcv.image.io.imread_backend
    if backend not in ('cv2', 'pillow'):
        raise ValueError(f"backend: {backend} is not supported. Supported backends are 'cv2', 'pillow'")
    if not -0.5 <= hue_factor <= 0.5:
        raise ValueError(f'hue_factor:{hue_factor} is not in [-0.5, 0.5].')
    if not (isinstance(img, np.ndarray) and img.ndim in (2, 3)):
        raise TypeError('img should be ndarray with dim=[2 or 3].')
    shift = np.uint8(int(hue_factor * 255) % 256)
    if backend == 'pillow':
        from PIL import Image
        pil = Image.fromarray(np.ascontiguousarray(img[..., ::-1]), mode='RGB')
        h, s, v = pil.convert('HSV').split()
        np_h = np.array(h, dtype=np.uint8)
        np_h += shift  # uint8 arithmetic wraps around the hue circle
        out = Image.merge('HSV', (Image.fromarray(np_h, 'L'), s, v)).convert('RGB')
        return np.array(out, dtype=img.dtype)[..., ::-1]
    dtype = img.dtype
    hsv = cv2.cvtColor(img.astype(np.uint8), cv2.COLOR_BGR2HSV_FULL)
    hsv[..., 0] += shift
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR_FULL).astype(dtype)


def enable_numpy2_hue_fix(enable: bool = True) -> None:
    """Opt in (process-wide): ``mmcv.adjust_hue`` becomes :func:`adjust_hue`; ``False`` undoes it.

    For entry points other than ``tools/train.py`` whose pipelines use mmpretrain's ``ColorJitter``
    with ``hue > 0`` under numpy >= 2::

        import mmspatial.compat; mmspatial.compat.enable_numpy2_hue_fix()
    """
    fn = adjust_hue if enable else _MMCV_ADJUST_HUE
    mmcv.adjust_hue = mmcv.image.adjust_hue = mmcv.image.photometric.adjust_hue = fn

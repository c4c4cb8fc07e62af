"""Compatibility fixes for the pinned stack (mmengine 0.10.7 / mmcv 2.1.0 on torch >= 2.6, numpy 2).

1. Checkpoint loading (below). 2. ``mmcv.adjust_hue`` under numpy 2 (at the end of the file).

torch 2.6 changed ``torch.load``'s default to ``weights_only=True``. mmengine 0.10.7 calls
``torch.load(filename, map_location=...)`` without the argument, so resuming one of its *own*
checkpoints (which pickle ``HistoryBuffer``, numpy arrays, optimizer state...) fails with
"Weights only load failed". We re-register mmengine's local-file checkpoint loader with
``weights_only=False``, i.e. exactly mmengine's behaviour under the torch it was written for.

Why this and not the alternatives:
* ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1`` would change ``torch.load`` for the whole process and asks
  every user to set an environment variable;
* allow-listing globals with ``torch.serialization.add_safe_globals`` needs the exact list of types that
  any hook, optimizer or message-hub entry may pickle, and breaks on the first new one.
The scope stays narrow: only mmengine's local-file checkpoint loading (``load_from``, ``--resume``,
``load_checkpoint``, ``init_cfg=dict(type='Pretrained')``) is affected, and these load files the user
chose to train from. As with any pickle, do not load checkpoints from untrusted sources.
"""
import os.path as osp
import warnings
from typing import Any, Optional

import cv2
import mmcv
import numpy as np
import torch
from mmengine.runner.checkpoint import CheckpointLoader


def load_trusted_checkpoint(filename: str, map_location: Optional[Any] = None) -> Any:
    """``torch.load`` of a local checkpoint with mmengine's pre-torch-2.6 semantics."""
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'{filename} can not be found.')
    return torch.load(filename, map_location=map_location, weights_only=False)


# Replaces mmengine's ``load_from_local`` (same prefix, same signature).
CheckpointLoader.register_scheme(prefixes='', loader=load_trusted_checkpoint, force=True)


def _numpy2_safe_adjust_hue(img: np.ndarray, hue_factor: float,
                            backend: Optional[str] = None) -> np.ndarray:
    """mmcv 2.1.0's ``adjust_hue`` with the hue shift computed modulo 256.

    mmcv does ``h += np.uint8(hue_factor * 255)``; for a negative factor numpy >= 2 raises
    "OverflowError: Python integer -14 out of bounds for uint8" where numpy 1 wrapped around. Every
    colour-jitter with ``hue > 0`` (BYOL, SCRL, DINO pipelines) hits it. Same maths as numpy 1:
    truncate toward zero, then wrap.
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


if int(np.__version__.split('.')[0]) >= 2:
    mmcv.adjust_hue = mmcv.image.adjust_hue = _numpy2_safe_adjust_hue
    mmcv.image.photometric.adjust_hue = _numpy2_safe_adjust_hue

# mmcv's adjust_brightness/contrast warn on every call made by mmpretrain's ColorJitter (cv2 backend),
# flooding training logs with thousands of identical lines; the behaviour is correct.
warnings.filterwarnings('ignore', message="Only use 'alpha' for pillow backend")

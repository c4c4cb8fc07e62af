"""SCRL's augmentation that mmpretrain lacks: the down-up "resize blur"."""
from typing import Sequence

import mmcv
import numpy as np
from mmcv.transforms import BaseTransform
from mmpretrain.registry import TRANSFORMS


@TRANSFORMS.register_module()
class ResizeBlur(BaseTransform):
    """Blur by downscaling by a random factor and scaling back up (SCRL's default "blur").

    Reference: kakaobrain/scrl ``augment/gaussian_blur.py::ResizeBlur`` with ``max_level=3`` as
    used in ``augment/getters.py`` (``BLUR_METHOD = 'resized'``): a factor ``f`` drawn uniformly from
    ``(1.1, 1.2, 1.5)``, resize to ``(h // f, w // f)`` then back to ``(h, w)``, both bicubic (PIL).
    The reference applies it with probability 1.0 to view 1 and 0.1 to view 2. The image size is
    unchanged, so it may sit anywhere in a geometry-tracked view pipeline.

    Required keys: ``img``. Modified: ``img``.

    Args:
        factors (Sequence[float]): downscale factors to draw from. Defaults to (1.1, 1.2, 1.5).
        prob (float): probability of applying the blur. Defaults to 1.0.
        interpolation (str): interpolation of both resizes. Defaults to 'bicubic'.
        backend (str): 'pillow' (the reference's PIL resize) or 'cv2'. Defaults to 'pillow'.
    """

    def __init__(self,
                 factors: Sequence[float] = (1.1, 1.2, 1.5),
                 prob: float = 1.0,
                 interpolation: str = 'bicubic',
                 backend: str = 'pillow') -> None:
        if not factors or any(f < 1 for f in factors):
            raise ValueError(f'ResizeBlur factors must be >= 1, got {factors}')
        if not 0 <= prob <= 1:
            raise ValueError(f'ResizeBlur prob must be in [0, 1], got {prob}')
        self.factors = tuple(float(f) for f in factors)
        self.prob = prob
        self.interpolation = interpolation
        self.backend = backend

    def transform(self, results: dict) -> dict:
        if np.random.rand() >= self.prob:
            return results
        img = results['img']
        h, w = img.shape[:2]
        factor = self.factors[np.random.randint(len(self.factors))]
        small_h, small_w = max(int(h // factor), 1), max(int(w // factor), 1)
        small = mmcv.imresize(img, (small_w, small_h), interpolation=self.interpolation, backend=self.backend)
        results['img'] = mmcv.imresize(small, (w, h), interpolation=self.interpolation, backend=self.backend)
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(factors={self.factors}, prob={self.prob}, '
                f'interpolation={self.interpolation!r}, backend={self.backend!r})')

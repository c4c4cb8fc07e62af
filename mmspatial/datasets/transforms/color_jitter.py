"""mmpretrain's ``ColorJitter`` with a hue step that works under numpy >= 2.

mmpretrain 1.2.0's ``ColorJitter`` calls mmcv 2.1.0's ``adjust_hue``, which raises ``OverflowError``
for negative hue factors under numpy >= 2 (see :mod:`mmspatial.compat`). :class:`SafeHueColorJitter`
draws the same parameters in the same order (mmpretrain's ``_rand_params``, itself torchvision's
``ColorJitter``) and applies :func:`mmspatial.compat.adjust_hue`, numpy 1's result. mmspatial's configs
use it in place of ``ColorJitter``; nothing of mmcv or mmpretrain is modified.
"""
import warnings
from typing import Dict

import mmcv
from mmpretrain.datasets.transforms import ColorJitter
from mmpretrain.registry import TRANSFORMS

from mmspatial.compat import adjust_hue


@TRANSFORMS.register_module()
class SafeHueColorJitter(ColorJitter):
    """``ColorJitter`` (mmpretrain 1.2.0, same arguments and randomness) with a numpy-2-safe hue step."""

    def transform(self, results: Dict) -> Dict:
        img = results['img']
        order, brightness, contrast, saturation, hue = self._rand_params()
        with warnings.catch_warnings():  # mmcv warns on every call with the pillow backend; it is correct
            warnings.filterwarnings('ignore', message="Only use 'alpha' for pillow backend")
            for index in order:
                if index == 0 and brightness is not None:
                    img = mmcv.adjust_brightness(img, brightness, backend=self.backend)
                elif index == 1 and contrast is not None:
                    img = mmcv.adjust_contrast(img, contrast, backend=self.backend)
                elif index == 2 and saturation is not None:
                    img = mmcv.adjust_color(img, alpha=saturation, backend=self.backend)
                elif index == 3 and hue is not None:
                    img = adjust_hue(img, hue, backend=self.backend)
        results['img'] = img
        return results

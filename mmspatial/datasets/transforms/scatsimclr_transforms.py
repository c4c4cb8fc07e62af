"""The one ScatSimCLR augmentation mmpretrain lacks: SimCLR's cv2 Gaussian blur with a small kernel.

The rest of the reference augmentation (``ContrastiveAugmentor`` in ``src/data/augmentor.py`` of
vkinakh/scatsimclr: Lanczos ``Resize`` + ``RandomResizedCrop``, flip, ``ColorJitter(0.8, 0.8, 0.8, 0.2)``
with p=0.8, ``RandomGrayscale(0.2)``) is built from the torchvision transforms mmpretrain registers as
``torchvision/<Name>`` (see ``configs/scatsimclr/_base_/``), so it runs the same library calls on the
same PIL images. mmpretrain's own ``GaussianBlur`` is PIL's radius blur with an unbounded kernel; the
reference blurs with a (2*int(0.05*H)+1)-px kernel (3 px at 32 px, 9 px at 96 px), which at 32 px is
much weaker, so it gets its own transform.
"""
from typing import Dict, Optional, Tuple

import cv2
import numpy as np
from mmcv.transforms import BaseTransform
from mmpretrain.registry import TRANSFORMS
from PIL import Image


@TRANSFORMS.register_module()
class CV2GaussianBlur(BaseTransform):
    """With probability ``prob``, ``cv2.GaussianBlur`` with a fixed kernel and sigma ~ U(min, max).

    Reference: ``GaussianBlur`` in ``src/data/gaussian_blur.py`` of vkinakh/scatsimclr. Accepts a PIL
    image (after torchvision transforms) or an HWC array and always returns an HWC ``uint8`` array, as
    the reference (which then calls ``ToTensor``).

    Args:
        kernel_size (int, optional): odd kernel side. None: ``2 * int(0.05 * H) + 1`` from the image
            height, the reference's rule for its input size. Defaults to None.
        sigma (Tuple[float, float]): range of the blur sigma. Defaults to (0.1, 2.0).
        prob (float): probability to blur. Defaults to 0.5.
    """

    def __init__(self,
                 kernel_size: Optional[int] = None,
                 sigma: Tuple[float, float] = (0.1, 2.0),
                 prob: float = 0.5) -> None:
        if kernel_size is not None and kernel_size % 2 != 1:
            raise ValueError(f'kernel_size must be odd, got {kernel_size}')
        self.kernel_size, self.sigma, self.prob = kernel_size, tuple(sigma), prob

    def transform(self, results: Dict) -> Dict:
        img = np.array(results['img']) if isinstance(results['img'], Image.Image) else results['img']
        if np.random.random_sample() < self.prob:
            k = self.kernel_size or 2 * int(0.05 * img.shape[0]) + 1
            sigma = (self.sigma[1] - self.sigma[0]) * np.random.random_sample() + self.sigma[0]
            img = cv2.GaussianBlur(img, (k, k), sigma)
        results['img'] = np.ascontiguousarray(img)
        results['img_shape'] = img.shape[:2]
        return results

    def __repr__(self) -> str:
        return f'{type(self).__name__}(kernel_size={self.kernel_size}, sigma={self.sigma}, prob={self.prob})'

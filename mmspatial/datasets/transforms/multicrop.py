"""DINO's multi-crop augmentation, with the geometry of every crop recorded.

Reference: ``DataAugmentationDINO`` in ``main_dino.py`` of facebookresearch/dino (the same class in
``main_selfpatch.py`` of alinlab/SelfPatch@81aef14). Per crop, in this order:

1. random resized crop (bicubic, PIL): 2 global crops of 224 px with area scale ``(0.4, 1)`` (DINO) or
   ``(0.25, 1)`` (SelfPatch), ``N`` local crops of 96 px with ``(0.05, 0.4)`` or ``(0.05, 0.25)``;
2. horizontal flip, p = 0.5;
3. colour jitter (brightness 0.4, contrast 0.4, saturation 0.2, hue 0.1), p = 0.8;
4. grayscale, p = 0.2;
5. Gaussian blur with a radius drawn uniformly from ``[0.1, 2]`` at every call, p = 1.0 (first global
   crop), 0.1 (second global crop), 0.5 (local crops);
6. solarisation (threshold 128), p = 0.2, on the second global crop only.

mmpretrain's transforms reproduce steps 3-6 exactly: ``GaussianBlur(magnitude_range=(0.1, 2.0),
magnitude_std='inf')`` draws ``U(0.1, 2)`` per call (with a fixed ``radius=`` it would not, the quirk
of mmpretrain's ``projects/dino``). Steps 1-2 use ``RandomResizedCropWithBox`` /
``RandomFlipWithFlag`` so that the crop boxes reach the model (``view_bboxes`` etc., see
:mod:`mmspatial.geometry`). Pack with
``dict(type='PackInputs', algorithm_keys=list(mmspatial.geometry.GEOMETRY_KEYS))``.
"""
from typing import List, Optional, Sequence, Tuple, Union

from mmpretrain.registry import TRANSFORMS

from .geometric import MultiViewWithGeometry

__all__ = ['DINO_COLOR_JITTER', 'dino_view_pipeline', 'DINOMultiCrop']

#: DINO's colour-jitter strengths.
DINO_COLOR_JITTER = dict(brightness=0.4, contrast=0.4, saturation=0.2, hue=0.1)


def dino_view_pipeline(size: Union[int, Sequence[int]],
                       crop_scale: Tuple[float, float],
                       blur_prob: float,
                       solarize_prob: float = 0.,
                       color_jitter: Optional[dict] = None) -> List[dict]:
    """Config of one DINO view pipeline (see the module docstring for the steps).

    Args:
        size (int | tuple[int, int]): output size (``(h, w)`` for a tuple).
        crop_scale (tuple[float, float]): area fraction range of the random resized crop.
        blur_prob (float): probability of the Gaussian blur.
        solarize_prob (float): probability of solarisation (0 leaves it out). Defaults to 0.
        color_jitter (dict, optional): ``ColorJitter`` strengths. Defaults to DINO's
            (:data:`DINO_COLOR_JITTER`).
    """
    jitter = dict(DINO_COLOR_JITTER if color_jitter is None else color_jitter)
    pipeline = [
        dict(
            type='RandomResizedCropWithBox',
            scale=size,
            crop_ratio_range=tuple(crop_scale),
            interpolation='bicubic',
            backend='pillow'),
        dict(type='RandomFlipWithFlag', prob=0.5),
        dict(type='RandomApply', prob=0.8, transforms=[dict(type='SafeHueColorJitter', **jitter)]),
        # BGR images: luma weights in B, G, R order (torchvision's RGB 0.299/0.587/0.114 rule).
        dict(type='RandomGrayscale', prob=0.2, keep_channels=True, channel_weights=(0.114, 0.587, 0.2989)),
        dict(type='GaussianBlur', magnitude_range=(0.1, 2.0), magnitude_std='inf', prob=blur_prob),
    ]
    if solarize_prob > 0:
        pipeline.append(dict(type='Solarize', thr=128, prob=solarize_prob))
    return pipeline


@TRANSFORMS.register_module()
class DINOMultiCrop(MultiViewWithGeometry):
    """2 global + ``num_local_crops`` local crops with DINO's augmentations and recorded geometry.

    ``img`` becomes ``[global_1, global_2, local_1, ..., local_N]``; ``view_bboxes``, ``view_flips``,
    ``view_shapes`` and ``ori_img_shape`` are added (see ``MultiViewWithGeometry``).

    Args:
        global_crop_size (int | tuple[int, int]): Defaults to 224.
        local_crop_size (int | tuple[int, int]): Defaults to 96.
        num_local_crops (int): Defaults to 8 (0 disables local crops).
        global_crop_scale (tuple[float, float]): Defaults to DINO's (0.4, 1.0); SelfPatch (0.25, 1.0).
        local_crop_scale (tuple[float, float]): Defaults to DINO's (0.05, 0.4); SelfPatch (0.05, 0.25).
        global_blur_probs (tuple[float, float]): blur probability of each global crop.
            Defaults to (1.0, 0.1).
        local_blur_prob (float): Defaults to 0.5.
        global_solarize_probs (tuple[float, float]): Defaults to (0.0, 0.2).
        color_jitter (dict, optional): ``ColorJitter`` strengths (applied with p = 0.8). Defaults to
            DINO's brightness 0.4, contrast 0.4, saturation 0.2, hue 0.1.
    """

    def __init__(self,
                 global_crop_size: Union[int, Sequence[int]] = 224,
                 local_crop_size: Union[int, Sequence[int]] = 96,
                 num_local_crops: int = 8,
                 global_crop_scale: Tuple[float, float] = (0.4, 1.0),
                 local_crop_scale: Tuple[float, float] = (0.05, 0.4),
                 global_blur_probs: Tuple[float, float] = (1.0, 0.1),
                 local_blur_prob: float = 0.5,
                 global_solarize_probs: Tuple[float, float] = (0.0, 0.2),
                 color_jitter: Optional[dict] = None) -> None:
        if num_local_crops < 0:
            raise ValueError(f'num_local_crops must be >= 0, got {num_local_crops}')
        if len(global_blur_probs) != 2 or len(global_solarize_probs) != 2:
            raise ValueError('global_blur_probs and global_solarize_probs need one value per global '
                             f'crop (2), got {global_blur_probs} and {global_solarize_probs}')
        transforms = [
            dino_view_pipeline(global_crop_size, global_crop_scale, global_blur_probs[i], global_solarize_probs[i],
                               color_jitter) for i in range(2)
        ]
        num_views = [1, 1]
        if num_local_crops > 0:
            transforms.append(
                dino_view_pipeline(local_crop_size, local_crop_scale, local_blur_prob, color_jitter=color_jitter))
            num_views.append(num_local_crops)
        super().__init__(transforms=transforms, num_views=num_views)
        self.num_local_crops = num_local_crops

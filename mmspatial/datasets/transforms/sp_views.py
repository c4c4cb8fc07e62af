"""Local view pairs for Spatial Prediction (SP), sampled independently of the host method's views.

Shen et al., https://arxiv.org/abs/2605.09963 (abstract only; no reference code). The sampling is our
design (crops of :class:`RandomResizedCropWithBox` with DINO's local-crop ranges, photometric augmentation
only, boxes in original pixels); choices and reasons in ``docs/sp_design.md`` §1.

Place it right after image loading, *before* the host's multi-view transform (which keeps the SP keys and
replaces only ``img``)::

    dict(type='LoadImageFromFile'),
    dict(type='SpatialPredictionViews', num_pairs=1, scale=96),
    dict(type='MultiView', ...),                       # the host's views, unchanged
    dict(type='PackInputs', algorithm_keys=SP_KEYS),   # plus the host's own algorithm keys
"""
import copy
from typing import List, Optional, Sequence, Tuple, Union

import numpy as np
from mmcv.transforms import BaseTransform, Compose
from mmengine.registry import DefaultScope
from mmpretrain.registry import TRANSFORMS

from mmspatial.datasets.transforms.geometric import (_TRACKED_SHAPE, RandomFlipWithFlag, RandomResizedCropWithBox,
                                                     _check_untracked)
from mmspatial.geometry import box_iou_pairwise

#: Keys written by :class:`SpatialPredictionViews`; add them to ``PackInputs(algorithm_keys=...)``.
SP_KEYS = ('sp_imgs', 'sp_boxes', 'sp_flips', 'sp_img_shape')

#: DINO's local-crop photometric augmentation (facebookresearch/dino ``DataAugmentationDINO``:
#: colour jitter p=0.8, grayscale p=0.2, blur p=0.5), written with mmpretrain transforms.
DEFAULT_SP_PHOTOMETRIC = [
    dict(
        type='RandomApply',
        transforms=[dict(type='SafeHueColorJitter', brightness=0.4, contrast=0.4, saturation=0.2, hue=0.1)],
        prob=0.8),
    dict(type='RandomGrayscale', prob=0.2, keep_channels=True, channel_weights=(0.114, 0.587, 0.2989)),
    dict(type='GaussianBlur', magnitude_range=(0.1, 2.0), magnitude_std='inf', prob=0.5),
]


@TRANSFORMS.register_module()
class SpatialPredictionViews(BaseTransform):
    """Sample ``num_pairs`` pairs of local views per image for the SP pretext task.

    Required keys: ``img`` (one image, HxWx3). If an earlier geometry-tracking transform
    (``ResizeWithBox``...) left ``crop_bbox``, boxes are composed with it and ``ori_shape`` is required.

    Added keys (see :data:`SP_KEYS`):

    - ``sp_imgs`` (list[np.ndarray]): ``2 * num_pairs`` views ``(h, w, 3)``; pair ``k`` is
      views ``2k`` and ``2k + 1``;
    - ``sp_boxes`` (np.ndarray, ``(2K, 4)`` float32): their boxes in original-image pixels;
    - ``sp_flips`` (np.ndarray, ``(2K,)`` bool): whether each view is mirrored (never, by default);
    - ``sp_img_shape`` (np.ndarray, ``(2,)`` float32): original image size ``(h, w)``.

    Args:
        num_pairs (int): pairs per image (K). Defaults to 1.
        scale (int | tuple[int, int]): output size of each view. Defaults to 96.
        crop_ratio_range (tuple[float, float]): area fraction of each view. Defaults to (0.05, 0.4)
            (DINO's local crops).
        aspect_ratio_range (tuple[float, float]): w/h range. Defaults to (3/4, 4/3).
        interpolation (str): resize interpolation. Defaults to 'bicubic' (DINO).
        backend (str): 'cv2' or 'pillow'. Defaults to 'cv2'.
        pipeline (list[dict], optional): photometric transforms applied to every view; None gives
            :data:`DEFAULT_SP_PHOTOMETRIC`, ``[]`` none. Geometric transforms are rejected at run time
            (the view must keep its size).
        flip_prob (float): probability to mirror a view (recorded in ``sp_flips``). Defaults to 0.
        max_iou (float, optional): if set, view 2 of a pair is re-drawn until its IoU with view 1 is
            ``<= max_iou`` (0 = non-overlapping); after ``max_attempts`` the least-overlapping draw is
            kept. Defaults to None (no constraint).
        max_attempts (int): draws for ``max_iou``. Defaults to 20.
    """

    def __init__(self,
                 num_pairs: int = 1,
                 scale: Union[int, Sequence[int]] = 96,
                 crop_ratio_range: Tuple[float, float] = (0.05, 0.4),
                 aspect_ratio_range: Tuple[float, float] = (3. / 4., 4. / 3.),
                 interpolation: str = 'bicubic',
                 backend: str = 'cv2',
                 pipeline: Optional[List[dict]] = None,
                 flip_prob: float = 0.0,
                 max_iou: Optional[float] = None,
                 max_attempts: int = 20) -> None:
        if num_pairs < 1:
            raise ValueError(f'SpatialPredictionViews: num_pairs must be >= 1, got {num_pairs}')
        if max_iou is not None and not 0 <= max_iou < 1:
            raise ValueError(f'SpatialPredictionViews: max_iou must be in [0, 1) or None, got {max_iou}')
        if max_attempts < 1:
            raise ValueError(f'SpatialPredictionViews: max_attempts must be >= 1, got {max_attempts}')
        self.num_pairs = num_pairs
        self.crop = RandomResizedCropWithBox(
            scale,
            crop_ratio_range=crop_ratio_range,
            aspect_ratio_range=aspect_ratio_range,
            interpolation=interpolation,
            backend=backend)
        self.flip = RandomFlipWithFlag(flip_prob) if flip_prob > 0 else None
        photometric = DEFAULT_SP_PHOTOMETRIC if pipeline is None else list(pipeline)
        # Built in mmpretrain's scope so that nested wrappers (RandomApply) resolve mmpretrain
        # transforms even when no default scope is set (e.g. outside a Runner).
        with DefaultScope.overwrite_default_scope('mmpretrain'):
            self.photometric = Compose(
                [TRANSFORMS.build(copy.deepcopy(t)) if isinstance(t, dict) else t for t in photometric])
        self.max_iou = max_iou
        self.max_attempts = max_attempts

    def _crop(self, img: np.ndarray, prior: dict) -> dict:
        view = dict(prior, img=img)
        return self.crop.transform(view)

    def _finish(self, view: dict) -> dict:
        if self.flip is not None:
            view = self.flip.transform(view)
        view = self.photometric(view)
        _check_untracked(view, f'{type(self).__name__} photometric pipeline')
        return view

    def _second_view(self, img: np.ndarray, prior: dict, first: dict) -> dict:
        if self.max_iou is None:
            return self._crop(img, prior)
        best, best_iou = None, None
        for _ in range(self.max_attempts):
            cand = self._crop(img, prior)
            iou = float(box_iou_pairwise(first['crop_bbox'][None], cand['crop_bbox'][None])[0, 0])
            if best_iou is None or iou < best_iou:
                best, best_iou = cand, iou
            if iou <= self.max_iou:
                break
        return best

    def transform(self, results: dict) -> dict:
        img = results.get('img')
        if not isinstance(img, np.ndarray):
            raise TypeError(f"{type(self).__name__} needs one image in results['img'] (file: "
                            f"{results.get('img_path')}), got {type(img).__name__}: place it before the host's "
                            'multi-view transform (MultiView / MultiViewWithGeometry)')
        prior = {k: results[k] for k in ('crop_bbox', 'flip', _TRACKED_SHAPE) if k in results}
        if 'crop_bbox' in prior:
            if 'ori_shape' not in results:
                raise KeyError(f'{type(self).__name__}: the image was already cropped/resized '
                               "(crop_bbox present) but results has no 'ori_shape'")
            image_size = results['ori_shape'][:2]
        else:
            image_size = img.shape[:2]
        views = []
        for _ in range(self.num_pairs):
            first = self._crop(img, prior)
            second = self._second_view(img, prior, first)
            views += [self._finish(first), self._finish(second)]
        results['sp_imgs'] = [v['img'] for v in views]
        results['sp_boxes'] = np.stack([v['crop_bbox'] for v in views]).astype(np.float32)
        results['sp_flips'] = np.array([bool(v['flip']) for v in views], dtype=bool)
        results['sp_img_shape'] = np.array(image_size, dtype=np.float32)
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(num_pairs={self.num_pairs}, crop={self.crop!r}, '
                f'flip={self.flip!r}, photometric={self.photometric!r}, max_iou={self.max_iou})')

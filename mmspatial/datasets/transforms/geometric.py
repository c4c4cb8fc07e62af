"""Geometry-aware crop, flip, resize and multi-view wrapper.

mmpretrain's ``RandomResizedCrop`` and ``MultiView`` throw away where a view came from. The transforms
here keep, in the results dict, the region of the *original* image the current image shows
(``crop_bbox``, original pixels, see :mod:`mmspatial.geometry`) and whether it is mirrored (``flip``).
They compose: a crop of an already resized or flipped image is mapped back to original pixels.
:class:`MultiViewWithGeometry` gathers this per view into ``view_bboxes``, ``view_flips``,
``view_shapes`` and ``ori_img_shape`` for ``PackInputs(algorithm_keys=...)``.
"""
import copy
import math
from typing import Dict, List, Optional, Sequence, Tuple, Union

import mmcv
import numpy as np
from mmcv.transforms import BaseTransform, Compose
from mmpretrain.registry import TRANSFORMS

from mmspatial.geometry import boxes_view_to_image

# Internal key: image size our transforms last produced, used to detect untracked geometric ops.
_TRACKED_SHAPE = 'geometry_img_shape'


def _init_geometry(results: dict) -> None:
    """Start tracking from the loaded image: the whole image, not flipped."""
    if 'crop_bbox' not in results:
        h, w = results['img'].shape[:2]
        results['crop_bbox'] = np.array([0, 0, w, h], dtype=np.float32)
        results['flip'] = False
        results[_TRACKED_SHAPE] = (h, w)


def _check_untracked(results: dict, where: str) -> None:
    """Fail loudly if a transform that does not track geometry resized or cropped the image."""
    tracked = results.get(_TRACKED_SHAPE)
    actual = tuple(results['img'].shape[:2])
    if tracked is not None and tuple(tracked) != actual:
        raise RuntimeError(f'{where}: the image is {actual} but the geometry was tracked for {tuple(tracked)}; a '
                           'transform that does not record its crop/resize ran in between. Use '
                           'RandomResizedCropWithBox / ResizeWithBox / RandomFlipWithFlag for geometric ops.')


def _to_size(scale: Union[int, Sequence[int]]) -> Tuple[int, int]:
    """``224 -> (224, 224)``; ``(h, w)`` is kept (mmpretrain's ``RandomResizedCrop`` convention)."""
    if isinstance(scale, int):
        return scale, scale
    if len(scale) != 2:
        raise ValueError(f'scale must be an int or (h, w), got {scale}')
    return int(scale[0]), int(scale[1])


@TRANSFORMS.register_module()
class RandomResizedCropWithBox(BaseTransform):
    """Random resized crop that records its box in original-image pixels.

    Sampling follows ``torchvision.transforms.RandomResizedCrop.get_params`` (used by the SCRL, DINO and
    SelfPatch reference code): up to ``max_attempts`` draws of an area fraction in
    ``crop_ratio_range`` and a log-uniform aspect ratio, then a central crop fallback.

    Required keys: ``img``. Modified: ``img``, ``img_shape``. Added: ``crop_bbox``, ``flip``.

    Args:
        scale (int | tuple[int, int]): output size; an int gives a square, a tuple is ``(h, w)``.
        crop_ratio_range (tuple[float, float]): area fraction range. Defaults to (0.08, 1.0).
        aspect_ratio_range (tuple[float, float]): w/h range. Defaults to (3/4, 4/3).
        max_attempts (int): draws before the central-crop fallback. Defaults to 10.
        interpolation (str): 'nearest', 'bilinear', 'bicubic', 'area' or 'lanczos'. Defaults to
            'bilinear'.
        backend (str): 'cv2' or 'pillow' (pillow matches torchvision's PIL resizing). Defaults to 'cv2'.
    """

    def __init__(self,
                 scale: Union[int, Sequence[int]],
                 crop_ratio_range: Tuple[float, float] = (0.08, 1.0),
                 aspect_ratio_range: Tuple[float, float] = (3. / 4., 4. / 3.),
                 max_attempts: int = 10,
                 interpolation: str = 'bilinear',
                 backend: str = 'cv2') -> None:
        self.scale = _to_size(scale)
        if not 0 < crop_ratio_range[0] <= crop_ratio_range[1] <= 1:
            raise ValueError(f'crop_ratio_range must satisfy 0 < lo <= hi <= 1, got {crop_ratio_range}')
        if not 0 < aspect_ratio_range[0] <= aspect_ratio_range[1]:
            raise ValueError(f'invalid aspect_ratio_range {aspect_ratio_range}')
        self.crop_ratio_range = tuple(crop_ratio_range)
        self.aspect_ratio_range = tuple(aspect_ratio_range)
        self.max_attempts = max_attempts
        self.interpolation = interpolation
        self.backend = backend

    def sample_crop(self, img_h: int, img_w: int) -> Tuple[int, int, int, int]:
        """Return ``(top, left, h, w)`` of a crop of an ``img_h x img_w`` image."""
        area = img_h * img_w
        log_ratio = (math.log(self.aspect_ratio_range[0]), math.log(self.aspect_ratio_range[1]))
        for _ in range(self.max_attempts):
            target_area = area * np.random.uniform(*self.crop_ratio_range)
            aspect = math.exp(np.random.uniform(*log_ratio))
            w = int(round(math.sqrt(target_area * aspect)))
            h = int(round(math.sqrt(target_area / aspect)))
            if 0 < w <= img_w and 0 < h <= img_h:
                top = np.random.randint(0, img_h - h + 1)
                left = np.random.randint(0, img_w - w + 1)
                return top, left, h, w
        # Fallback: central crop with the aspect ratio clamped into range (torchvision's rule).
        in_ratio = img_w / img_h
        if in_ratio < self.aspect_ratio_range[0]:
            w = img_w
            h = int(round(w / self.aspect_ratio_range[0]))
        elif in_ratio > self.aspect_ratio_range[1]:
            h = img_h
            w = int(round(h * self.aspect_ratio_range[1]))
        else:
            w, h = img_w, img_h
        h, w = max(min(h, img_h), 1), max(min(w, img_w), 1)
        return (img_h - h) // 2, (img_w - w) // 2, h, w

    def transform(self, results: dict) -> dict:
        _init_geometry(results)
        _check_untracked(results, type(self).__name__)
        img = results['img']
        img_h, img_w = img.shape[:2]
        top, left, h, w = self.sample_crop(img_h, img_w)
        cropped = img[top:top + h, left:left + w]
        out_h, out_w = self.scale
        results['img'] = mmcv.imresize(cropped, (out_w, out_h), interpolation=self.interpolation, backend=self.backend)
        # The crop is in the current image's pixels: compose with what the image already was.
        box = np.array([left, top, left + w, top + h], dtype=np.float32)
        results['crop_bbox'] = boxes_view_to_image(box, results['crop_bbox'], results['flip'], (img_h, img_w)).numpy()
        results['img_shape'] = (out_h, out_w)
        results[_TRACKED_SHAPE] = (out_h, out_w)
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(scale={self.scale}, crop_ratio_range={self.crop_ratio_range}, '
                f'aspect_ratio_range={self.aspect_ratio_range}, interpolation={self.interpolation}, '
                f'backend={self.backend})')


@TRANSFORMS.register_module()
class ResizeWithBox(BaseTransform):
    """Resize the whole image to ``scale`` (``(h, w)`` or int); the covered region is unchanged.

    Args:
        scale (int | tuple[int, int]): output size.
        interpolation (str): see :class:`RandomResizedCropWithBox`. Defaults to 'bilinear'.
        backend (str): 'cv2' or 'pillow'. Defaults to 'cv2'.
    """

    def __init__(self, scale: Union[int, Sequence[int]], interpolation: str = 'bilinear', backend: str = 'cv2') -> None:
        self.scale = _to_size(scale)
        self.interpolation = interpolation
        self.backend = backend

    def transform(self, results: dict) -> dict:
        _init_geometry(results)
        _check_untracked(results, type(self).__name__)
        out_h, out_w = self.scale
        results['img'] = mmcv.imresize(
            results['img'], (out_w, out_h), interpolation=self.interpolation, backend=self.backend)
        results['img_shape'] = (out_h, out_w)
        results[_TRACKED_SHAPE] = (out_h, out_w)
        return results


@TRANSFORMS.register_module()
class RandomFlipWithFlag(BaseTransform):
    """Horizontal flip with probability ``prob`` that records it in ``flip``.

    A second flip of the same image toggles the flag back, so the recorded flag always says whether the
    current image is mirrored with respect to the original.

    Args:
        prob (float): flip probability. Defaults to 0.5.
    """

    def __init__(self, prob: float = 0.5) -> None:
        if not 0 <= prob <= 1:
            raise ValueError(f'prob must be in [0, 1], got {prob}')
        self.prob = prob

    def transform(self, results: dict) -> dict:
        _init_geometry(results)
        _check_untracked(results, type(self).__name__)
        if np.random.rand() < self.prob:
            results['img'] = np.ascontiguousarray(results['img'][:, ::-1])
            results['flip'] = not results['flip']
            results['flip_direction'] = 'horizontal'
        return results

    def __repr__(self) -> str:
        return f'{type(self).__name__}(prob={self.prob})'


@TRANSFORMS.register_module()
class MultiViewWithGeometry(BaseTransform):
    """``MultiView`` that also keeps where every view came from.

    Like mmpretrain's ``MultiView``, each sub-pipeline is applied ``num_views[i]`` times to a copy of the
    input, and ``img`` becomes the list of views. In addition it writes:

    - ``view_bboxes`` (np.ndarray, ``(V, 4)`` float32): crop of each view in original-image pixels;
    - ``view_flips`` (np.ndarray, ``(V,)`` bool): whether each view is mirrored;
    - ``view_shapes`` (np.ndarray, ``(V, 2)`` float32): ``(h, w)`` of each view;
    - ``ori_img_shape`` (np.ndarray, ``(2,)`` float32): ``(h, w)`` of the original image;
    - for every key in ``extra_keys``, ``view_<key>``: the list of that key's per-view values.

    Pack them with ``PackInputs(algorithm_keys=mmspatial.geometry.GEOMETRY_KEYS)``; they reach the model
    through ``data_samples`` (see :func:`mmspatial.geometry.collect_view_geometry`).

    Args:
        transforms (list[list[dict | callable]]): one pipeline per view group.
        num_views (int | list[int]): how many views each pipeline makes.
        extra_keys (Sequence[str]): further per-view keys to collect. Defaults to ().
    """

    def __init__(self,
                 transforms: List[List[Union[dict, callable]]],
                 num_views: Union[int, List[int]],
                 extra_keys: Sequence[str] = ()) -> None:
        if isinstance(num_views, int):
            num_views = [num_views]
        if len(num_views) != len(transforms):
            raise ValueError(f'num_views {num_views} and transforms ({len(transforms)} pipelines) '
                             'must have the same length')
        self.num_views = list(num_views)
        self.pipelines = [Compose(t) for t in transforms]
        self.extra_keys = tuple(extra_keys)

    def transform(self, results: dict) -> Optional[dict]:
        if results.get('img') is None:
            raise ValueError(f"no image in results (file: {results.get('img_path')})")
        ori_h, ori_w = results['img'].shape[:2]
        imgs, boxes, flips, shapes = [], [], [], []
        extras: Dict[str, list] = {k: [] for k in self.extra_keys}
        for pipeline, n in zip(self.pipelines, self.num_views):
            for _ in range(n):
                view = copy.deepcopy(results)
                for key in ('crop_bbox', 'flip', _TRACKED_SHAPE):
                    view.pop(key, None)
                _init_geometry(view)
                view = pipeline(view)
                if view is None:  # a sub-transform asked to drop the sample
                    return None
                _check_untracked(view, f'{type(self).__name__} (view {len(imgs)})')
                imgs.append(view['img'])
                boxes.append(view['crop_bbox'])
                flips.append(view['flip'])
                shapes.append(view['img'].shape[:2])
                for key in self.extra_keys:
                    extras[key].append(view.get(key))
        results['img'] = imgs
        results['view_bboxes'] = np.stack(boxes).astype(np.float32)
        results['view_flips'] = np.array(flips, dtype=bool)
        results['view_shapes'] = np.array(shapes, dtype=np.float32)
        results['ori_img_shape'] = np.array([ori_h, ori_w], dtype=np.float32)
        for key, values in extras.items():
            results[f'view_{key}'] = values
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(num_views={self.num_views}, pipelines={self.pipelines}, '
                f'extra_keys={self.extra_keys})')

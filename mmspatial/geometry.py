"""View geometry shared by SCRL, SelfPatch and Spatial Prediction.

Every view produced by the geometry-aware pipeline (``mmspatial.datasets.transforms.geometric``) is
described by

* ``crop_bbox``: the region of the *original* image the view shows, ``(x1, y1, x2, y2)`` in original
  pixels (continuous coordinates: pixel ``i`` covers ``[i, i + 1)``, so a crop of ``w`` pixels starting
  at ``left`` is ``(left, left + w)``, exactly the ``(top, left, h, w)`` crop of torchvision);
* ``flip``: whether the view was mirrored horizontally after cropping;
* ``view_size``: its output size ``(h, w)`` in pixels.

A point ``x`` of the original image lands in the view at ``(x - x1) * w / (x2 - x1)``, mirrored to
``w - x'`` when flipped. That is the mapping of SCRL's ``models/box_generator.py`` (kakaobrain/scrl,
after the flip fix of commit 33e8b6e), written for arbitrary view sizes and non-square images.

All functions are pure, vectorised over leading batch dimensions and work on ``torch.Tensor`` (float).
Boxes are ``(..., 4)`` tensors ``(x1, y1, x2, y2)``; points are ``(..., 2)`` tensors ``(x, y)``.
"""
from dataclasses import dataclass
from typing import List, Sequence, Tuple, Union

import numpy as np
import torch
from torch import Tensor

ArrayLike = Union[Tensor, np.ndarray, Sequence[float]]

__all__ = [
    'ViewGeometry', 'as_tensor', 'box_area', 'box_intersection', 'box_iou_pairwise', 'clip_boxes',
    'points_image_to_view', 'points_view_to_image', 'boxes_image_to_view', 'boxes_view_to_image',
    'map_boxes_between_views', 'collect_view_geometry', 'GEOMETRY_KEYS'
]

#: Keys the multi-view wrapper writes and ``PackInputs(algorithm_keys=...)`` must carry.
GEOMETRY_KEYS = ('view_bboxes', 'view_flips', 'view_shapes', 'ori_img_shape')


def as_tensor(x: ArrayLike, dtype: torch.dtype = torch.float32) -> Tensor:
    """Convert boxes/points/flags given as tensors, arrays or lists to a tensor of ``dtype``."""
    if isinstance(x, Tensor):
        return x.to(dtype)
    return torch.as_tensor(np.asarray(x), dtype=dtype)


def _broadcast_view(crop_bbox: ArrayLike, flip: ArrayLike, view_size: ArrayLike, like: Tensor):
    """Return per-view ``x1, y1, sx, sy, flip, w`` shaped to broadcast against ``like[..., 0]``."""
    crop = as_tensor(crop_bbox).to(like.device)
    size = as_tensor(view_size).to(like.device)
    flips = as_tensor(flip, torch.bool).to(like.device)
    # Add trailing singleton dims so a per-view geometry broadcasts over the boxes of that view.
    extra = like.dim() - 1 - (crop.dim() - 1)
    for _ in range(max(extra, 0)):
        crop, size, flips = crop.unsqueeze(-2), size.unsqueeze(-2), flips.unsqueeze(-1)
    crop_w = crop[..., 2] - crop[..., 0]
    crop_h = crop[..., 3] - crop[..., 1]
    if bool((crop_w <= 0).any()) or bool((crop_h <= 0).any()):
        raise ValueError(f'crop_bbox must have x2 > x1 and y2 > y1, got {crop_bbox}')
    view_h, view_w = size[..., 0], size[..., 1]
    return crop[..., 0], crop[..., 1], view_w / crop_w, view_h / crop_h, flips, view_w


def points_image_to_view(points: ArrayLike, crop_bbox: ArrayLike, flip: ArrayLike, view_size: ArrayLike) -> Tensor:
    """Map points from original-image pixels into a view's pixels.

    Args:
        points (Tensor | array): ``(..., 2)`` points ``(x, y)`` in original-image pixels.
        crop_bbox (Tensor | array): ``(..., 4)`` crop of the view (broadcastable to the points).
        flip (Tensor | array | bool): whether the view is mirrored horizontally.
        view_size (Tensor | array): ``(..., 2)`` view size ``(h, w)``.

    Returns:
        Tensor: ``(..., 2)`` points in view pixels (may fall outside the view).
    """
    pts = as_tensor(points)
    x1, y1, sx, sy, flips, view_w = _broadcast_view(crop_bbox, flip, view_size, pts)
    x = (pts[..., 0] - x1) * sx
    y = (pts[..., 1] - y1) * sy
    x = torch.where(flips, view_w - x, x)
    return torch.stack([x, y], dim=-1)


def points_view_to_image(points: ArrayLike, crop_bbox: ArrayLike, flip: ArrayLike, view_size: ArrayLike) -> Tensor:
    """Inverse of :func:`points_image_to_view`: view pixels back to original-image pixels."""
    pts = as_tensor(points)
    x1, y1, sx, sy, flips, view_w = _broadcast_view(crop_bbox, flip, view_size, pts)
    x = torch.where(flips, view_w - pts[..., 0], pts[..., 0])
    return torch.stack([x / sx + x1, pts[..., 1] / sy + y1], dim=-1)


def _corners_to_box(p1: Tensor, p2: Tensor) -> Tensor:
    """Box spanned by two opposite corners; a flip swaps left and right, so re-order them."""
    return torch.cat([torch.minimum(p1, p2), torch.maximum(p1, p2)], dim=-1)


def boxes_image_to_view(boxes: ArrayLike, crop_bbox: ArrayLike, flip: ArrayLike, view_size: ArrayLike) -> Tensor:
    """Map ``(..., 4)`` boxes from original-image pixels into a view (flip handled, not clipped)."""
    b = as_tensor(boxes)
    p1 = points_image_to_view(b[..., 0:2], crop_bbox, flip, view_size)
    p2 = points_image_to_view(b[..., 2:4], crop_bbox, flip, view_size)
    return _corners_to_box(p1, p2)


def boxes_view_to_image(boxes: ArrayLike, crop_bbox: ArrayLike, flip: ArrayLike, view_size: ArrayLike) -> Tensor:
    """Map ``(..., 4)`` boxes from a view back to original-image pixels."""
    b = as_tensor(boxes)
    p1 = points_view_to_image(b[..., 0:2], crop_bbox, flip, view_size)
    p2 = points_view_to_image(b[..., 2:4], crop_bbox, flip, view_size)
    return _corners_to_box(p1, p2)


def map_boxes_between_views(boxes: ArrayLike, src: 'ViewGeometry', dst: 'ViewGeometry') -> Tensor:
    """Express boxes given in view ``src``'s pixels in view ``dst``'s pixels (same original image)."""
    in_image = boxes_view_to_image(boxes, src.crop_bbox, src.flip, src.view_size)
    return boxes_image_to_view(in_image, dst.crop_bbox, dst.flip, dst.view_size)


def box_area(boxes: ArrayLike) -> Tensor:
    """Area of ``(..., 4)`` boxes; empty boxes have area 0."""
    b = as_tensor(boxes)
    return (b[..., 2] - b[..., 0]).clamp(min=0) * (b[..., 3] - b[..., 1]).clamp(min=0)


def box_intersection(boxes1: ArrayLike, boxes2: ArrayLike) -> Tuple[Tensor, Tensor]:
    """Element-wise intersection of two sets of boxes (e.g. the crops of two views).

    Returns:
        tuple[Tensor, Tensor]: the intersection boxes ``(..., 4)`` and a boolean mask ``(...)`` that is
        False where the boxes do not overlap (touching edges count as no overlap). Where the mask is
        False the returned box is degenerate and must not be used.
    """
    a, b = as_tensor(boxes1), as_tensor(boxes2)
    inter = torch.cat([torch.maximum(a[..., :2], b[..., :2]), torch.minimum(a[..., 2:], b[..., 2:])], dim=-1)
    valid = (inter[..., 2] > inter[..., 0]) & (inter[..., 3] > inter[..., 1])
    return inter, valid


def box_iou_pairwise(boxes1: ArrayLike, boxes2: ArrayLike) -> Tensor:
    """IoU of every box in ``boxes1 (..., N, 4)`` with every box in ``boxes2 (..., M, 4)`` -> ``(..., N, M)``."""
    a, b = as_tensor(boxes1), as_tensor(boxes2)
    inter, _ = box_intersection(a[..., :, None, :], b[..., None, :, :])
    inter_area = box_area(inter)
    union = box_area(a)[..., :, None] + box_area(b)[..., None, :] - inter_area
    return inter_area / union.clamp(min=1e-12)


def clip_boxes(boxes: ArrayLike, view_size: ArrayLike) -> Tensor:
    """Clip ``(..., 4)`` boxes to ``[0, w] x [0, h]`` of a view of size ``(h, w)``."""
    b = as_tensor(boxes)
    size = as_tensor(view_size).to(b.device)
    while size.dim() < b.dim():
        size = size.unsqueeze(-2)
    h, w = size[..., 0:1], size[..., 1:2]
    x = b[..., 0::2].clamp(min=0)
    y = b[..., 1::2].clamp(min=0)
    x, y = torch.minimum(x, w), torch.minimum(y, h)
    return torch.stack([x[..., 0], y[..., 0], x[..., 1], y[..., 1]], dim=-1)


@dataclass
class ViewGeometry:
    """Geometry of one view for a batch of images.

    Attributes:
        crop_bbox (Tensor): ``(B, 4)`` crop in original-image pixels.
        flip (Tensor): ``(B,)`` bool, horizontally mirrored.
        view_size (Tensor): ``(B, 2)`` output size ``(h, w)``.
        image_size (Tensor): ``(B, 2)`` original image size ``(h, w)``.
    """
    crop_bbox: Tensor
    flip: Tensor
    view_size: Tensor
    image_size: Tensor

    def to(self, device: Union[str, torch.device]) -> 'ViewGeometry':
        return ViewGeometry(
            self.crop_bbox.to(device), self.flip.to(device), self.view_size.to(device), self.image_size.to(device))

    def image_to_view(self, boxes: ArrayLike) -> Tensor:
        """Map ``(B, ..., 4)`` boxes in original-image pixels into this view."""
        return boxes_image_to_view(boxes, self.crop_bbox, self.flip, self.view_size)

    def view_to_image(self, boxes: ArrayLike) -> Tensor:
        """Map ``(B, ..., 4)`` boxes in this view's pixels back to original-image pixels."""
        return boxes_view_to_image(boxes, self.crop_bbox, self.flip, self.view_size)


def collect_view_geometry(data_samples: Sequence, device: Union[str, torch.device, None] = None) -> List[ViewGeometry]:
    """Stack the per-sample geometry written by the multi-view wrapper into one object per view.

    Args:
        data_samples (Sequence[DataSample]): samples carrying the fields of :data:`GEOMETRY_KEYS`
            (``PackInputs(algorithm_keys=GEOMETRY_KEYS)``).
        device: where to put the tensors; defaults to CPU.

    Returns:
        list[ViewGeometry]: one entry per view, each batched over the samples.
    """
    missing = [k for k in GEOMETRY_KEYS if k not in data_samples[0]]
    if missing:
        raise KeyError(f'data samples carry no view geometry {missing}: build the pipeline with '
                       "'MultiViewWithGeometry' and pack it with "
                       f'PackInputs(algorithm_keys={list(GEOMETRY_KEYS)})')
    boxes = torch.stack([as_tensor(s.view_bboxes) for s in data_samples])  # B, V, 4
    flips = torch.stack([as_tensor(s.view_flips, torch.bool) for s in data_samples])  # B, V
    sizes = torch.stack([as_tensor(s.view_shapes) for s in data_samples])  # B, V, 2
    image = torch.stack([as_tensor(s.ori_img_shape) for s in data_samples])  # B, 2
    views = [ViewGeometry(boxes[:, v], flips[:, v], sizes[:, v], image) for v in range(boxes.shape[1])]
    return [v.to(device) for v in views] if device is not None else views

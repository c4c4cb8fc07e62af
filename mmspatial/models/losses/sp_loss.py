"""Spatial Prediction (SP): regression target and loss.

Shen et al., "Learning to Perceive 'Where': Spatial Pretext Tasks for Robust Self-Supervised Learning",
https://arxiv.org/abs/2605.09963 (abstract only; no reference code). The target and the loss are our design:
choices, alternatives and reasons in ``docs/sp_design.md`` §2-3.

Target of a pair with boxes ``b1, b2`` (``(x1, y1, x2, y2)`` in original-image pixels, centre ``c``,
size ``(w, h)``) in an image of size ``(H, W)``::

    t = ((cx2 - cx1) / W, (cy2 - cy1) / H, log(w2 / w1), log(h2 / h1))      # offset_norm='image'
    t = ((cx2 - cx1) / w1, (cy2 - cy1) / h1, log(w2 / w1), log(h2 / h1))    # offset_norm='view1'

It is computed from the boxes alone, so it does not depend on how or where the views were resized.
"""
from typing import Optional

import torch
import torch.nn.functional as F
from mmpretrain.registry import MODELS
from torch import Tensor, nn

from mmspatial.geometry import ArrayLike, as_tensor

OFFSET_NORMS = ('image', 'view1')


def spatial_prediction_targets(boxes1: ArrayLike,
                               boxes2: ArrayLike,
                               image_size: ArrayLike,
                               offset_norm: str = 'image') -> Tensor:
    """Relative position and scale of view 2 with respect to view 1.

    Args:
        boxes1 (Tensor | array): ``(..., 4)`` boxes of the first views, original-image pixels.
        boxes2 (Tensor | array): ``(..., 4)`` boxes of the second views.
        image_size (Tensor | array): ``(..., 2)`` original image size ``(h, w)``, broadcastable to the
            boxes' leading dims (only used by ``offset_norm='image'``).
        offset_norm (str): ``'image'`` divides the centre offsets by the image size (default),
            ``'view1'`` by the first view's size.

    Returns:
        Tensor: ``(..., 4)`` targets ``(dx, dy, log w2/w1, log h2/h1)``.
    """
    if offset_norm not in OFFSET_NORMS:
        raise ValueError(f'offset_norm must be one of {OFFSET_NORMS}, got {offset_norm!r}')
    b1, b2 = as_tensor(boxes1), as_tensor(boxes2)
    size = as_tensor(image_size).to(b1.device)
    w1, h1 = b1[..., 2] - b1[..., 0], b1[..., 3] - b1[..., 1]
    w2, h2 = b2[..., 2] - b2[..., 0], b2[..., 3] - b2[..., 1]
    if bool((w1 <= 0).any() | (h1 <= 0).any() | (w2 <= 0).any() | (h2 <= 0).any()):
        raise ValueError('spatial_prediction_targets: every box needs x2 > x1 and y2 > y1')
    dcx = (b2[..., 0] + b2[..., 2] - b1[..., 0] - b1[..., 2]) / 2
    dcy = (b2[..., 1] + b2[..., 3] - b1[..., 1] - b1[..., 3]) / 2
    if offset_norm == 'image':
        norm_x, norm_y = size[..., 1], size[..., 0]
    else:
        norm_x, norm_y = w1, h1
    return torch.stack([dcx / norm_x, dcy / norm_y, torch.log(w2 / w1), torch.log(h2 / h1)], dim=-1)


def spatial_prediction_boxes(boxes1: ArrayLike,
                             targets: ArrayLike,
                             image_size: ArrayLike,
                             offset_norm: str = 'image') -> Tensor:
    """Inverse of :func:`spatial_prediction_targets`: view 2's box from view 1's box and a target.

    Used to draw a prediction as a box (``tools/visualization/draw_sp_boxes.py``).

    Args:
        boxes1 (Tensor | array): ``(N, 4)`` boxes of view 1, ``(x1, y1, x2, y2)`` in original pixels.
        targets (Tensor | array): ``(N, 4)`` ``(dx, dy, log w2/w1, log h2/h1)`` (true or predicted).
        image_size (Tensor | array): ``(N, 2)`` or ``(2,)`` original image size ``(h, w)``.
        offset_norm (str): ``'image'`` or ``'view1'``, as in the target.

    Returns:
        Tensor: ``(N, 4)`` boxes of view 2 in original pixels (may extend beyond the image).
    """
    if offset_norm not in OFFSET_NORMS:
        raise ValueError(f'offset_norm must be one of {OFFSET_NORMS}, got {offset_norm!r}')
    b1, t = as_tensor(boxes1), as_tensor(targets)
    size = as_tensor(image_size).to(b1.device).expand(len(b1), 2)
    w1, h1 = b1[:, 2] - b1[:, 0], b1[:, 3] - b1[:, 1]
    norm_x, norm_y = (size[:, 1], size[:, 0]) if offset_norm == 'image' else (w1, h1)
    cx = (b1[:, 0] + b1[:, 2]) / 2 + t[:, 0] * norm_x
    cy = (b1[:, 1] + b1[:, 3]) / 2 + t[:, 1] * norm_y
    w2, h2 = w1 * torch.exp(t[:, 2]), h1 * torch.exp(t[:, 3])
    return torch.stack([cx - w2 / 2, cy - h2 / 2, cx + w2 / 2, cy + h2 / 2], dim=1)


@MODELS.register_module()
class SpatialRegressionLoss(nn.Module):
    """Element-wise regression loss for the SP targets, averaged over pairs and components.

    Why smooth-L1 by default: ``docs/sp_design.md`` §3.

    Args:
        mode (str): ``'smooth_l1'``, ``'l1'`` or ``'l2'``. Defaults to ``'smooth_l1'``.
        beta (float): smooth-L1 transition point. Defaults to 1.0.
        component_weights (Sequence[float], optional): per-component weights for
            ``(dx, dy, dlogw, dlogh)``. Defaults to None (all 1).
    """

    MODES = ('smooth_l1', 'l1', 'l2')

    def __init__(self, mode: str = 'smooth_l1', beta: float = 1.0, component_weights: Optional[list] = None) -> None:
        super().__init__()
        if mode not in self.MODES:
            raise ValueError(f'SpatialRegressionLoss: mode must be one of {self.MODES}, got {mode!r}')
        if beta <= 0:
            raise ValueError(f'SpatialRegressionLoss: beta must be positive, got {beta}')
        self.mode = mode
        self.beta = beta
        weights = torch.ones(4) if component_weights is None else torch.as_tensor(
            component_weights, dtype=torch.float32)
        if weights.shape != (4, ):
            raise ValueError(f'component_weights must have 4 entries, got {component_weights}')
        self.register_buffer('component_weights', weights, persistent=False)

    def forward(self, pred: Tensor, target: Tensor) -> Tensor:
        if pred.shape != target.shape or pred.shape[-1] != 4:
            raise ValueError(f'pred {tuple(pred.shape)} and target {tuple(target.shape)} must both be '
                             '(N, 4)')
        target = target.to(pred.dtype)
        if self.mode == 'smooth_l1':
            loss = F.smooth_l1_loss(pred, target, beta=self.beta, reduction='none')
        elif self.mode == 'l1':
            loss = (pred - target).abs()
        else:
            loss = (pred - target)**2
        return (loss * self.component_weights.to(loss.dtype)).mean()

"""Spatial Prediction (SP) head: an MLP over the pooled embeddings of two views.

Shen et al., https://arxiv.org/abs/2605.09963 (abstract only; no reference code). Our design, reasons in
``docs/sp_design.md`` §3: the pair feature is ``[e1, e2]`` (options: append ``e1 - e2`` and/or
``e1 * e2``), followed by ``num_layers`` Linear layers with norm + ReLU in between, output 4 numbers
``(dx, dy, log w2/w1, log h2/h1)`` as defined by
:func:`mmspatial.models.losses.sp_loss.spatial_prediction_targets`.
"""
from typing import Optional, Sequence

import torch
from mmengine.model import BaseModule
from mmpretrain.registry import MODELS
from torch import Tensor, nn

from mmspatial.geometry import ArrayLike
from mmspatial.models.losses.sp_loss import OFFSET_NORMS, spatial_prediction_targets

PAIR_FEATURES = ('concat', 'diff', 'prod')


def pair_features(e1: Tensor, e2: Tensor, fusion: Sequence[str] = ('concat', )) -> Tensor:
    """Build the pair feature: ``'concat'`` -> ``[e1, e2]``, ``'diff'`` -> ``e1 - e2``,
    ``'prod'`` -> ``e1 * e2``, concatenated in the order given."""
    parts = []
    for name in fusion:
        if name == 'concat':
            parts += [e1, e2]
        elif name == 'diff':
            parts.append(e1 - e2)
        elif name == 'prod':
            parts.append(e1 * e2)
        else:
            raise ValueError(f'unknown pair feature {name!r}; choose from {PAIR_FEATURES}')
    return torch.cat(parts, dim=-1)


def _fused_dims(in_channels: int, fusion: Sequence[str]) -> int:
    return sum(2 * in_channels if f == 'concat' else in_channels for f in fusion)


@MODELS.register_module()
class SpatialPredictionHead(BaseModule):
    """Regress the relative position and scale of view 2 with respect to view 1.

    Args:
        in_channels (int): size of one view's pooled embedding.
        hid_channels (int): hidden width. Defaults to 512.
        num_layers (int): number of Linear layers (>= 1; 1 is a linear head). Defaults to 2.
        fusion (Sequence[str]): pair feature, any of ``'concat'``, ``'diff'``, ``'prod'``.
            Defaults to ``('concat',)``.
        norm_cfg (dict, optional): norm after each hidden Linear (``BN1d``, ``LN`` or None).
            Defaults to ``dict(type='BN1d')`` (as in mmpretrain's ``NonLinearNeck``).
        offset_norm (str): ``'image'`` or ``'view1'``, see ``spatial_prediction_targets``.
            Defaults to ``'image'``.
        symmetric (bool): also predict the swapped pair ``(v2, v1)`` against its own target.
            Defaults to False.
        loss (dict): the regression loss. Defaults to ``dict(type='SpatialRegressionLoss')``.
        init_cfg (dict, optional): initialisation config.
    """

    def __init__(self,
                 in_channels: int,
                 hid_channels: int = 512,
                 num_layers: int = 2,
                 fusion: Sequence[str] = ('concat', ),
                 norm_cfg: Optional[dict] = dict(type='BN1d'),
                 offset_norm: str = 'image',
                 symmetric: bool = False,
                 loss: dict = dict(type='SpatialRegressionLoss'),
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if in_channels <= 0:
            raise ValueError(f'SpatialPredictionHead: in_channels must be positive, got {in_channels}')
        if num_layers < 1:
            raise ValueError(f'SpatialPredictionHead: num_layers must be >= 1, got {num_layers}')
        fusion = tuple(fusion)
        if not fusion or any(f not in PAIR_FEATURES for f in fusion):
            raise ValueError(f'SpatialPredictionHead: fusion must be a non-empty subset of '
                             f'{PAIR_FEATURES}, got {fusion}')
        if offset_norm not in OFFSET_NORMS:
            raise ValueError(f'SpatialPredictionHead: offset_norm must be one of {OFFSET_NORMS}, '
                             f'got {offset_norm!r}')
        self.in_channels = in_channels
        self.fusion = fusion
        self.offset_norm = offset_norm
        self.symmetric = symmetric
        layers = []
        dims = [_fused_dims(in_channels, fusion)] + [hid_channels] * (num_layers - 1) + [4]
        for i in range(num_layers):
            layers.append(nn.Linear(dims[i], dims[i + 1]))
            if i < num_layers - 1:
                if norm_cfg is not None:
                    layers.append(self._norm(norm_cfg, dims[i + 1]))
                layers.append(nn.ReLU(inplace=True))
        self.mlp = nn.Sequential(*layers)
        self.loss_module = MODELS.build(loss)

    @staticmethod
    def _norm(norm_cfg: dict, channels: int) -> nn.Module:
        kind = norm_cfg.get('type')
        if kind in ('BN1d', 'BN'):
            return nn.BatchNorm1d(channels)
        if kind == 'LN':
            return nn.LayerNorm(channels)
        raise ValueError(f"SpatialPredictionHead: norm_cfg type must be 'BN1d', 'LN' or None, "
                         f'got {norm_cfg}')

    def forward(self, e1: Tensor, e2: Tensor) -> Tensor:
        """``(N, C)`` embeddings of views 1 and 2 -> ``(N, 4)`` predictions."""
        if e1.shape != e2.shape or e1.dim() != 2 or e1.shape[1] != self.in_channels:
            raise ValueError(f'SpatialPredictionHead expects two (N, {self.in_channels}) embeddings, '
                             f'got {tuple(e1.shape)} and {tuple(e2.shape)}')
        return self.mlp(pair_features(e1, e2, self.fusion))

    def loss(self, e1: Tensor, e2: Tensor, boxes1: ArrayLike, boxes2: ArrayLike, image_size: ArrayLike) -> Tensor:
        """SP loss of ``N`` pairs.

        Args:
            e1, e2 (Tensor): ``(N, C)`` pooled embeddings of the two views.
            boxes1, boxes2 (Tensor): ``(N, 4)`` their boxes in original-image pixels.
            image_size (Tensor): ``(N, 2)`` original image sizes ``(h, w)``.
        """
        target = spatial_prediction_targets(boxes1, boxes2, image_size, self.offset_norm).to(e1.device)
        if not self.symmetric:
            return self.loss_module(self(e1, e2), target)
        target_swap = spatial_prediction_targets(boxes2, boxes1, image_size, self.offset_norm).to(e1.device)
        pred = self(torch.cat([e1, e2]), torch.cat([e2, e1]))
        return self.loss_module(pred, torch.cat([target, target_swap]))

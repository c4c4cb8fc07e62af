"""DINO projection head: MLP, L2 normalisation and a weight-normalised prototype layer.

Reference: ``DINOHead`` in ``vision_transformer.py`` of facebookresearch/dino (identical in
``selfpatch_vision_transformer.py`` of alinlab/SelfPatch@81aef14). Caron et al., "Emerging Properties
in Self-Supervised Vision Transformers", ICCV 2021, https://arxiv.org/abs/2104.14294.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmpretrain.registry import MODELS
from torch import Tensor

__all__ = ['WeightNormLinear', 'DINONeck']


class WeightNormLinear(nn.Module):
    """Bias-free linear layer with ``weight = g * v / ||v||`` (one norm per output unit).

    Same computation and parameter names (``weight_g`` ``(out, 1)``, ``weight_v`` ``(out, in)``) as
    ``torch.nn.utils.weight_norm(nn.Linear(in, out, bias=False))`` used by the reference, so DINO
    checkpoints load as they are; written out because the deprecated hook-based ``weight_norm`` cannot
    be deep-copied (the teacher is a copy of the student).

    Args:
        in_features (int): input size.
        out_features (int): output size.
        fix_norm (bool): keep ``g`` at 1 (no gradient): DINO's ``norm_last_layer=True``.
    """

    def __init__(self, in_features: int, out_features: int, fix_norm: bool = True) -> None:
        super().__init__()
        self.weight_v = nn.Parameter(torch.empty(out_features, in_features))
        # nn.Linear's default init for v, then g = 1 (the reference fills weight_g with 1).
        nn.init.kaiming_uniform_(self.weight_v, a=math.sqrt(5))
        self.weight_g = nn.Parameter(torch.ones(out_features, 1), requires_grad=not fix_norm)

    def _scale(self) -> Tensor:
        """``g / ||v||`` per output unit, ``(out, 1)``."""
        return self.weight_g / self.weight_v.norm(dim=1, keepdim=True)

    @property
    def weight(self) -> Tensor:
        return self.weight_v * self._scale()

    def forward(self, x: Tensor) -> Tensor:
        # The (out, in) weight is large (65536 x 256 for DINO's image head): building g * v / ||v||
        # took two full-size passes forward and more backward, a sixth of a small-batch CPU step
        # (benchmarks/run_benchmarks.py). With fewer input rows than input features it is cheaper to
        # scale the (rows, out) output instead: x (v / n)^T = (x v^T) / n^T, the same function.
        scale = self._scale()
        if x.numel() // max(x.shape[-1], 1) <= self.weight_v.shape[1]:
            out = F.linear(x, self.weight_v)
            return out * scale.squeeze(1).to(out.dtype)
        return F.linear(x, self.weight_v * scale)


@MODELS.register_module()
class DINONeck(nn.Module):
    """DINO projection head: ``Linear-GELU-(Linear-GELU)*(L-2)-Linear`` -> L2-normalise -> prototypes.

    Applied to the last dimension, so it takes image tokens ``(B, C)`` as well as patch tokens
    ``(B, N, C)``. Unlike mmpretrain necks it maps a tensor to a tensor (no tuples).

    Args:
        in_channels (int): backbone feature size (384 for ViT-S).
        out_channels (int): number of prototypes (65536 for DINO's image head, 4096 for SelfPatch's
            patch head).
        hidden_channels (int): MLP hidden size. Defaults to 2048.
        bottleneck_channels (int): size before the prototype layer. Defaults to 256.
        num_layers (int): MLP layers (>= 1). Defaults to 3.
        use_bn (bool): BatchNorm1d after hidden layers (DINO's ``use_bn_in_head``, off by default;
            only for ``(B, C)`` inputs).
        norm_last_layer (bool): fix the prototypes' norm to 1 (DINO default True; DINO recommends
            False for ViT-S in its README).
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 hidden_channels: int = 2048,
                 bottleneck_channels: int = 256,
                 num_layers: int = 3,
                 use_bn: bool = False,
                 norm_last_layer: bool = True) -> None:
        super().__init__()
        if num_layers < 1:
            raise ValueError(f'num_layers must be >= 1, got {num_layers}')
        if num_layers == 1:
            self.mlp = nn.Linear(in_channels, bottleneck_channels)
        else:
            layers = []
            dims = [in_channels] + [hidden_channels] * (num_layers - 1)
            for d_in, d_out in zip(dims[:-1], dims[1:]):
                layers.append(nn.Linear(d_in, d_out))
                if use_bn:
                    layers.append(nn.BatchNorm1d(d_out))
                layers.append(nn.GELU())
            layers.append(nn.Linear(hidden_channels, bottleneck_channels))
            self.mlp = nn.Sequential(*layers)
        for m in self.mlp.modules():
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=.02)
                nn.init.zeros_(m.bias)
        self.last_layer = WeightNormLinear(bottleneck_channels, out_channels, fix_norm=norm_last_layer)

    def forward(self, x: Tensor) -> Tensor:
        x = self.mlp(x)
        x = F.normalize(x, dim=-1, p=2)
        return self.last_layer(x)

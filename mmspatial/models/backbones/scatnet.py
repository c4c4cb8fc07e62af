"""ScatNet: the ScatSimCLR encoder (scattering front-end + residual adapter)."""
from typing import Dict, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmcv.cnn import build_conv_layer, build_norm_layer
from mmengine.model import BaseModule
from mmpretrain.models.backbones.resnet import BasicBlock, ResLayer
from mmpretrain.registry import MODELS

from .scattering import FastScattering2D


@MODELS.register_module()
class ScatNet(BaseModule):
    """ScatSimCLR encoder: scattering -> [BN] -> conv3x3 adapter -> residual blocks -> 4x4 pool -> h.

    `ScatSimCLR: self-supervised contrastive learning with pretext task regularization for small-scale
    datasets <https://arxiv.org/abs/2108.13939>`_ (Kinakh, Taran, Voloshynovskiy, ICCV 2021 VIPriors).
    Reference: ``ScatSimCLR`` in ``src/models/scatnet_simclr.py`` of vkinakh/scatsimclr (its encoder; the
    projection head is the neck here). Layouts, parameter counts and the differences from the paper:
    ``configs/scatsimclr/README.md``.

    The scattering output (``in_channels * num_paths`` maps, 867 for J=2, L=16) goes to the adapter
    directly by default: the reference builds ``_scatnet_bn`` but its ``forward`` never applies it. The
    BatchNorm is always built (so parameter counts and state-dict keys match the reference); when
    ``scat_norm=False`` it is frozen and unused, which also keeps DDP free of unused trainable parameters.

    Args:
        depth (int): number of residual blocks, one of 8, 12, 16, 30, 45. Defaults to 8.
        input_size (Sequence[int]): (H, W) of the input; the scattering filters are built for it.
            Defaults to (32, 32).
        in_channels (int): image channels. Defaults to 3.
        J (int): scattering scales. Defaults to 2.
        L (int): scattering orientations. Defaults to 16.
        pool_size (int): output side of the adaptive average pool. Defaults to 4.
        flatten (bool): return h as (B, 128 * pool^2) (True) or (B, 128, pool, pool). Defaults to True.
        scat_norm (bool): apply the BatchNorm to the scattering output (mmspatial's former default; an option).
            Defaults to False (the reference code).
        norm_cfg (dict): norm layers (use ``SyncBN`` for multi-GPU training). Defaults to BN.
        init_cfg (dict | list[dict], optional): defaults to None, i.e. PyTorch's default
            initialisation, as the reference.
    """

    # depth: (adapter channels, ((planes, blocks), ...))
    arch_settings: Dict[int, Tuple[int, Tuple[Tuple[int, int], ...]]] = {
        8: (32, ((64, 4), (128, 4))),
        12: (256, ((128, 4), (64, 4), (128, 4))),
        16: (256, ((128, 6), (64, 4), (128, 6))),
        30: (256, ((128, 30), )),
        45: (256, ((128, 15), (64, 15), (128, 15))),
    }

    def __init__(self,
                 depth: int = 8,
                 input_size: Sequence[int] = (32, 32),
                 in_channels: int = 3,
                 J: int = 2,
                 L: int = 16,
                 pool_size: int = 4,
                 flatten: bool = True,
                 scat_norm: bool = False,
                 norm_cfg: dict = dict(type='BN'),
                 init_cfg: Optional[Union[dict, list]] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if depth not in self.arch_settings:
            raise KeyError(f'invalid depth {depth} for ScatNet, choose from {sorted(self.arch_settings)}')
        self.depth, self.flatten = depth, flatten
        self.scattering = FastScattering2D(input_size, J=J, L=L, flatten=True)
        scat_channels = in_channels * self.scattering.num_paths
        self.scat_norm_name, norm = build_norm_layer(norm_cfg, scat_channels, postfix='_scat')
        self.add_module(self.scat_norm_name, norm)
        self.apply_scat_norm = scat_norm
        if not scat_norm:  # built for parity with the reference, never applied: keep it out of training
            self.scat_norm.requires_grad_(False)

        stem_channels, stages = self.arch_settings[depth]
        self.stem = nn.Sequential(
            build_conv_layer(None, scat_channels, stem_channels, 3, padding=1, bias=False),
            build_norm_layer(norm_cfg, stem_channels)[1], nn.ReLU(inplace=True))
        layers, channels = [], stem_channels
        for planes, blocks in stages:
            layers.append(ResLayer(BasicBlock, blocks, channels, planes, expansion=1, norm_cfg=norm_cfg))
            channels = planes
        self.layers = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(pool_size)
        self.out_channels = channels * pool_size**2 if flatten else channels

    @property
    def scat_norm(self) -> nn.Module:
        return getattr(self, self.scat_norm_name)

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor]:
        s = self.scattering(x)
        if self.apply_scat_norm:
            s = self.scat_norm(s)
        h = self.pool(self.layers(self.stem(s)))
        return (h.flatten(1) if self.flatten else h, )

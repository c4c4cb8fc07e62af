"""Jigsaw-permutation head of ScatSimCLR's pretext regulariser."""
from typing import Dict, Optional, Union

import torch
import torch.nn as nn
from mmengine.model import BaseModule
from mmpretrain.registry import MODELS

from .rotation_head import mlp


@MODELS.register_module()
class JigsawHead(BaseModule):
    """Predicts which of the jigsaw permutations shuffled the 3x3 tiles, from the tiles' features h.

    Reference: ``PretextTaskTrainer`` (``src/trainer/pretext_task_trainer.py``) of vkinakh/scatsimclr,
    after Noroozi & Favaro's context-free network: every tile's h (2048) goes through a shared
    Linear(2048, 512)+ReLU+Dropout(0.5); the 9 x 512 = 4608 concatenation (tiles in their shuffled order)
    goes through Linear(4608, 4096)+ReLU+Dropout(0.5) -> Linear(4096, 35). Tiles and labels come from
    :class:`JigsawPretext` (mmspatial.datasets.transforms).

    Args:
        in_channels (int): dimension of h. Defaults to 2048.
        tile_channels (int): width of the shared per-tile layer. Defaults to 512.
        hid_channels (int): width of the joint layer. Defaults to 4096.
        num_tiles (int): tiles per image. Defaults to 9.
        num_classes (int): number of permutations. Defaults to 35.
        dropout (float): dropout after both hidden layers. Defaults to 0.5.
        loss (dict): classification loss. Defaults to CrossEntropyLoss.
        init_cfg (dict, optional): defaults to None (PyTorch's default init, as the reference).
    """

    def __init__(self,
                 in_channels: int = 2048,
                 tile_channels: int = 512,
                 hid_channels: int = 4096,
                 num_tiles: int = 9,
                 num_classes: int = 35,
                 dropout: float = 0.5,
                 loss: dict = dict(type='CrossEntropyLoss'),
                 init_cfg: Optional[Union[dict, list]] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.num_tiles = num_tiles
        self.tile_fc = mlp(in_channels, [tile_channels], dropout)
        self.joint_fc = mlp(num_tiles * tile_channels, [hid_channels], dropout)
        self.fc = nn.Linear(hid_channels, num_classes)
        self.loss_module = MODELS.build(loss)

    def forward(self, feats: torch.Tensor) -> torch.Tensor:
        """Logits (B, num_classes) of tile features (B * num_tiles, C), tiles of an image contiguous."""
        tiles = self.tile_fc(feats).reshape(-1, self.num_tiles * self.tile_fc[0].out_features)
        return self.fc(self.joint_fc(tiles))

    def loss(self, feats: torch.Tensor, labels: torch.Tensor) -> Dict[str, torch.Tensor]:
        """Tile features (B * num_tiles, C), permutation indices (B,) -> loss and accuracy."""
        logits, labels = self(feats), labels.reshape(-1)
        return dict(loss=self.loss_module(logits, labels), acc=(logits.argmax(1) == labels).float().mean().detach())

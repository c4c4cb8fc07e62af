"""Rotation-prediction head of ScatSimCLR's pretext regulariser."""
from typing import Dict, Optional, Sequence, Union

import torch
import torch.nn as nn
from mmengine.model import BaseModule
from mmpretrain.registry import MODELS


def mlp(in_channels: int, hid_channels: Sequence[int], dropout: float) -> nn.Sequential:
    """(Linear -> ReLU -> Dropout) for every hidden width."""
    layers = []
    for width in hid_channels:
        layers += [nn.Linear(in_channels, width), nn.ReLU(inplace=True), nn.Dropout(dropout)]
        in_channels = width
    return nn.Sequential(*layers)


@MODELS.register_module()
class RotationHead(BaseModule):
    """Predicts which of the 4 rotations (0, 90 CW, 180, 90 CCW) was applied, from the features h.

    ScatSimCLR (https://arxiv.org/abs/2108.13939, eq. 2-3) adds ``lambda * CE`` of this prediction to the
    contrastive loss. Reference: ``PretextTaskTrainer`` in ``src/trainer/pretext_task_trainer.py`` of
    vkinakh/scatsimclr: Linear(2048, 512)+ReLU+Dropout(0.5) -> Linear(512, 128)+ReLU+Dropout(0.5) ->
    Linear(128, 4). The paper describes "two fully-connected layers"; the code (followed here) has three
    linear layers. The rotated images come from :class:`RotationPretext` (mmspatial.datasets.transforms).

    Args:
        in_channels (int): dimension of h. Defaults to 2048.
        hid_channels (Sequence[int]): hidden widths. Defaults to (512, 128).
        num_classes (int): number of rotations. Defaults to 4.
        dropout (float): dropout after every hidden layer. Defaults to 0.5.
        loss (dict): classification loss. Defaults to CrossEntropyLoss.
        init_cfg (dict, optional): defaults to None (PyTorch's default init, as the reference).
    """

    def __init__(self,
                 in_channels: int = 2048,
                 hid_channels: Sequence[int] = (512, 128),
                 num_classes: int = 4,
                 dropout: float = 0.5,
                 loss: dict = dict(type='CrossEntropyLoss'),
                 init_cfg: Optional[Union[dict, list]] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.mlp = mlp(in_channels, hid_channels, dropout)
        self.fc = nn.Linear(hid_channels[-1] if hid_channels else in_channels, num_classes)
        self.loss_module = MODELS.build(loss)

    def forward(self, feats: torch.Tensor) -> torch.Tensor:
        """Logits (M, num_classes) of features (M, in_channels)."""
        return self.fc(self.mlp(feats))

    def loss(self, feats: torch.Tensor, labels: torch.Tensor) -> Dict[str, torch.Tensor]:
        """Features (M, C) of all rotated images, labels (M,) or (B, 4) -> loss and accuracy."""
        logits, labels = self(feats), labels.reshape(-1)
        return dict(loss=self.loss_module(logits, labels), acc=(logits.argmax(1) == labels).float().mean().detach())

"""SelfPatch: patch-level self-supervision for ViTs on top of DINO.

Yun, Lee, Kim, Shin, "Patch-level Representation Learning for Self-supervised Vision Transformers",
CVPR 2022, https://arxiv.org/abs/2206.07990. Reference code: alinlab/SelfPatch@81aef14
(``main_selfpatch.py``: ``MultiCropWrapper``, ``DINOLoss``, ``train_one_epoch``;
``selfpatch_vision_transformer.py``: the ViT without class token, ``SelfPatchHead``, ``DINOHead``).

Contract: :meth:`SelfPatch.loss` takes ``DINOMultiCrop`` crops (global first) and returns ``loss_image``
(DINO's loss on the class-attention image tokens) and ``loss_patch`` (``patch_loss_weight`` x the
same-view cross-entropy between the teacher's aggregated top-``k`` neighbour tokens and the student's own
patch tokens, every crop). The teacher sees every crop; everything else is :class:`DINO`. The method step
by step, the reference quirks kept by default (torus neighbourhood, image centre over all crops) and their
options: ``configs/selfpatch/README.md``.
"""
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmpretrain.models.selfsup import BaseSelfSupervisor
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample
from torch import Tensor

from ..utils.patch_neighbours import NeighbourIndexCache, match_top_k_neighbours
from .dino import DINO, group_by_resolution

__all__ = ['SelfPatch']


@MODELS.register_module()
class SelfPatch(DINO):
    """SelfPatch (see the module docstring).

    Args:
        backbone (dict): ViT without class token returning a ``(B, C, h, w)`` patch map, e.g.
            ``VisionTransformer(arch='deit-small', with_cls_token=False, out_type='featmap',
            final_norm=False, drop_path_rate=0.1)``.
        aggregator (dict): ``ClassAttentionAggregator`` (2 blocks, heads = backbone heads).
        neck (dict): image projection head, ``DINONeck(out_channels=65536)``.
        patch_neck (dict): patch projection head, ``DINONeck(out_channels=4096)``.
        loss (dict): ``DINOLoss`` (image).
        patch_loss (dict): ``SelfPatchLoss``.
        patch_loss_weight (float): weight of the patch loss. Defaults to 0.1.
        num_neighbours (int): matched neighbours per patch (``k_num``). Defaults to 4.
        kernel_size (int): neighbourhood window. Defaults to 3.
        wrap_neighbours (bool): torus neighbourhood (reference ``get_local_index``); False drops and
            masks out-of-grid neighbours. Defaults to True.
        center_on_all_crops (bool): image centre over the teacher outputs of all crops (reference);
            False: global crops only, as DINO. Defaults to True.
        num_global_crops (int): Defaults to 2.
        pretrained, data_preprocessor, init_cfg: see :class:`DINO`.
    """

    def __init__(self,
                 backbone: dict,
                 aggregator: dict,
                 neck: dict,
                 patch_neck: dict,
                 loss: dict,
                 patch_loss: dict,
                 patch_loss_weight: float = 0.1,
                 num_neighbours: int = 4,
                 kernel_size: int = 3,
                 wrap_neighbours: bool = True,
                 center_on_all_crops: bool = True,
                 num_global_crops: int = 2,
                 pretrained: Optional[str] = None,
                 data_preprocessor: Optional[Union[dict, nn.Module]] = None,
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        # DINO.__init__ would build the teacher before the SelfPatch modules exist: set up by hand.
        BaseSelfSupervisor.__init__(
            self,
            backbone=backbone,
            neck=neck,
            pretrained=pretrained,
            data_preprocessor=data_preprocessor,
            init_cfg=init_cfg)
        self._setup_dino(loss, num_global_crops)
        if num_neighbours < 1:
            raise ValueError(f'num_neighbours must be >= 1, got {num_neighbours}')
        self.aggregator = MODELS.build(aggregator)
        self.patch_neck = MODELS.build(patch_neck)
        self.patch_loss = MODELS.build(patch_loss)
        self.patch_loss_weight = patch_loss_weight
        self.num_neighbours = num_neighbours
        self.center_on_all_crops = center_on_all_crops
        self.neighbour_index = NeighbourIndexCache(kernel_size, wrap_neighbours)
        self.teacher = self._build_teacher()

    def student_modules(self) -> Dict[str, nn.Module]:
        return {
            'backbone': self.backbone,
            'aggregator': self.aggregator,
            'neck': self.neck,
            'patch_neck': self.patch_neck
        }

    def patch_tokens(self, backbone: nn.Module, x: Tensor) -> Tuple[Tensor, Tuple[int, int]]:
        """Backbone patch tokens ``(B, h*w, C)`` (row-major) and the grid size ``(h, w)``."""
        fmap = backbone(x)
        if isinstance(fmap, (tuple, list)):
            fmap = fmap[-1]
        if fmap.dim() != 4:
            raise ValueError('SelfPatch needs a (B, C, h, w) patch map from the backbone (ViT with '
                             f"with_cls_token=False, out_type='featmap'), got {tuple(fmap.shape)}")
        h, w = fmap.shape[-2:]
        return fmap.flatten(2).transpose(1, 2), (h, w)

    def match_neighbours(self, tokens: Tensor, grid: Tuple[int, int]) -> Tuple[Tensor, Tensor]:
        """Top-``k`` neighbours of every patch, ``(B, N, k)`` indices and validity."""
        index, valid = self.neighbour_index(grid[0], grid[1], tokens.device)
        return match_top_k_neighbours(tokens, index, valid, self.num_neighbours)

    def encode_tokens(self, modules: Dict[str, nn.Module], crops: Sequence[Tensor],
                      teacher: bool) -> Tuple[List[Tensor], List[Tensor]]:
        """Image logits ``(B, 65536)`` and patch logits ``(B, N_v, 4096)`` for every crop.

        The teacher's patch logits are those of the aggregated neighbour tokens ``y``; the student's
        those of its own patch tokens.
        """
        groups = group_by_resolution(crops)
        cls_tokens, patch_tokens = [], []
        for start, end in groups:
            tokens, grid = self.patch_tokens(modules['backbone'], torch.cat(list(crops[start:end])))
            if teacher:
                nb_index, nb_valid = self.match_neighbours(tokens, grid)
                mask = None if bool(nb_valid.all()) else nb_valid
                cls, patches = modules['aggregator'].forward_neighbours(tokens, nb_index, mask)
            else:
                cls, patches = modules['aggregator'](tokens)
            cls_tokens.append(cls)
            patch_tokens.append(patches)
        batch_sizes = [c.shape[0] for c in crops]
        image_logits = modules['neck'](torch.cat(cls_tokens)).split(batch_sizes)
        # One pass of the patch head over the tokens of all crops, then back to (B, N_v, out) per crop.
        flat = modules['patch_neck'](torch.cat([p.flatten(0, 1) for p in patch_tokens]))
        chunks = flat.split([p.shape[0] * p.shape[1] for p in patch_tokens])
        patch_logits = []
        for (start, end), p, chunk in zip(groups, patch_tokens, chunks):
            patch_logits.extend(chunk.view(p.shape[0], p.shape[1], -1).split(batch_sizes[start:end]))
        return list(image_logits), patch_logits

    def loss(self, inputs: List[Tensor], data_samples: List[DataSample]) -> Dict[str, Tensor]:
        """SelfPatch loss of a multi-crop batch.

        Returns:
            dict[str, Tensor]: ``loss_image`` (DINO loss) and ``loss_patch`` (already weighted).
        """
        crops = self.check_training_step(inputs)
        s_image, s_patch = self.encode_tokens(self.student_modules(), crops, teacher=False)
        with torch.no_grad():
            t_image, t_patch = self.encode_tokens(self.teacher, crops, teacher=True)
        g = self.num_global_crops
        loss_image = self.dino_loss(s_image, t_image[:g], update_center=False)
        self.dino_loss.update_center(torch.cat(t_image if self.center_on_all_crops else t_image[:g]))
        loss_patch = self.patch_loss(s_patch, t_patch)
        return dict(loss_image=loss_image, loss_patch=self.patch_loss_weight * loss_patch)

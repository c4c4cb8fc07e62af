"""ViT features for DINO's linear evaluation: the normalised CLS tokens of the last ``n`` blocks.

DINO's ``eval_linear.py`` (facebookresearch/dino) trains a linear layer on
``torch.cat([x[:, 0] for x in model.get_intermediate_layers(img, n)], dim=-1)`` where every
intermediate output goes through the backbone's *final* LayerNorm; ``n = 4`` for ViT-S (no patch-token
average), ``n = 1`` plus the average of the last block's patch tokens for ViT-B. mmpretrain's
``VisionTransformer`` only applies its final norm to the last block, so a plain ``out_indices=[8, 9, 10,
11]`` would feed un-normalised tokens of blocks 8-10 to the classifier. This subclass adds the missing
norm; it has no parameters of its own, so checkpoints load exactly as into ``VisionTransformer``.
"""
from typing import Tuple

import torch
from mmpretrain.models.backbones import VisionTransformer
from mmpretrain.registry import MODELS
from torch import Tensor


@MODELS.register_module()
class ViTLastBlocks(VisionTransformer):
    """``VisionTransformer`` returning one ``(B, n * C [+ C])`` feature for a linear probe.

    Args:
        n_last_blocks (int): number of final blocks whose CLS tokens are concatenated. Defaults to 4
            (DINO, ViT-S).
        avgpool_patchtokens (bool): also append the mean of the last block's patch tokens (DINO,
            ViT-B). Defaults to False.
        **kwargs: ``VisionTransformer`` arguments except ``out_indices``, ``out_type`` and
            ``final_norm``, which this class sets (``with_cls_token`` must stay True).
    """

    def __init__(self, n_last_blocks: int = 4, avgpool_patchtokens: bool = False, **kwargs) -> None:
        for key in ('out_indices', 'out_type', 'final_norm'):
            if key in kwargs:
                raise TypeError(f'ViTLastBlocks sets {key!r} itself (use n_last_blocks)')
        if not kwargs.get('with_cls_token', True):
            raise ValueError('ViTLastBlocks needs the CLS token (with_cls_token=True)')
        if n_last_blocks < 1:
            raise ValueError(f'ViTLastBlocks: n_last_blocks must be >= 1, got {n_last_blocks}')
        # 'raw' tokens; the parent normalises only the last block's. The output blocks are set once
        # the depth is known (``arch`` may be a name).
        super().__init__(out_indices=-1, out_type='raw', final_norm=True, **kwargs)
        num_layers = len(self.layers)
        if n_last_blocks > num_layers:
            raise ValueError(f'ViTLastBlocks: n_last_blocks={n_last_blocks} > {num_layers} blocks')
        self.out_indices = list(range(num_layers - n_last_blocks, num_layers))
        self.n_last_blocks = n_last_blocks
        self.avgpool_patchtokens = avgpool_patchtokens

    @property
    def feature_dim(self) -> int:
        """Width of the returned feature (the linear head's ``in_channels``)."""
        return self.embed_dims * (self.n_last_blocks + int(self.avgpool_patchtokens))

    def forward(self, x: Tensor) -> Tuple[Tensor]:
        outs = list(super().forward(x))
        # DINO normalises every intermediate output with the final norm; the last one already is.
        outs = [self.ln1(o) for o in outs[:-1]] + outs[-1:]
        feat = torch.cat([o[:, 0] for o in outs], dim=-1)
        if self.avgpool_patchtokens:
            feat = torch.cat([feat, outs[-1][:, self.num_extra_tokens:].mean(dim=1)], dim=-1)
        return (feat, )

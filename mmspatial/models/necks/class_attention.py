"""Class-attention aggregation of SelfPatch (CaiT-style class-attention blocks).

Reference: ``SelfPatchHead``, ``LayerScale_Block_CA``, ``Class_Attention`` and ``Mlp`` in
``selfpatch_vision_transformer.py`` of alinlab/SelfPatch@81aef14 (after CaiT, Touvron et al. 2021,
https://arxiv.org/abs/2103.17239). A learnable class token attends (2 blocks) over itself and a set of
patch tokens; the patch tokens are never updated. The reference class is named ``LayerScale_*`` but
applies no LayerScale gamma, and neither do we.

The keys and values of every block are computed once per backbone token and shared by the image token
and all neighbour sets (the reference's result up to float rounding; ``configs/selfpatch/README.md``).
"""
from typing import Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmpretrain.registry import MODELS
from torch import Tensor

__all__ = ['ClassAttentionBlock', 'ClassAttentionAggregator']


def _trunc_normal_init(module: nn.Module) -> None:
    """DINO/SelfPatch init: truncated normal (std 0.02) linear weights, zero biases."""
    if isinstance(module, nn.Linear):
        nn.init.trunc_normal_(module.weight, std=.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)


class ClassAttentionBlock(nn.Module):
    """One class-attention block: the class token queries ``[class token, context tokens]``.

    ``cls = cls + proj(attn(q(LN1(cls)), k/v(LN1([cls, ctx]))))``, then ``cls = cls + MLP(LN2(cls))``.

    Args:
        embed_dims (int): token dimension.
        num_heads (int): attention heads.
        mlp_ratio (float): MLP hidden size / ``embed_dims``. Defaults to 4.
        qkv_bias (bool): bias in the q/k/v projections. Defaults to True.
        norm_eps (float): LayerNorm epsilon. Defaults to 1e-6.
    """

    def __init__(self,
                 embed_dims: int,
                 num_heads: int,
                 mlp_ratio: float = 4.,
                 qkv_bias: bool = True,
                 norm_eps: float = 1e-6) -> None:
        super().__init__()
        if embed_dims % num_heads:
            raise ValueError(f'embed_dims {embed_dims} is not divisible by num_heads {num_heads}')
        self.num_heads = num_heads
        self.norm1 = nn.LayerNorm(embed_dims, eps=norm_eps)
        self.q = nn.Linear(embed_dims, embed_dims, bias=qkv_bias)
        self.k = nn.Linear(embed_dims, embed_dims, bias=qkv_bias)
        self.v = nn.Linear(embed_dims, embed_dims, bias=qkv_bias)
        self.proj = nn.Linear(embed_dims, embed_dims)
        self.norm2 = nn.LayerNorm(embed_dims, eps=norm_eps)
        hidden = int(embed_dims * mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(embed_dims, hidden), nn.GELU(), nn.Linear(hidden, embed_dims))

    def context_kv(self, context: Tensor) -> Tuple[Tensor, Tensor]:
        """Keys and values ``(..., C)`` of context tokens ``(..., C)``, reusable across queries."""
        ctx = self.norm1(context)
        return self.k(ctx), self.v(ctx)

    def _split(self, x: Tensor) -> Tensor:
        """``(M, L, C) -> (M, heads, L, C / heads)``."""
        m, length, c = x.shape
        return x.view(m, length, self.num_heads, c // self.num_heads).transpose(1, 2)

    def forward(self, cls: Tensor, ctx_k: Tensor, ctx_v: Tensor, ctx_mask: Optional[Tensor] = None) -> Tensor:
        """Update class tokens.

        Args:
            cls (Tensor): ``(M, C)`` class tokens, one per set.
            ctx_k (Tensor): ``(M, L, C)`` keys of each set's context tokens (:meth:`context_kv`).
            ctx_v (Tensor): ``(M, L, C)`` values.
            ctx_mask (Tensor, optional): ``(M, L)`` bool, False for context tokens to ignore. The class
                token itself is always attended to.

        Returns:
            Tensor: ``(M, C)`` updated class tokens.
        """
        c = self.norm1(cls)[:, None]  # M, 1, C
        q = self._split(self.q(c))
        k = self._split(torch.cat([self.k(c), ctx_k], dim=1))
        v = self._split(torch.cat([self.v(c), ctx_v], dim=1))
        mask = None
        if ctx_mask is not None:
            keep_cls = torch.ones_like(ctx_mask[:, :1])
            mask = torch.cat([keep_cls, ctx_mask], dim=1)[:, None, None, :]  # M, 1, 1, 1 + L
        # Default scale head_dim ** -0.5, as the reference.
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)  # M, heads, 1, d
        out = out.transpose(1, 2).reshape(cls.shape[0], -1)
        cls = cls + self.proj(out)
        return cls + self.mlp(self.norm2(cls))


@MODELS.register_module()
class ClassAttentionAggregator(nn.Module):
    """SelfPatch's aggregation module (``SelfPatchHead``): learnable class token, CA blocks, final LN.

    * :meth:`forward` (student, and the teacher's image token): the class token attends over all patch
      tokens; returns ``LN(cls)`` and ``LN(patches)`` (patches otherwise unchanged).
    * :meth:`forward_neighbours` (teacher): additionally, for every patch ``i``, a copy of the class
      token attends over the ``k`` matched neighbours of ``i`` only (not ``i`` itself), giving the
      aggregated token ``y_i``; returns ``LN(cls)`` and ``LN(y)``.

    Args:
        embed_dims (int): token dimension (384 for ViT-S).
        num_heads (int): heads, the backbone's (6 for ViT-S).
        num_blocks (int): class-attention blocks. Defaults to 2.
        mlp_ratio (float): Defaults to 4.
        qkv_bias (bool): Defaults to True.
        norm_eps (float): LayerNorm epsilon. Defaults to 1e-6.
    """

    def __init__(self,
                 embed_dims: int,
                 num_heads: int,
                 num_blocks: int = 2,
                 mlp_ratio: float = 4.,
                 qkv_bias: bool = True,
                 norm_eps: float = 1e-6) -> None:
        super().__init__()
        self.embed_dims = embed_dims
        self.cls_token = nn.Parameter(torch.zeros(1, embed_dims))
        self.blocks = nn.ModuleList(
            [ClassAttentionBlock(embed_dims, num_heads, mlp_ratio, qkv_bias, norm_eps) for _ in range(num_blocks)])
        self.norm = nn.LayerNorm(embed_dims, eps=norm_eps)
        nn.init.trunc_normal_(self.cls_token, std=.02)
        self.apply(_trunc_normal_init)

    def _image_token(self, kv: list) -> Tensor:
        b = kv[0][0].shape[0]
        cls = self.cls_token.expand(b, -1)
        for blk, (k, v) in zip(self.blocks, kv):
            cls = blk(cls, k, v)
        return cls

    def forward(self, x: Tensor) -> Tuple[Tensor, Tensor]:
        """Image token and normalised patch tokens.

        Args:
            x (Tensor): ``(B, N, C)`` backbone patch tokens.

        Returns:
            tuple[Tensor, Tensor]: ``(B, C)`` class token and ``(B, N, C)`` patch tokens, both after the
            final LayerNorm.
        """
        kv = [blk.context_kv(x) for blk in self.blocks]
        return self.norm(self._image_token(kv)), self.norm(x)

    def forward_neighbours(self,
                           x: Tensor,
                           nb_index: Tensor,
                           nb_valid: Optional[Tensor] = None) -> Tuple[Tensor, Tensor]:
        """Image token and per-patch aggregated neighbour tokens.

        Args:
            x (Tensor): ``(B, N, C)`` backbone patch tokens.
            nb_index (Tensor): ``(B, N, k)`` indices (into ``N``) of each patch's matched neighbours.
            nb_valid (Tensor, optional): ``(B, N, k)`` bool; False slots are masked out.

        Returns:
            tuple[Tensor, Tensor]: ``(B, C)`` class token and ``(B, N, C)`` aggregated tokens ``y``,
            both after the final LayerNorm.
        """
        b, n, c = x.shape
        k = nb_index.shape[-1]
        kv = [blk.context_kv(x) for blk in self.blocks]
        cls = self._image_token(kv)
        flat_idx = (nb_index + n * torch.arange(b, device=x.device)[:, None, None]).reshape(-1)
        mask = None if nb_valid is None else nb_valid.reshape(b * n, k)
        y = self.cls_token.expand(b * n, -1)
        for blk, (key, val) in zip(self.blocks, kv):
            nb_k = key.reshape(b * n, c)[flat_idx].view(b * n, k, c)
            nb_v = val.reshape(b * n, c)[flat_idx].view(b * n, k, c)
            y = blk(y, nb_k, nb_v, mask)
        return self.norm(cls), self.norm(y.view(b, n, c))

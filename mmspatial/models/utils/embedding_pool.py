"""One vector per image from any backbone's output (used by SP and by the spatial-reasoning probes).

Backbones return a tensor or a tuple of tensors (one per ``out_indices`` entry; the last one is used):

* ``(B, C)``: already pooled (mmpretrain ViT ``out_type='cls_token'``/``'avg_featmap'``);
* ``(B, C, H, W)``: a feature map (CNN last stage, ViT ``'featmap'``) -> global average pool;
* ``(B, N, C)``: tokens (ViT ``out_type='raw'``) -> the CLS token if the backbone has one, else the mean
  of the tokens (SelfPatch's ViT has no CLS token).
"""
from typing import Optional, Sequence, Union

import torch
from torch import Tensor, nn

POOLS = ('auto', 'gap', 'cls', 'mean')


def _has_cls_token(backbone: Optional[nn.Module]) -> bool:
    if backbone is None:
        return False
    if hasattr(backbone, 'with_cls_token'):
        return bool(backbone.with_cls_token)
    return getattr(backbone, 'cls_token', None) is not None


def pool_embedding(output: Union[Tensor, Sequence[Tensor]],
                   pool: str = 'auto',
                   backbone: Optional[nn.Module] = None) -> Tensor:
    """Reduce a backbone output to ``(B, C)``.

    Args:
        output: the backbone's return value.
        pool (str): ``'auto'`` (by shape, see module docstring), ``'gap'``/``'mean'`` (average over space
            or over the patch tokens), ``'cls'`` (token 0 of a ``(B, N, C)`` output).
        backbone (nn.Module, optional): the backbone, to know whether tokens include a CLS token.
    """
    if pool not in POOLS:
        raise ValueError(f'pool must be one of {POOLS}, got {pool!r}')
    if isinstance(output, (tuple, list)):
        if not output:
            raise ValueError('the backbone returned an empty tuple')
        output = output[-1]
    if isinstance(output, (tuple, list)):  # e.g. old-style ViT outputs [patch_tokens, cls_token]
        output = output[-1]
    if not isinstance(output, Tensor):
        raise TypeError(f'cannot pool a backbone output of type {type(output).__name__}')
    if output.dim() == 2:
        return output
    if output.dim() == 4:
        if pool == 'cls':
            raise ValueError("pool='cls' needs (B, N, C) tokens, the backbone returned a feature map "
                             f'{tuple(output.shape)}')
        return output.mean(dim=(2, 3))
    if output.dim() == 3:
        has_cls = _has_cls_token(backbone)
        if pool == 'cls' or (pool == 'auto' and has_cls):
            return output[:, 0]
        extra = int(getattr(backbone, 'num_extra_tokens', 1 if has_cls else 0))
        return output[:, extra:].mean(dim=1)
    raise ValueError(f'cannot pool a backbone output of shape {tuple(output.shape)}')


@torch.no_grad()
def infer_embedding_dim(backbone: nn.Module, size: int = 96, pool: str = 'auto') -> int:
    """Width of the pooled embedding, by one forward pass of a ``1x3xsize x size`` zero image in eval
    mode (training mode and BN statistics are left as they were)."""
    was_training = backbone.training
    backbone.eval()
    try:
        param = next(backbone.parameters(), None)
        device = param.device if param is not None else 'cpu'
        out = pool_embedding(backbone(torch.zeros(1, 3, size, size, device=device)), pool, backbone)
    finally:
        backbone.train(was_training)
    return int(out.shape[-1])

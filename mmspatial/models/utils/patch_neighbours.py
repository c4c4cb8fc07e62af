"""Neighbourhoods of ViT patch tokens and SelfPatch's positive matching.

SelfPatch (Yun et al., CVPR 2022, https://arxiv.org/abs/2206.07990) matches every patch with the most
similar patches of its ``k x k`` window (``SelfPatchHead.get_local_index`` and ``forward(loc=True)`` in
``selfpatch_vision_transformer.py`` of alinlab/SelfPatch@81aef14). The reference builds the window
modulo the grid size (a torus: a patch on the left border has neighbours on the right border) and
supports only 14x14 and 6x6 grids. Here any ``H x W`` grid works, with torus wrapping (reference) or
plain borders (out-of-grid neighbours are marked invalid).

Tokens are in row-major order (``index = row * W + col``), the order of a ViT's flattened patch grid.
"""
from typing import Dict, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ['patch_neighbour_index', 'match_top_k_neighbours', 'NeighbourIndexCache']


def patch_neighbour_index(grid_h: int,
                          grid_w: int,
                          kernel_size: int = 3,
                          wrap: bool = True,
                          device: torch.device = None) -> Tuple[Tensor, Tensor]:
    """Indices of the ``kernel_size**2 - 1`` neighbours of every patch of an ``H x W`` grid.

    Args:
        grid_h (int): grid height (rows of patches).
        grid_w (int): grid width (columns of patches).
        kernel_size (int): odd window size; 3 gives the 8-neighbourhood. Defaults to 3.
        wrap (bool): wrap around the borders (torus), as the reference does. With ``False`` the
            neighbours that fall outside the grid are invalid. Defaults to True.
        device: device of the returned tensors.

    Returns:
        tuple[Tensor, Tensor]: ``index`` ``(H*W, K)`` long and ``valid`` ``(H*W, K)`` bool with
        ``K = kernel_size**2 - 1``. Each row lists the patch's distinct neighbours in increasing index
        order (the reference's order), then the invalid slots. A patch is never its own neighbour;
        on a wrapped grid smaller than the window, positions reached twice count once. Invalid
        slots hold the patch's own index so that gathering with them stays in range.
    """
    if kernel_size < 3 or kernel_size % 2 == 0:
        raise ValueError(f'kernel_size must be an odd number >= 3, got {kernel_size}')
    if grid_h < 1 or grid_w < 1:
        raise ValueError(f'grid must be at least 1x1, got {grid_h}x{grid_w}')
    r = kernel_size // 2
    offsets = [(dy, dx) for dy in range(-r, r + 1) for dx in range(-r, r + 1) if (dy, dx) != (0, 0)]
    num = grid_h * grid_w
    index = torch.arange(num)[:, None].repeat(1, len(offsets))  # invalid slots point at the patch
    valid = torch.zeros(num, len(offsets), dtype=torch.bool)
    # Plain Python: computed once per grid size (see NeighbourIndexCache), clarity over speed.
    for p in range(num):
        row, col = divmod(p, grid_w)
        found = set()
        for dy, dx in offsets:
            nr, nc = row + dy, col + dx
            if wrap:
                nr, nc = nr % grid_h, nc % grid_w
            elif not (0 <= nr < grid_h and 0 <= nc < grid_w):
                continue
            found.add(nr * grid_w + nc)
        found.discard(p)  # a wrapped window narrower than the kernel reaches the patch itself
        neighbours = sorted(found)
        index[p, :len(neighbours)] = torch.tensor(neighbours, dtype=torch.long)
        valid[p, :len(neighbours)] = True
    return index.to(device), valid.to(device)


class NeighbourIndexCache:
    """Memoise :func:`patch_neighbour_index` per grid size and device (it is called every step)."""

    def __init__(self, kernel_size: int = 3, wrap: bool = True) -> None:
        self.kernel_size = kernel_size
        self.wrap = wrap
        self._cache: Dict[tuple, Tuple[Tensor, Tensor]] = {}

    def __call__(self, grid_h: int, grid_w: int, device: torch.device) -> Tuple[Tensor, Tensor]:
        key = (grid_h, grid_w, str(device))
        if key not in self._cache:
            self._cache[key] = patch_neighbour_index(grid_h, grid_w, self.kernel_size, self.wrap, device)
        return self._cache[key]


def match_top_k_neighbours(tokens: Tensor, index: Tensor, valid: Tensor, k: int) -> Tuple[Tensor, Tensor]:
    """SelfPatch's positive matching: the ``k`` neighbours most cosine-similar to each patch.

    Args:
        tokens (Tensor): ``(B, N, C)`` patch tokens (the teacher backbone's outputs).
        index (Tensor): ``(N, K)`` neighbour indices from :func:`patch_neighbour_index`.
        valid (Tensor): ``(N, K)`` validity of ``index``.
        k (int): how many neighbours to keep (the reference's ``k_num``, 4).

    Returns:
        tuple[Tensor, Tensor]: ``(B, N, k')`` indices into the ``N`` tokens and their ``(B, N, k')``
        validity, ``k' = min(k, K)``, most similar first. A patch with fewer than ``k`` valid neighbours
        gets invalid slots, which the aggregation must mask.
    """
    if tokens.dim() != 3 or tokens.shape[1] != index.shape[0]:
        raise ValueError(f'tokens must be (B, N, C) with N = {index.shape[0]}, got {tuple(tokens.shape)}')
    x = F.normalize(tokens.float(), dim=-1)
    # One neighbour slot at a time: memory stays O(B*N*C) for any grid size.
    sim = torch.stack([(x * x[:, index[:, j]]).sum(-1) for j in range(index.shape[1])], dim=-1)
    sim = sim.masked_fill(~valid, float('-inf'))  # B, N, K
    top = sim.topk(min(k, index.shape[1]), dim=-1).indices  # B, N, k'
    nb_index = torch.gather(index.expand(tokens.shape[0], -1, -1), 2, top)
    nb_valid = torch.gather(valid.expand(tokens.shape[0], -1, -1), 2, top)
    return nb_index, nb_valid

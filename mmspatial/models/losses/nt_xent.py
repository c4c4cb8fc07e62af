"""NT-Xent, SimCLR's normalised-temperature cross-entropy, with negatives from every rank."""
from typing import Any, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.dist import all_gather, all_reduce, get_rank, get_world_size
from mmpretrain.registry import MODELS


class AllGatherWithGrad(torch.autograd.Function):
    """All-gather that back-propagates into every rank's own input.

    Each rank computes the loss of its own queries against the keys of all ranks, so a rank's features
    receive gradient from every rank's loss: ``backward`` sums the incoming gradients over ranks
    (all-reduce) and keeps this rank's slice. With DDP's gradient averaging this yields exactly the
    gradient of the mean of the per-rank losses.
    """

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        return tuple(all_gather(x))

    @staticmethod
    def backward(ctx: Any, *grads: torch.Tensor) -> torch.Tensor:
        grad = torch.stack(grads)
        all_reduce(grad, op='sum')
        return grad[get_rank()]


def gather_with_grad(x: torch.Tensor) -> torch.Tensor:
    """Concatenate ``x`` of all ranks along dim 0 (rank order), differentiably; identity on one rank."""
    if get_world_size() == 1:
        return x
    return torch.cat(AllGatherWithGrad.apply(x.contiguous()), dim=0)


@MODELS.register_module()
class NTXentLoss(nn.Module):
    r"""NT-Xent loss of SimCLR (`Chen et al. 2020 <https://arxiv.org/abs/2002.05709>`_, eq. 1).

    For the 2N projections of N images (two views each), cosine similarities s, temperature T:

    .. math::
        \ell(i, j) = -\log \frac{\exp(s_{ij}/T)}{\sum_{k \neq i} \exp(s_{ik}/T)}, \qquad
        L = \frac{1}{2N} \sum_{n} [\ell(n, n') + \ell(n', n)],

    i.e. a softmax cross-entropy whose positive is the other view and whose 2N - 2 negatives are all the
    other views in the batch. Reference: ``src/loss/nt_xent_loss.py`` of vkinakh/scatsimclr (cosine
    similarity, temperature 0.5, summed CE / 2N, single GPU); mmpretrain's ``SimCLR`` +
    ``ContrastiveHead`` compute the same value. Under distributed training the keys are gathered from
    all ranks (:func:`gather_with_grad`), so the negatives are those of the global batch as in SimCLR; each
    rank averages over its own 2N queries and DDP averages the ranks. Every rank must hold the same N.

    Args:
        temperature (float): T. Defaults to 0.5 (ScatSimCLR's ``config.yaml``).
        gather_distributed (bool): use the other ranks' projections as negatives. Defaults to True.
        loss_weight (float): multiplier of the loss. Defaults to 1.0.
    """

    def __init__(self, temperature: float = 0.5, gather_distributed: bool = True, loss_weight: float = 1.0) -> None:
        super().__init__()
        if temperature <= 0:
            raise ValueError(f'temperature must be > 0, got {temperature}')
        self.temperature, self.gather_distributed, self.loss_weight = \
            temperature, gather_distributed, loss_weight

    def forward(self, z1: torch.Tensor, z2: torch.Tensor) -> torch.Tensor:
        """Loss for the projections (N, D) of view 1 and view 2 (row n of both = the same image)."""
        if z1.shape != z2.shape or z1.dim() != 2:
            raise ValueError(f'expected two (N, D) tensors of equal shape, got {z1.shape}, {z2.shape}')
        n = z1.shape[0]
        z1, z2 = F.normalize(z1, dim=1), F.normalize(z2, dim=1)
        queries = torch.cat([z1, z2])  # (2N, D), this rank
        rank, n_all = 0, n
        if self.gather_distributed and get_world_size() > 1:
            rank = get_rank()
            z1, z2 = gather_with_grad(z1), gather_with_grad(z2)
            n_all = z1.shape[0]
        keys = torch.cat([z1, z2])  # (2N_all, D): [views 1 | views 2]
        logits = queries @ keys.t() / self.temperature
        local = torch.arange(n, device=logits.device) + rank * n  # this rank's images among the keys
        self_idx = torch.cat([local, local + n_all])
        pos_idx = torch.cat([local + n_all, local])
        rows = torch.arange(2 * n, device=logits.device)
        logits = logits.index_put((rows, self_idx), logits.new_tensor(float('-inf')))  # drop k == i
        return self.loss_weight * F.cross_entropy(logits, pos_idx)

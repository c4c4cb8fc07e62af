"""NT-Xent: hand-computed values, a direct implementation of the formula, and 2-rank gathering."""
import math
import os
import pickle

import pytest
import torch
import torch.nn.functional as F

from mmspatial.models.losses.nt_xent import NTXentLoss


def direct_nt_xent(z1: torch.Tensor, z2: torch.Tensor, t: float) -> torch.Tensor:
    """SimCLR eq. 1 with explicit sums: l(i, j) = -log(exp(s_ij/t) / sum_{k != i} exp(s_ik/t))."""
    z = torch.stack([z1, z2], dim=1).reshape(-1, z1.shape[1])  # rows 2n, 2n+1 = views of image n
    z = z / z.norm(dim=1, keepdim=True)
    total = 0.
    for i in range(z.shape[0]):
        j = i + 1 if i % 2 == 0 else i - 1
        denom = sum(torch.exp(z[i] @ z[k] / t) for k in range(z.shape[0]) if k != i)
        total = total - torch.log(torch.exp(z[i] @ z[j] / t) / denom)
    return total / z.shape[0]


def test_hand_computed():
    e1, e2 = torch.eye(2)
    # views equal, images orthogonal: each row sees s = 1 (positive), 0, 0 -> log(1 + 2 e^{-1/T})
    loss = NTXentLoss(temperature=0.5)(torch.stack([e1, e2]), torch.stack([e1, e2]))
    assert loss.item() == pytest.approx(math.log(1 + 2 * math.exp(-2)), rel=1e-6)
    # one image: the positive is the only other sample -> softmax of a single logit -> 0
    assert NTXentLoss()(e1[None], e2[None]).item() == pytest.approx(0., abs=1e-7)
    # scale invariance (cosine similarity) and the temperature
    loss_t1 = NTXentLoss(temperature=1.0)(torch.stack([3 * e1, e2]), torch.stack([e1, 7 * e2]))
    assert loss_t1.item() == pytest.approx(math.log(1 + 2 * math.exp(-1)), rel=1e-6)


def test_matches_direct_formula():
    torch.manual_seed(0)
    z1, z2 = torch.randn(6, 5), torch.randn(6, 5)
    for t in (0.1, 0.5, 2.0):
        assert NTXentLoss(temperature=t)(z1, z2).item() == pytest.approx(direct_nt_xent(z1, z2, t).item(), rel=1e-5)


def test_matches_mmpretrain_simclr_head():
    """Same value as mmpretrain's SimCLR loss (interleaved views + ContrastiveHead)."""
    from mmpretrain.models.heads import ContrastiveHead
    from mmpretrain.models.selfsup import SimCLR
    torch.manual_seed(1)
    z1, z2 = torch.randn(4, 8), torch.randn(4, 8)
    z = F.normalize(torch.stack([z1, z2], 1).reshape(8, 8), dim=1)
    s = z @ z.t()
    mask, pos_idx, neg_mask = SimCLR._create_buffer(4, s.device)
    s = torch.masked_select(s, mask == 1).reshape(8, -1)
    pos = s[pos_idx].unsqueeze(1)
    neg = torch.masked_select(s, neg_mask == 1).reshape(8, -1)
    head = ContrastiveHead(loss=dict(type='CrossEntropyLoss'), temperature=0.5)
    assert NTXentLoss(0.5)(z1, z2).item() == pytest.approx(head.loss(pos, neg).item(), rel=1e-5)


def _rank_worker(rank: int, world: int, init_file: str, out_dir: str) -> None:
    import torch.distributed as dist
    dist.init_process_group('gloo', init_method=f'file://{init_file}', rank=rank, world_size=world)
    torch.manual_seed(0)
    z1, z2 = torch.randn(8, 4), torch.randn(8, 4)  # the global batch, same on every rank
    rows = slice(rank * 4, rank * 4 + 4)
    a, b = z1[rows].clone().requires_grad_(), z2[rows].clone().requires_grad_()
    loss = NTXentLoss(0.5)(a, b)
    loss.backward()
    with open(os.path.join(out_dir, f'{rank}.pkl'), 'wb') as f:
        pickle.dump((loss.item(), a.grad, b.grad), f)
    dist.destroy_process_group()


@pytest.mark.slow
def test_two_ranks_equal_one_big_batch(tmp_path):
    """Gathered negatives: mean of rank losses = global loss; all-reduced grads = world x global grads
    (DDP then divides by the world size)."""
    import torch.multiprocessing as mp
    mp.spawn(_rank_worker, args=(2, str(tmp_path / 'init'), str(tmp_path)), nprocs=2, join=True)
    results = [pickle.load(open(tmp_path / f'{r}.pkl', 'rb')) for r in range(2)]
    torch.manual_seed(0)
    z1, z2 = torch.randn(8, 4).requires_grad_(), torch.randn(8, 4).requires_grad_()
    full = NTXentLoss(0.5)(z1, z2)
    full.backward()
    assert (results[0][0] + results[1][0]) / 2 == pytest.approx(full.item(), rel=1e-5)
    for r, (_, g1, g2) in enumerate(results):
        rows = slice(r * 4, r * 4 + 4)
        assert torch.allclose(g1 / 2, z1.grad[rows], atol=1e-6)
        assert torch.allclose(g2 / 2, z2.grad[rows], atol=1e-6)

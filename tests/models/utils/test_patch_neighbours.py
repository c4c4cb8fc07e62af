"""SelfPatch neighbourhoods (torus and plain borders, any grid) and top-k positive matching."""
import pytest
import torch

from mmspatial.models.utils.patch_neighbours import NeighbourIndexCache, match_top_k_neighbours, patch_neighbour_index


def neighbours(index, valid, p):
    return index[p][valid[p]].tolist()


# 4x4 grid, patches numbered row-major:
#    0  1  2  3
#    4  5  6  7
#    8  9 10 11
#   12 13 14 15
WRAP_4x4 = {
    0: [1, 3, 4, 5, 7, 12, 13, 15],
    5: [0, 1, 2, 4, 6, 8, 9, 10],
    6: [1, 2, 3, 5, 7, 9, 10, 11],
    15: [0, 2, 3, 8, 10, 11, 12, 14],
    7: [0, 2, 3, 4, 6, 8, 10, 11],
}
PLAIN_4x4 = {
    0: [1, 4, 5],
    3: [2, 6, 7],
    5: [0, 1, 2, 4, 6, 8, 9, 10],
    7: [2, 3, 6, 10, 11],
    13: [8, 9, 10, 12, 14],
    15: [10, 11, 14],
}


@pytest.mark.parametrize('wrap,table', [(True, WRAP_4x4), (False, PLAIN_4x4)])
def test_hand_written_table(wrap, table):
    index, valid = patch_neighbour_index(4, 4, wrap=wrap)
    assert index.shape == valid.shape == (16, 8)
    for p, expected in table.items():
        assert neighbours(index, valid, p) == expected, p
        # valid entries first, invalid slots point at the patch itself
        k = len(expected)
        assert valid[p, :k].all() and not valid[p, k:].any()
        assert (index[p, k:] == p).all()


def test_non_square_and_small_wrapped_grids():
    # 2 x 3 torus: rows {0, 1} only, so every other patch is a neighbour, each counted once
    index, valid = patch_neighbour_index(2, 3, wrap=True)
    assert neighbours(index, valid, 0) == [1, 2, 3, 4, 5]
    assert neighbours(index, valid, 4) == [0, 1, 2, 3, 5]
    # 2 x 3 plain: patch 1 (row 0, col 1) sees the rest of its 2x3 block
    index, valid = patch_neighbour_index(2, 3, wrap=False)
    assert neighbours(index, valid, 1) == [0, 2, 3, 4, 5]
    assert neighbours(index, valid, 3) == [0, 1, 4]
    # 1 x 1: no neighbour at all
    index, valid = patch_neighbour_index(1, 1, wrap=True)
    assert not valid.any()


@pytest.mark.parametrize('h,w', [(14, 14), (6, 6), (5, 7)])
def test_torus_properties(h, w):
    index, valid = patch_neighbour_index(h, w, wrap=True)
    assert valid.all()  # grids of at least 3x3: 8 distinct neighbours
    adj = torch.zeros(h * w, h * w, dtype=torch.bool)
    adj[torch.arange(h * w)[:, None].expand_as(index), index] = True
    assert not adj.diagonal().any()
    assert torch.equal(adj, adj.T)  # i is a neighbour of j iff j is a neighbour of i
    assert (adj.sum(1) == 8).all()
    # row/column distance on the torus at most 1
    r, c = torch.arange(h * w) // w, torch.arange(h * w) % w
    dr = (r[:, None] - r[index]).abs()
    dc = (c[:, None] - c[index]).abs()
    assert ((dr <= 1) | (dr == h - 1)).all() and ((dc <= 1) | (dc == w - 1)).all()


def test_kernel_size_5_and_errors():
    index, valid = patch_neighbour_index(5, 5, kernel_size=5, wrap=False)
    assert index.shape == (25, 24)
    assert neighbours(index, valid, 12) == [p for p in range(25) if p != 12]
    assert neighbours(index, valid, 0) == [1, 2, 5, 6, 7, 10, 11, 12]
    with pytest.raises(ValueError, match='odd'):
        patch_neighbour_index(4, 4, kernel_size=4)
    with pytest.raises(ValueError, match='grid'):
        patch_neighbour_index(0, 4)


def test_cache_reuses_tensors():
    cache = NeighbourIndexCache(wrap=False)
    a = cache(3, 3, torch.device('cpu'))
    assert cache(3, 3, torch.device('cpu'))[0] is a[0]
    assert torch.equal(a[0], patch_neighbour_index(3, 3, wrap=False)[0])


def test_top_k_by_cosine_similarity():
    # 1 x 5 plain grid: patch 2 has neighbours 1 and 3 (2 valid slots of 8)
    index, valid = patch_neighbour_index(1, 5, wrap=False)
    tokens = torch.tensor([[[1., 0.], [0., 1.], [1., 1.], [10., 9.], [-1., 0.]]])
    nb, ok = match_top_k_neighbours(tokens, index, valid, k=1)
    assert nb.shape == (1, 5, 1)
    # patch 2 = (1,1): cos with (0,1) = .707, with (10,9) = .997 -> 3; scale does not matter
    assert nb[0, 2, 0] == 3 and ok[0, 2, 0]
    # patch 0 has one neighbour (1); patch 4 has one neighbour (3)
    assert nb[0, 0, 0] == 1 and nb[0, 4, 0] == 3
    nb, ok = match_top_k_neighbours(tokens, index, valid, k=4)
    # patch 2: both neighbours, most similar first, then two invalid slots
    assert nb[0, 2, :2].tolist() == [3, 1]
    assert ok[0, 2].tolist() == [True, True, False, False]
    assert ok[0, 0].tolist() == [True, False, False, False]


def test_top_k_on_a_torus_picks_the_most_similar_of_eight():
    torch.manual_seed(0)
    index, valid = patch_neighbour_index(4, 4, wrap=True)
    tokens = torch.randn(2, 16, 8)
    nb, ok = match_top_k_neighbours(tokens, index, valid, k=4)
    assert ok.all()
    x = torch.nn.functional.normalize(tokens, dim=-1)
    for b in range(2):
        for p in range(16):
            sims = {int(j): float(x[b, p] @ x[b, j]) for j in index[p]}
            best = sorted(sims, key=sims.get, reverse=True)[:4]
            assert nb[b, p].tolist() == best
            assert p not in nb[b, p].tolist()

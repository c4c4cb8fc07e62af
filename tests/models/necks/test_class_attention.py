"""Class-attention aggregation: against a direct per-set computation, self-exclusion and masking."""
import torch
import torch.nn.functional as F

from mmspatial.models.necks.class_attention import ClassAttentionAggregator


def naive_block(blk, cls, ctx, keep=None):
    """One CA block written out for a single set: cls (C,), ctx (L, C)."""
    u = blk.norm1(torch.cat([cls[None], ctx]))  # 1 + L, C
    h = blk.num_heads
    d = u.shape[1] // h
    q = blk.q(u[0]).view(h, d)
    k = blk.k(u).view(-1, h, d)
    v = blk.v(u).view(-1, h, d)
    scores = torch.einsum('hd,lhd->hl', q, k) / d**0.5
    if keep is not None:
        scores[:, 1:][:, ~keep] = float('-inf')
    attn = scores.softmax(-1)
    out = blk.proj(torch.einsum('hl,lhd->hd', attn, v).reshape(-1))
    cls = cls + out
    return cls + blk.mlp(blk.norm2(cls))


def naive_aggregate(agg, ctx, keep=None):
    cls = agg.cls_token[0]
    for blk in agg.blocks:
        cls = naive_block(blk, cls, ctx, keep)
    return agg.norm(cls)


def build(c=16, heads=2):
    torch.manual_seed(0)
    agg = ClassAttentionAggregator(embed_dims=c, num_heads=heads)
    with torch.no_grad():  # non-trivial norms, so a LayerNorm slip would show
        for blk in agg.blocks:
            blk.norm1.weight.uniform_(0.5, 1.5)
            blk.norm1.bias.uniform_(-0.2, 0.2)
    return agg.eval()


def test_image_token_and_student_patches_match_direct_computation():
    agg = build()
    x = torch.randn(2, 6, 16)
    cls, patches = agg(x)
    assert cls.shape == (2, 16) and patches.shape == (2, 6, 16)
    for b in range(2):
        assert torch.allclose(cls[b], naive_aggregate(agg, x[b]), atol=1e-5)
    # student patch tokens: only the final LayerNorm
    assert torch.allclose(patches, F.layer_norm(x, (16, ), agg.norm.weight, agg.norm.bias, 1e-6))


def test_neighbour_aggregation_matches_direct_computation():
    agg = build()
    x = torch.randn(2, 5, 16)
    nb = torch.randint(0, 5, (2, 5, 3))
    cls, y = agg.forward_neighbours(x, nb)
    cls_plain, _ = agg(x)
    assert torch.allclose(cls, cls_plain, atol=1e-6)  # same image token as the student path
    for b in range(2):
        for i in range(5):
            expected = naive_aggregate(agg, x[b, nb[b, i]])
            assert torch.allclose(y[b, i], expected, atol=1e-5), (b, i)


def test_patch_is_not_in_its_own_set():
    agg = build()
    x = torch.randn(1, 4, 16)
    nb = torch.tensor([[[1, 2], [0, 2], [0, 1], [0, 1]]])  # nobody lists itself; 3 is nobody's neighbour
    _, y = agg.forward_neighbours(x, nb)
    x2 = x.clone()
    x2[0, 3] = torch.randn(16)  # change patch 3: only sets containing 3 may change, and none does
    _, y2 = agg.forward_neighbours(x2, nb)
    assert torch.allclose(y, y2)
    x3 = x.clone()
    x3[0, 0] = torch.randn(16)  # patch 0 is a neighbour of 1, 2, 3 but not of itself
    _, y3 = agg.forward_neighbours(x3, nb)
    assert torch.allclose(y3[0, 0], y[0, 0])
    assert not torch.allclose(y3[0, 1], y[0, 1])


def test_masked_slots_are_ignored():
    agg = build()
    x = torch.randn(1, 4, 16)
    nb = torch.tensor([[[1, 2], [0, 0], [3, 1], [2, 2]]])
    keep = torch.tensor([[[True, True], [True, False], [True, True], [True, False]]])
    _, y = agg.forward_neighbours(x, nb, keep)
    # patch 1 attends over {0} only, patch 3 over {2} only
    assert torch.allclose(y[0, 1], naive_aggregate(agg, x[0, [0]]), atol=1e-5)
    assert torch.allclose(y[0, 3], naive_aggregate(agg, x[0, [2]]), atol=1e-5)
    assert torch.allclose(y[0, 0], naive_aggregate(agg, x[0, [1, 2]]), atol=1e-5)
    # the masked slot's content does not matter
    _, y_other = agg.forward_neighbours(x, torch.tensor([[[1, 2], [0, 3], [3, 1], [2, 0]]]), keep)
    assert torch.allclose(y, y_other, atol=1e-6)

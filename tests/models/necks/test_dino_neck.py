"""DINO projection head: structure, weight-normalised prototypes, deep-copy."""
import copy

import torch
import torch.nn as nn
from mmpretrain.registry import MODELS

import mmspatial  # noqa: F401


def test_structure_and_shapes():
    neck = MODELS.build(
        dict(type='DINONeck', in_channels=8, out_channels=32, hidden_channels=16, bottleneck_channels=4))
    linears = [m for m in neck.mlp if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(8, 16), (16, 16), (16, 4)]
    assert sum(isinstance(m, nn.GELU) for m in neck.mlp) == 2
    assert neck(torch.randn(3, 8)).shape == (3, 32)
    assert neck(torch.randn(2, 5, 8)).shape == (2, 5, 32)  # patch tokens
    assert set(neck.last_layer.state_dict()) == {'weight_g', 'weight_v'}  # DINO checkpoint names


def test_weight_norm_matches_torch_and_fixed_norm():
    neck = MODELS.build(
        dict(
            type='DINONeck',
            in_channels=8,
            out_channels=32,
            hidden_channels=16,
            bottleneck_channels=4,
            norm_last_layer=True))
    last = neck.last_layer
    assert not last.weight_g.requires_grad and last.weight_v.requires_grad
    assert torch.allclose(last.weight.norm(dim=1), torch.ones(32))
    ref = nn.utils.parametrizations.weight_norm(nn.Linear(4, 32, bias=False))
    with torch.no_grad():
        ref.parametrizations.weight.original0.copy_(torch.full((32, 1), 2.))
        ref.parametrizations.weight.original1.copy_(last.weight_v)
        last.weight_g.fill_(2.)
    z = torch.randn(5, 4)
    assert torch.allclose(last(z), ref(z), atol=1e-6)
    # the bottleneck output is L2-normalised before the prototypes
    x = torch.randn(3, 8)
    h = neck.mlp(x)
    assert torch.allclose(neck(x), last(h / h.norm(dim=-1, keepdim=True)), atol=1e-6)
    trainable = MODELS.build(dict(type='DINONeck', in_channels=8, out_channels=4, norm_last_layer=False))
    assert trainable.last_layer.weight_g.requires_grad


def test_deepcopy_gives_an_independent_equal_module():
    neck = MODELS.build(dict(type='DINONeck', in_channels=8, out_channels=16))
    twin = copy.deepcopy(neck)
    x = torch.randn(2, 8)
    assert torch.equal(neck(x), twin(x))
    with torch.no_grad():
        twin.last_layer.weight_v.add_(1.)
    assert not torch.equal(neck(x), twin(x))

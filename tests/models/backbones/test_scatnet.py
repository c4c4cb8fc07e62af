"""ScatNet (the ScatSimCLR encoder): shapes, reference layouts and parameter counts."""
import pytest
import torch
from mmpretrain.registry import MODELS

import mmspatial  # noqa: F401

SCAT_CHANNELS = 3 * (1 + 2 * 16 + 16 * 16 * 2 * 1 // 2)  # 867 for J=2, L=16
HEAD = 2048 * 2048 + 2048 + 2048 * 128 + 128  # projection 2048-2048-128 with biases
# the reference's ResBlock stages (src/models/scatnet_simclr.py) and adapter widths
LAYOUTS = {
    8: (32, [(64, 4), (128, 4)]),
    12: (256, [(128, 4), (64, 4), (128, 4)]),
    16: (256, [(128, 6), (64, 4), (128, 6)]),
    30: (256, [(128, 30)]),
    45: (256, [(128, 15), (64, 15), (128, 15)])
}


def hand_count(depth: int) -> int:
    """Parameters by hand: bias-free convs, BN = 2 per channel, 1x1 conv+BN shortcut on width change."""
    stem, stages = LAYOUTS[depth]
    total = 2 * SCAT_CHANNELS + 9 * SCAT_CHANNELS * stem + 2 * stem
    cin = stem
    for planes, blocks in stages:
        for _ in range(blocks):
            total += 9 * cin * planes + 2 * planes + 9 * planes * planes + 2 * planes
            if cin != planes:
                total += cin * planes + 2 * planes
            cin = planes
    return total


def count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize('depth,encoder,paper', [(8, 1_647_590, 6.1), (12, 4_819_526, 7.8), (16, 6_001_222, 10.4),
                                                 (30, 11_043_014, 14.1), (45, 12_132_678, None)])
def test_parameter_counts(depth, encoder, paper):
    model = MODELS.build(dict(type='ScatNet', depth=depth, input_size=(32, 32)))
    assert count(model) == hand_count(depth) == encoder
    assert count(model.scattering) == 0 and count(model.scat_norm) == 2 * SCAT_CHANNELS
    total = (encoder + HEAD) / 1e6
    if depth in (8, 16):  # the paper's counts include the projection head and match the code
        assert abs(total - paper) < 0.07
    elif paper is not None:  # 12 and 30: the paper's models are not the released layouts
        assert abs(total - paper) > 1.0


@pytest.mark.parametrize('size', [32, 96])
def test_output_is_h_2048(size):
    model = MODELS.build(dict(type='ScatNet', depth=8, input_size=(size, size)))
    (h, ) = model(torch.randn(2, 3, size, size))
    assert h.shape == (2, 2048)
    assert model.scat_norm.num_features == SCAT_CHANNELS == 867
    spatial = MODELS.build(dict(type='ScatNet', depth=8, input_size=(size, size), flatten=False))
    assert spatial(torch.randn(2, 3, size, size))[0].shape == (2, 128, 4, 4)


def test_layers_follow_the_reference_layout():
    model = MODELS.build(dict(type='ScatNet', depth=16, input_size=(32, 32)))
    assert model.stem[0].in_channels == SCAT_CHANNELS and model.stem[0].out_channels == 256
    widths = [[blk.conv2.out_channels for blk in layer] for layer in model.layers]
    assert widths == [[128] * 6, [64] * 4, [128] * 6]
    assert all(blk.conv1.stride == (1, 1) for layer in model.layers for blk in layer)
    with pytest.raises(KeyError):
        MODELS.build(dict(type='ScatNet', depth=10))


def test_scattering_is_not_trained():
    model = MODELS.build(dict(type='ScatNet', depth=8, input_size=(32, 32)))
    optim_params = {id(p) for p in model.parameters()}
    assert all(id(b) not in optim_params for b in model.scattering.buffers())
    before = model.scattering.psi1_0.clone()
    model(torch.randn(2, 3, 32, 32))[0].sum().backward()
    assert torch.equal(model.scattering.psi1_0, before)


def test_scattering_bn_is_built_but_not_applied_by_default():
    # reference: ScatSimCLR creates `_scatnet_bn` but its forward never calls it
    torch.manual_seed(0)
    model = MODELS.build(dict(type='ScatNet', depth=8, input_size=(16, 16), J=2, L=4))
    x = torch.randn(4, 3, 16, 16) * 5 + 3
    model.train()
    (h, ) = model(x)
    manual = model.pool(model.layers(model.stem(model.scattering(x)))).flatten(1)
    assert torch.equal(h, manual)
    bn = model.scat_norm
    assert torch.equal(bn.running_mean, torch.zeros_like(bn.running_mean))  # never saw a batch
    assert int(bn.num_batches_tracked) == 0
    assert not any(p.requires_grad for p in bn.parameters())  # frozen: no unused trainable params under DDP
    assert count(bn) == 2 * bn.num_features  # still counted, as in the reference


def test_scattering_bn_option():
    torch.manual_seed(0)
    model = MODELS.build(dict(type='ScatNet', depth=8, input_size=(16, 16), J=2, L=4, scat_norm=True))
    x = torch.randn(4, 3, 16, 16) * 5 + 3
    model.train()
    s = model.scattering(x)
    (h, ) = model(x)
    bn = model.scat_norm
    assert int(bn.num_batches_tracked) == 1
    # running mean after one batch: momentum 0.1 times the batch mean of every scattering map
    assert torch.allclose(bn.running_mean, 0.1 * s.mean(dim=(0, 2, 3)), atol=1e-6)
    var = s.var(dim=(0, 2, 3), unbiased=False, keepdim=True)
    normed = (s - s.mean(dim=(0, 2, 3), keepdim=True)) / torch.sqrt(var + bn.eps)
    # float32 rounding through the conv stack: max abs diff 2.6e-5 on outputs up to 9.3 on an AVX2 CPU
    # (earlier CI runs on AVX-512 machines passed atol 1e-5); the unbiased variance would scale the
    # normalised maps by sqrt(64/63), 0.8 %, far outside 1e-4
    assert torch.allclose(h, model.pool(model.layers(model.stem(normed))).flatten(1), rtol=1e-4, atol=1e-4)
    assert all(p.requires_grad for p in bn.parameters())

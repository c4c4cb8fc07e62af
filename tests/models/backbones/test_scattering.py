"""FastScattering2D against kymatio 0.3.0 (the oracle), and its module plumbing."""
import io

import numpy as np
import pytest
import torch

from mmspatial.models.backbones.scattering import FastScattering2D, morlet_filter_bank, padded_size, periodize_filter


def rel_errors(ours: torch.Tensor, ref: torch.Tensor):
    """Relative Frobenius error and max abs error relative to the largest coefficient."""
    diff = (ours.double() - ref.double())
    return float(diff.norm() / ref.double().norm()), float(diff.abs().max() / ref.double().abs().max())


@pytest.mark.parametrize(
    'shape,J,L',
    [
        ((32, 32), 2, 16),  # ScatSimCLR on CIFAR
        ((96, 96), 2, 16),  # ScatSimCLR on STL-10
        ((32, 32), 1, 8),
        ((24, 40), 3, 4),  # non-square, J = 3 (two second-order scale pairs)
        ((30, 34), 2, 6),  # sides not multiples of 2^J
        ((8, 8), 3, 2),  # 2^J = side: kymatio's special reflection padding
    ])
def test_equals_kymatio(shape, J, L):
    kymatio_torch = pytest.importorskip('kymatio.torch')
    torch.manual_seed(0)
    x = torch.randn(1, 3, *shape)
    ref = kymatio_torch.Scattering2D(J=J, shape=shape, L=L, max_order=2)(x)
    ours = FastScattering2D(shape, J=J, L=L, flatten=False)(x)
    assert ours.shape == ref.shape == (1, 3, 1 + J * L + L * L * J * (J - 1) // 2, *ref.shape[-2:])
    fro, worst = rel_errors(ours, ref)
    assert fro < 1e-5 and worst < 1e-5, (fro, worst)


def test_filter_bank_equals_kymatio():
    filter_bank = pytest.importorskip('kymatio.scattering2d.filter_bank').filter_bank
    M, N, J, L = 40, 48, 3, 6
    ref = filter_bank(M, N, J, L)
    ours = morlet_filter_bank(M, N, J, L)
    scale = max(np.abs(ref['psi'][0]['levels'][0]).max(), 1.0)
    for psi in ref['psi']:
        for res, level in enumerate(psi['levels']):
            mine = periodize_filter(ours['psi'][psi['j'], psi['theta']], res)
            assert np.abs(mine - level).max() < 1e-6 * scale
    phi = np.outer(ours['phi_rows'], ours['phi_cols'])  # separable: the low-pass operator relies on it
    for res, level in enumerate(ref['phi']['levels']):
        assert np.abs(periodize_filter(phi, res) - level).max() < 1e-6 * np.abs(level).max()


def test_padding_rule():
    # kymatio's compute_padding: at least 2^J more, rounded up to a multiple of 2^J
    assert padded_size(32, 2) == 40 and padded_size(96, 2) == 104 and padded_size(30, 2) == 36
    assert FastScattering2D((32, 32)).out_shape == (8, 8)
    assert FastScattering2D((96, 96)).out_shape == (24, 24)


def test_layout_and_channel_order():
    torch.manual_seed(0)
    x = torch.randn(2, 3, 16, 16)
    full = FastScattering2D((16, 16), J=2, L=4, flatten=False)(x)  # (B, C, K, h, w)
    flat = FastScattering2D((16, 16), J=2, L=4)(x)  # reference: view(B, C*K, h, w)
    assert flat.shape == (2, 3 * 25, 4, 4)
    assert torch.equal(flat, full.reshape(2, 75, 4, 4))
    single = FastScattering2D((16, 16), J=2, L=4)(x[:, 1])  # (B, H, W) -> (B, K, h, w)
    assert torch.allclose(single, full[:, 1], rtol=0, atol=1e-6)
    # path 0 is the (unit-mass) low-pass; Morlet wavelets have zero mean, so a constant image has
    # order 0 equal to the constant and (near) zero first and second order paths
    const = FastScattering2D((16, 16), J=2, L=4)(torch.full((1, 16, 16), 5.0))
    assert torch.allclose(const[0, 0], torch.full((4, 4), 5.0), rtol=1e-4)
    assert const[0, 1:].abs().max() < 1e-5 * 5.0


def test_chunking_is_invisible():
    torch.manual_seed(0)
    x = torch.randn(5, 2, 16, 16)
    outs = [FastScattering2D((16, 16), J=2, L=4, cpu_chunk=c)(x) for c in (1, 3, 100)]
    assert torch.allclose(outs[0], outs[1], atol=1e-6) and torch.allclose(outs[0], outs[2], atol=1e-6)
    assert FastScattering2D((16, 16), J=2, L=4)(x[:0]).shape == (0, 2 * 25, 4, 4)


def test_filters_are_buffers_saved_with_the_checkpoint():
    scat = FastScattering2D((16, 16), J=2, L=4)
    assert list(scat.parameters()) == []
    filters = {'psi1_0', 'psi1_1', 'psi2_0_1', 'lp_rows_0', 'lp_cols_0', 'lp_rows_1', 'lp_cols_1'}
    assert filters <= set(scat.state_dict())
    buf = io.BytesIO()
    torch.save(scat.state_dict(), buf)
    other = FastScattering2D((16, 16), J=2, L=4)
    other.psi1_0.zero_()
    other.load_state_dict(torch.load(io.BytesIO(buf.getvalue())))
    x = torch.randn(1, 3, 16, 16)
    assert torch.equal(other(x), scat(x))
    with pytest.raises(ValueError, match='built for inputs of size'):
        scat(torch.randn(1, 3, 20, 20))


def test_loads_version_1_checkpoints():
    # version 1 stored each wavelet bank frequency-major, (P/k * Q/k, m, k^2), built here from the filter
    # bank with that layout's own formula; loading converts it to the alias layout without changes.
    J, L, shape = 2, 4, (16, 16)
    P, Q = padded_size(16, J), padded_size(16, J)
    psi = morlet_filter_bank(P, Q, J, L)['psi']

    def v1_layout(filters, k):
        m, Pf, Qf = filters.shape
        return torch.from_numpy(
            filters.reshape(m, k, Pf // k, k, Qf // k).transpose(2, 4, 0, 1, 3).reshape(-1, m, k * k) /
            (k * k)).float()

    scat = FastScattering2D(shape, J=J, L=L)
    state = scat.state_dict()
    state['psi1_0'], state['psi1_1'] = v1_layout(psi[0], 1), v1_layout(psi[1], 2)
    state['psi2_0_1'] = v1_layout(periodize_filter(psi[1], 0), 2)
    state._metadata[''] = dict(version=1)
    other = FastScattering2D(shape, J=J, L=L)
    other.psi2_0_1.zero_()
    other.load_state_dict(state)
    for name in ('psi1_0', 'psi1_1', 'psi2_0_1'):
        assert torch.allclose(getattr(other, name), getattr(scat, name), rtol=1e-6, atol=0), name


def test_double_precision_and_gradient():
    scat = FastScattering2D((6, 6), J=1, L=2).double()
    x = torch.randn(1, 6, 6, dtype=torch.float64, requires_grad=True)
    assert scat(x).dtype == torch.float64
    assert torch.autograd.gradcheck(lambda t: scat(t), (x, ), eps=1e-6, atol=1e-5)


def test_autocast_keeps_float32():
    scat = FastScattering2D((16, 16), J=2, L=4)
    x = torch.randn(2, 3, 16, 16)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        out = scat(x)
    assert out.dtype == torch.float32 and torch.allclose(out, scat(x))

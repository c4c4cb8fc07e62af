"""Batched 2-D scattering transform, numerically equal to kymatio 0.3.0's ``Scattering2D``.

ScatSimCLR (Kinakh et al., https://arxiv.org/abs/2108.13939) feeds ``Scattering2D(J=2, L=16,
max_order=2)`` of every RGB channel to its adapter (reference: ``src/models/scatnet_simclr.py`` of
vkinakh/scatsimclr). kymatio's torch frontend loops over all 1 + JL + L^2 J(J-1)/2 paths in Python, with
a complex FFT of real data and ~10 small tensor ops per path. This module computes the same quantity
(relative error ~2e-7 in float32) with a handful of large ops:

* the Morlet/Gabor filter bank is rebuilt here in float64 with vectorised numpy (same formulas as
  ``kymatio.scattering2d.filter_bank``, which only the tests use), so kymatio is not a runtime
  dependency;
* one real FFT per input map, completed to the full spectrum by Hermitian symmetry; for each scale,
  "multiply by every orientation's filter and Fourier-periodise" (= convolve and sub-sample in space)
  is k^2 broadcast multiply-adds of a filter tensor (stored real, cast to complex once per call) with
  strided views of the spectrum's k^2 aliasing blocks, written batch-first so that one batched inverse
  FFT over the last two axes and one modulus follow;
* the low-pass ``phi`` is a separable Gaussian, so "multiply by phi, periodise, inverse FFT, take the
  real part, unpad" is a fixed real linear map ``U -> A U B^T``: two small matrix products instead of a
  forward and an inverse FFT per path. This removes more than half of kymatio's FFT work; the remaining
  cost is mostly the unavoidable inverse FFT of every second-order path.

The loops that remain run over scales (J, J(J-1)/2 iterations), over the k^2 aliases of a scale and,
on CPU, over L3-sized chunks of the batch, never over channels or orientations. Filters are buffers
(moved by ``.to()``, broadcast by DDP, stored in checkpoints), not parameters. Speed:
``benchmarks/bench_scattering.py`` (about 3.2-4x kymatio's torch frontend on a 2-core CPU).
"""
from typing import Dict, Optional, Sequence

import numpy as np
import torch
import torch.nn as nn
from mmpretrain.registry import MODELS

# kymatio normalises Gabor filters with this truncated constant, not pi; kept for exact equality.
_KYMATIO_PI = 3.1415
# CPU batch chunks are sized so that the largest intermediate stays about this big (L3-resident): smaller
# chunks parallelise worse over threads, larger ones spill to memory (sweep: bench_scattering --cpu-chunks).
_CPU_CHUNK_BYTES = 16 << 20


def padded_size(size: int, J: int) -> int:
    """kymatio's ``compute_padding``: at least 2^J of reflection padding, rounded to a multiple of 2^J."""
    return ((size + 2**J) // 2**J + 1) * 2**J


def _gabor_2d(M: int, N: int, sigma: float, theta: float, xi: float, slant: float = 1.0) -> np.ndarray:
    """Periodised Gabor filter in space (kymatio ``gabor_2d``), vectorised over the 5x5 periods."""
    # kymatio builds the rotation in float32; reproduce its rounding.
    c, s = float(np.float32(np.cos(theta))), float(np.float32(np.sin(theta)))
    rot, rot_inv = np.array([[c, -s], [s, c]]), np.array([[c, s], [-s, c]])
    curv = rot @ np.diag([1.0, slant * slant]) @ rot_inv / (2 * sigma * sigma)
    xs = (np.arange(M)[None, :] + M * np.arange(-2, 3)[:, None]).reshape(5, 1, M, 1)
    ys = (np.arange(N)[None, :] + N * np.arange(-2, 3)[:, None]).reshape(1, 5, 1, N)
    arg = -(curv[0, 0] * xs * xs + (curv[0, 1] + curv[1, 0]) * xs * ys + curv[1, 1] * ys * ys) \
        + 1j * (xs * xi * np.cos(theta) + ys * xi * np.sin(theta))
    gab = np.exp(arg).sum(axis=(0, 1))
    return gab / (2 * _KYMATIO_PI * sigma * sigma / slant)


def _morlet_2d(M: int, N: int, sigma: float, theta: float, xi: float, slant: float) -> np.ndarray:
    """Zero-mean Morlet wavelet (kymatio ``morlet_2d``)."""
    wv = _gabor_2d(M, N, sigma, theta, xi, slant)
    wv_modulus = _gabor_2d(M, N, sigma, theta, 0, slant)
    return wv - wv.sum() / wv_modulus.sum() * wv_modulus


def _band_mask(n: int, res: int) -> np.ndarray:
    """1-D factor of kymatio's ``periodize_filter_fft`` mask (zeroes the band that would alias)."""
    mask = np.ones(n)
    start, length = int(n * 2**(-res - 1)), int(n * (1 - 2**(-res)))
    mask[start:start + length] = 0
    return mask


def periodize_filter(filt: np.ndarray, res: int) -> np.ndarray:
    """kymatio ``periodize_filter_fft`` on the last two axes: mask the aliasing band, fold by 2^res."""
    M, N = filt.shape[-2:]
    k = 2**res
    filt = filt * _band_mask(M, res)[:, None] * _band_mask(N, res)[None, :]
    return filt.reshape(filt.shape[:-2] + (k, M // k, k, N // k)).sum(axis=(-4, -2))


def morlet_filter_bank(M: int, N: int, J: int, L: int) -> Dict[str, np.ndarray]:
    """Fourier-domain filters of kymatio's ``filter_bank(M, N, J, L)`` in float64.

    Returns:
        dict: ``psi`` of shape (J, L, M, N) (wavelet of scale j, angle index theta, at resolution 0;
        lower resolutions come from :func:`periodize_filter`) and ``phi_rows`` (M,) / ``phi_cols`` (N,):
        the low-pass at resolution 0 is exactly ``phi_rows[:, None] * phi_cols[None, :]`` (a periodised
        isotropic Gaussian is separable).
    """
    psi = np.empty((J, L, M, N))
    for j in range(J):
        for t in range(L):
            theta = (int(L - L / 2 - 1) - t) * np.pi / L
            wave = _morlet_2d(M, N, 0.8 * 2**j, theta, 3.0 / 4.0 * np.pi / 2**j, 4.0 / L)
            psi[j, t] = np.real(np.fft.fft2(wave))
    sigma = 0.8 * 2**(J - 1)

    def gauss_1d(n: int) -> np.ndarray:
        x = np.arange(n)[None, :] + n * np.arange(-2, 3)[:, None]
        # the imaginary part is only rounding noise (the periodised Gaussian is even)
        return np.real(np.fft.fft(np.exp(-x * x / (2 * sigma * sigma)).sum(0)))

    return dict(psi=psi, phi_rows=gauss_1d(M) / (2 * _KYMATIO_PI * sigma * sigma), phi_cols=gauss_1d(N))


def _lowpass_operator(phi: np.ndarray, res: int, J: int) -> np.ndarray:
    """Matrix of "multiply by phi (at resolution res), periodise to resolution J, inverse FFT, crop 1 px"
    acting on one axis of a real signal of length ``len(phi) / 2^res``.

    It is real: the periodised, band-masked Gaussian stays even modulo the signal length (the padded
    sizes are multiples of 2^J), so the complex part is rounding noise; checked here.
    """
    n = phi.shape[0] // 2**res
    n_out = phi.shape[0] // 2**J
    k = n // n_out
    phi_res = (phi * _band_mask(phi.shape[0], res)).reshape(2**res, n).sum(0)
    fwd = np.exp(-2j * np.pi * np.outer(np.arange(n), np.arange(n)) / n)  # DFT (n x n)
    fold = np.tile(np.eye(n_out), (1, k)) / k  # mean-periodisation
    inv = np.exp(2j * np.pi * np.outer(np.arange(n_out), np.arange(n_out)) / n_out) / n_out
    op = (inv @ fold @ (phi_res[:, None] * fwd))[1:-1]  # kymatio's unpad
    if np.abs(op.imag).max() > 1e-9 * np.abs(op.real).max():
        raise ValueError('the low-pass operator is unexpectedly complex')
    return op.real


def _reflect_index(n: int, before: int, after: int) -> np.ndarray:
    """Indices of kymatio's reflection padding of a length-n axis (incl. its pad == n special case)."""
    if before == n:  # kymatio pads one less by reflection and repeats the second-(last) sample
        idx = np.pad(np.arange(n), (before - 1, after - 1), mode='reflect')
        return np.concatenate([idx[1:2], idx, idx[-2:-1]])
    if before >= n or after >= n:
        raise ValueError(f'padding ({before}, {after}) is too large for size {n}')
    return np.pad(np.arange(n), (before, after), mode='reflect')


def _full_spectrum(x: torch.Tensor) -> torch.Tensor:
    """Full 2-D spectrum of real maps (..., P, Q) from ``rfft2`` and Hermitian symmetry (about 2x
    cheaper on CPU than ``fft2`` of real input): X[r, c] = conj(X[-r, -c]) for the missing columns."""
    P, Q = x.shape[-2:]
    half = torch.fft.rfft2(x)
    missing = Q - (Q // 2 + 1)  # columns Q//2+1 .. Q-1 mirror columns Q - c = missing .. 1
    if missing == 0:
        return half
    rows = (-torch.arange(P, device=x.device)) % P
    mirrored = half.index_select(-2, rows)[..., 1:missing + 1].flip(-1).conj_physical()
    return torch.cat([half, mirrored], dim=-1)


def _modulus_(z: torch.Tensor) -> torch.Tensor:
    """|z| = sqrt(re^2 + im^2), as kymatio, overwriting the temporary ``z`` (a fresh FFT output).

    Squaring the real view in place is one contiguous pass; with the strided sum and the in-place sqrt
    this is ~2x faster than complex ``abs`` or ``hypot`` on CPU. Its gradient would be NaN at 0, so
    ``abs`` (sub-gradient 0 at 0, like kymatio's ``ModulusStable``) is used, out of place, when autograd
    needs it.
    """
    if torch.is_grad_enabled() and z.requires_grad:
        return z.abs()
    zr = torch.view_as_real(z)
    zr.mul_(zr)
    return torch.add(zr[..., 0], zr[..., 1]).sqrt_()


@MODELS.register_module()
class FastScattering2D(nn.Module):
    """2-D scattering transform of order 2, equal to ``kymatio.torch.Scattering2D(J, shape, L, 2)``.

    Applied to every input channel separately, as ScatSimCLR does. Output channels are ordered like the
    reference ``view(B, C * K, H', W')`` of kymatio's (B, C, K, H', W'): channel-major, then kymatio's
    path order (phi; first order by (j1, theta1); second order by (j1, theta1, j2, theta2), j2 > j1).

    Args:
        shape (Sequence[int]): input (H, W); filters are built for this size, as in kymatio.
        J (int): number of scales (output is sub-sampled by 2^J). Defaults to 2.
        L (int): number of orientations. Defaults to 16 (ScatSimCLR).
        flatten (bool): return (B, C*K, H', W') if True, else kymatio's (B, C, K, H', W').
            Defaults to True.
        cpu_chunk (int, optional): on CPU the batch is processed in chunks of this many maps so that
            intermediates stay in cache; None picks it from the sizes (~16 MiB). GPUs take the whole
            batch.

    Shapes:
        input (B, C, H, W) -> output (B, C*K, H', W') with K = 1 + JL + L^2 J(J-1)/2,
        H' = Hpad / 2^J - 2 (= H / 2^J when H is a multiple of 2^J).
    """

    def __init__(self,
                 shape: Sequence[int],
                 J: int = 2,
                 L: int = 16,
                 flatten: bool = True,
                 cpu_chunk: Optional[int] = None) -> None:
        super().__init__()
        if J < 1 or L < 1:
            raise ValueError(f'J and L must be >= 1, got J={J}, L={L}')
        M, N = int(shape[0]), int(shape[1])
        if 2**J > M or 2**J > N:
            raise ValueError(f'the input size {(M, N)} must be at least 2^J = {2 ** J}')
        self.shape, self.J, self.L, self.flatten = (M, N), J, L, flatten
        Mp, Np = padded_size(M, J), padded_size(N, J)
        self.padded_shape = (Mp, Np)
        self.num_paths = 1 + J * L + L * L * J * (J - 1) // 2
        self.out_shape = (Mp // 2**J - 2, Np // 2**J - 2)
        if cpu_chunk is None:  # keep the largest intermediate (complex second-order maps) cache-sized
            largest = L * L * Mp * Np // 4 if J > 1 else L * Mp * Np
            cpu_chunk = max(1, _CPU_CHUNK_BYTES // (8 * largest))
        self.cpu_chunk = cpu_chunk

        pads = [(Mp - M) // 2, (Mp - M + 1) // 2, (Np - N) // 2, (Np - N + 1) // 2]
        self.register_buffer('pad_rows', torch.from_numpy(_reflect_index(M, *pads[:2])), persistent=False)
        self.register_buffer('pad_cols', torch.from_numpy(_reflect_index(N, *pads[2:])), persistent=False)

        bank = morlet_filter_bank(Mp, Np, J, L)
        f32 = lambda a: torch.from_numpy(np.ascontiguousarray(a)).float()  # noqa: E731
        # first order: psi_(j1, .) at resolution 0, folded by 2^j1; the 1/k^2 of the mean is folded in.
        for j1 in range(J):
            self.register_buffer(f'psi1_{j1}', f32(self._alias_layout(bank['psi'][j1], 2**j1)))
        # second order: psi_(j2, .) at resolution j1, folded by 2^(j2 - j1).
        for j1 in range(J - 1):
            for j2 in range(j1 + 1, J):
                psi = periodize_filter(bank['psi'][j2], j1)
                self.register_buffer(f'psi2_{j1}_{j2}', f32(self._alias_layout(psi, 2**(j2 - j1))))
        # low-pass at every resolution: S = A U B^T with real A (H' x P_j), B (W' x Q_j)
        for j in range(J):
            self.register_buffer(f'lp_rows_{j}', f32(_lowpass_operator(bank['phi_rows'], j, J)))
            self.register_buffer(f'lp_cols_{j}', f32(_lowpass_operator(bank['phi_cols'], j, J)))

    # version 2: wavelet buffers in the (m, k^2, P/k, Q/k) alias layout (version 1: (P/k * Q/k, m, k^2))
    _version = 2

    @staticmethod
    def _alias_layout(psi: np.ndarray, k: int) -> np.ndarray:
        """Filters (m, P, Q) -> (m, k^2, P/k, Q/k): block a = (a_p, a_q) holds the filter on the alias
        frequencies (p + a_p P/k, q + a_q Q/k), divided by k^2 (kymatio's mean-periodisation)."""
        m, P, Q = psi.shape
        Pk, Qk = P // k, Q // k
        return psi.reshape(m, k, Pk, k, Qk).transpose(0, 1, 3, 2, 4).reshape(m, k * k, Pk, Qk) / (k * k)

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, *args, **kwargs) -> None:
        # checkpoints of version 1 stored the wavelets frequency-major; the values are the same
        if local_metadata.get('version', 1) < 2:
            for name, buf in self.named_buffers(recurse=False):
                old = state_dict.get(prefix + name)
                if name.startswith('psi') and old is not None and old.dim() == 3:
                    m, kk, Pk, Qk = buf.shape
                    state_dict[prefix + name] = old.permute(1, 2, 0).reshape(m, kk, Pk, Qk)
        super()._load_from_state_dict(state_dict, prefix, local_metadata, *args, **kwargs)

    @staticmethod
    def _filter_alias_sum(spec: torch.Tensor, psi: torch.Tensor) -> torch.Tensor:
        """Spectra (n, P, Q) times each of the m filters, periodised by k: -> (m, n, P/k, Q/k).

        Periodising a product in Fourier = sub-sampling the convolution in space by k. The k^2 aliasing
        blocks of the spectrum are strided views, so this is k^2 broadcast multiply-adds written
        straight into the batch-first layout of the inverse FFT (no transposition, no gather).
        """
        n, P, Q = spec.shape
        m, kk, Pk, Qk = psi.shape
        k = P // Pk
        blocks = spec.view(n, k, Pk, k, Qk)
        out = psi[:, None, 0] * blocks[None, :, 0, :, 0]
        for a in range(1, kk):
            out.addcmul_(psi[:, None, a], blocks[None, :, a // k, :, a % k])
        return out

    def _filters(self, dtype: torch.dtype) -> Dict[str, torch.Tensor]:
        """The buffers in the dtypes of one forward: wavelets complex (a complex-by-real product takes
        TensorIterator's slow mixed-dtype path, ~1.4x slower than complex-by-complex), low-pass real."""
        cdtype = torch.complex128 if dtype == torch.float64 else torch.complex64
        return {
            name: buf.to(cdtype if name.startswith('psi') else dtype)
            for name, buf in self.named_buffers(recurse=False) if name.startswith(('psi', 'lp_'))
        }

    @staticmethod
    def _lowpass(u: torch.Tensor, filters: Dict[str, torch.Tensor], j: int) -> torch.Tensor:
        """phi-filter, sub-sample to resolution J and crop real maps: A U B^T, (..., P_j, Q_j) ->
        (..., H', W')."""
        return torch.matmul(filters[f'lp_rows_{j}'], u) @ filters[f'lp_cols_{j}'].t()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if tuple(x.shape[-2:]) != self.shape:
            raise ValueError(f'{type(self).__name__} was built for inputs of size {self.shape}, '
                             f'got {tuple(x.shape[-2:])}')
        batch_shape = x.shape[:-2]
        x = x.reshape(-1, *self.shape)
        # FFTs of non-power-of-2 sizes need fp32; keep autocast (AMP) away from this module.
        with torch.autocast(device_type=x.device.type, enabled=False):
            # float64 if the module was cast with .double(), else float32 (also after .half())
            x = x.to(torch.float64 if self.lp_rows_0.dtype == torch.float64 else torch.float32)
            # on CPU, equal chunks of at most cpu_chunk maps keep the working set in cache
            chunks = -(-x.shape[0] // self.cpu_chunk) if x.device.type == 'cpu' else 1
            filters = self._filters(x.dtype)
            out = torch.cat([self._scatter(c, filters) for c in x.tensor_split(chunks)]) if x.shape[0] else \
                x.new_zeros(0, self.num_paths, *self.out_shape)
        out = out.reshape(*batch_shape, self.num_paths, *self.out_shape)
        if self.flatten and len(batch_shape) >= 2:
            out = out.flatten(-4, -3)
        return out

    def _wavelet_modulus(self, spec: torch.Tensor, psi: torch.Tensor) -> torch.Tensor:
        """|x * psi| for every filter of ``psi``, sub-sampled: spectra (n, P, Q) -> (m, n, P', Q')."""
        return _modulus_(torch.fft.ifft2(self._filter_alias_sum(spec, psi)))

    def _scatter(self, x: torch.Tensor, filters: Dict[str, torch.Tensor]) -> torch.Tensor:
        """(B, H, W) real -> (B, K, H', W')."""
        J, L, B = self.J, self.L, x.shape[0]
        h, w = self.out_shape
        x = x.index_select(-2, self.pad_rows).index_select(-1, self.pad_cols)  # (B, P, Q)
        spec = _full_spectrum(x)  # the one FFT per input map
        parts = [self._lowpass(x, filters, 0).reshape(1, B, h, w)]  # order 0
        order2 = []
        for j1 in range(J):
            u1 = self._wavelet_modulus(spec, filters[f'psi1_{j1}'])  # (L, B, P1, Q1)
            parts.append(self._lowpass(u1, filters, j1))  # order 1, theta1-major
            if j1 == J - 1:
                continue
            u1_spec = _full_spectrum(u1.flatten(0, 1))  # (L*B, P1, Q1), theta1-major
            # (j2, theta2, theta1, b) maps; kymatio's order is theta1, j2, theta2
            s2 = torch.stack([
                self._lowpass(self._wavelet_modulus(u1_spec, filters[f'psi2_{j1}_{j2}']), filters, j2)
                for j2 in range(j1 + 1, J)
            ]).reshape(J - 1 - j1, L, L, B, h, w)
            order2.append(s2.permute(2, 0, 1, 3, 4, 5).reshape(-1, B, h, w))
        return torch.cat(parts + order2).transpose(0, 1).contiguous()

    def extra_repr(self) -> str:
        return f'shape={self.shape}, J={self.J}, L={self.L}, paths={self.num_paths}'

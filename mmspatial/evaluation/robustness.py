"""Out-of-distribution robustness: ImageNet-C-style corruptions, mCE, ImageNet-R / -A / -Sketch subsets.

Corruptions are the 15 "common" corruptions x 5 severities of ImageNet-C (Hendrycks & Dietterich,
"Benchmarking Neural Network Robustness to Common Corruptions and Perturbations", ICLR 2019,
https://arxiv.org/abs/1903.12261), generated on the fly by the ``imagecorruptions`` package (Michaelis et
al., 2019, the packaged ImageNet-C code). Two of its functions do not run with the pinned stack:
``glass_blur`` calls scikit-image's removed ``multichannel=`` argument and ``fog`` numpy's removed
``np.float_``. :func:`glass_blur` and :func:`fog` here are the same algorithms with the same constants and
the same sequence of ``np.random`` draws, written for numpy 2 / scikit-image 0.26; a test checks them
against the package's own functions run with the old names restored.

Metrics (ICLR 2019 paper, section 4; ``E`` = top-1 error, ``f`` the model, ``b`` the baseline):

- corruption error ``CE_c = sum_s E_{s,c}(f) / sum_s E_{s,c}(b)`` and ``mCE = mean_c CE_c``;
- relative ``rCE_c = sum_s (E_{s,c}(f) - E_clean(f)) / sum_s (E_{s,c}(b) - E_clean(b))``, ``rel. mCE``
  its mean (how much accuracy the model *loses* to corruption, relative to what the baseline loses);
- mean corruption accuracy ``mCA = mean_{c,s} (1 - E_{s,c}(f))``.

The paper's baseline is AlexNet and its numbers are percentages; here the baseline is any model evaluated
on the same images (e.g. the non-spatial host), so mCE < 100% means more robust than that baseline.
"""
from typing import Dict, List, Mapping, Optional, Sequence

import numpy as np

from .robustness_data import IMAGENET_A_INDICES, IMAGENET_R_INDICES, IMAGENET_R_WNIDS

__all__ = [
    'COMMON_CORRUPTIONS', 'SEVERITIES', 'require_imagecorruptions', 'corrupt', 'glass_blur', 'fog',
    'corruption_summary', 'subset_logits', 'variant_class_indices', 'check_variant_classes'
]

# ImageNet-C's 15 test corruptions, in the package's (and the paper's Figure 1) order
COMMON_CORRUPTIONS = ('gaussian_noise', 'shot_noise', 'impulse_noise', 'defocus_blur', 'glass_blur', 'motion_blur',
                      'zoom_blur', 'snow', 'frost', 'fog', 'brightness', 'contrast', 'elastic_transform', 'pixelate',
                      'jpeg_compression')
SEVERITIES = (1, 2, 3, 4, 5)


def require_imagecorruptions():
    """The ``imagecorruptions`` module, or an ImportError that says how to install it."""
    try:
        import imagecorruptions
    except ImportError as err:  # optional dependency: only the robustness evaluation needs it
        raise ImportError('the ImageNet-C corruptions need the optional package "imagecorruptions" (and scikit-image): '
                          'pip install imagecorruptions==1.1.2, or bash tools/install.sh, which installs '
                          'requirements/runtime.txt') from err
    return imagecorruptions


def _gaussian(x: np.ndarray, sigma: float) -> np.ndarray:
    from skimage.filters import gaussian
    return gaussian(x, sigma=sigma, channel_axis=-1)


def glass_blur(x, severity: int = 1) -> np.ndarray:
    """ImageNet-C glass blur: Gaussian blur, local pixel swaps, Gaussian blur again; float in [0, 255]."""
    sigma, max_delta, iterations = ((0.7, 1, 2), (0.9, 2, 1), (1, 2, 3), (1.1, 3, 2), (1.5, 4, 2))[severity - 1]
    img = np.uint8(_gaussian(np.asarray(x) / 255., sigma) * 255)
    height, width = img.shape[:2]
    # bottom-right to top-left, a fresh randint pair per pixel (the package's draw order). The package's
    # tuple "swap" of numpy views only copies the neighbour into (h, w); ImageNet-C was made that way,
    # so it is kept.
    for _ in range(iterations):
        for h in range(height - max_delta, max_delta, -1):
            for w in range(width - max_delta, max_delta, -1):
                dx, dy = np.random.randint(-max_delta, max_delta, size=(2, ))
                img[h, w] = img[h + dy, w + dx]
    return np.clip(_gaussian(img / 255., sigma), 0, 1) * 255


def _plasma_fractal(mapsize: int = 256, wibbledecay: float = 3) -> np.ndarray:
    """Diamond-square height map in [0, 1] (square side ``mapsize``, a power of two)."""
    if mapsize & (mapsize - 1):
        raise ValueError(f'mapsize must be a power of two, got {mapsize}')
    hmap = np.empty((mapsize, mapsize), dtype=np.float64)
    hmap[0, 0] = 0
    step, wibble = mapsize, 100.

    def jitter(values: np.ndarray) -> np.ndarray:
        return values / 4 + wibble * np.random.uniform(-wibble, wibble, values.shape)

    while step >= 2:
        half = step // 2
        corners = hmap[0:mapsize:step, 0:mapsize:step]
        square = corners + np.roll(corners, -1, axis=0)
        square += np.roll(square, -1, axis=1)
        hmap[half:mapsize:step, half:mapsize:step] = jitter(square)
        centres = hmap[half:mapsize:step, half:mapsize:step]
        corners = hmap[0:mapsize:step, 0:mapsize:step]
        left = centres + np.roll(centres, 1, axis=0) + corners + np.roll(corners, -1, axis=1)
        hmap[0:mapsize:step, half:mapsize:step] = jitter(left)
        top = centres + np.roll(centres, 1, axis=1) + corners + np.roll(corners, -1, axis=0)
        hmap[half:mapsize:step, 0:mapsize:step] = jitter(top)
        step //= 2
        wibble /= wibbledecay
    hmap -= hmap.min()
    return hmap / hmap.max()


def fog(x, severity: int = 1) -> np.ndarray:
    """ImageNet-C fog: a plasma-fractal haze added and the range renormalised; float in [0, 255]."""
    strength, decay = ((1.5, 2), (2., 2), (2.5, 1.7), (2.5, 1.5), (3., 1.4))[severity - 1]
    img = np.asarray(x) / 255.
    height, width = img.shape[:2]
    peak = img.max()
    side = 1 << (int(max(img.shape)) - 1).bit_length()  # next power of two of the longest side
    haze = _plasma_fractal(side, decay)[:height, :width]
    img = img + strength * (haze[..., None] if img.ndim == 3 else haze)
    return np.clip(img * peak / (peak + strength), 0, 1) * 255


_PORTED = {'glass_blur': glass_blur, 'fog': fog}


def corrupt(img: np.ndarray, name: str, severity: int, seed: Optional[int] = None) -> np.ndarray:
    """``img`` (H, W, 3) RGB uint8, H, W >= 32 -> the corrupted uint8 image (imagecorruptions' rules).

    ``seed`` makes the corruption reproducible: the package draws from numpy's global generator, which is
    seeded for this call and restored afterwards. Exception: ``impulse_noise`` uses scikit-image's
    ``random_noise``, which draws from its own unseeded generator, so it differs from run to run.
    """
    if name not in COMMON_CORRUPTIONS:
        raise ValueError(f'unknown corruption {name!r}; the standard 15 are {COMMON_CORRUPTIONS}')
    if severity not in SEVERITIES:
        raise ValueError(f'severity must be one of {SEVERITIES}, got {severity!r}')
    if img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] != 3 or min(img.shape[:2]) < 32:
        raise ValueError(f'need an (H, W, 3) uint8 image with H, W >= 32, got {img.dtype} {img.shape}')
    package = require_imagecorruptions()
    state = np.random.get_state()
    try:
        if seed is not None:
            np.random.seed(seed % 2**32)
        if name in _PORTED:
            from PIL import Image
            out = np.uint8(_PORTED[name](Image.fromarray(img), severity))
        else:
            out = package.corrupt(img, severity=severity, corruption_name=name)
    finally:
        np.random.set_state(state)
    return out


# ------------------------------------------------------------------------------------------ metrics
def corruption_summary(acc: Mapping[str, Mapping[int, float]],
                       clean_acc: float,
                       base_acc: Optional[Mapping[str, Mapping[int, float]]] = None,
                       base_clean_acc: Optional[float] = None) -> Dict:
    """Per-corruption accuracy, mCA, and (given a baseline) CE / mCE and relative CE / mCE.

    Accuracies are fractions in [0, 1] keyed ``acc[corruption][severity]``; the baseline must have been
    evaluated on the same corruptions and severities. Errors are ``1 - accuracy``; CE values are ratios
    (multiply by 100 for the paper's percentages). A relative CE whose baseline loses nothing to the
    corruption (zero denominator) is ``nan``.
    """
    out: Dict = dict(clean_acc=clean_acc, per_corruption_acc={}, mCA=None)
    all_acc = []
    for name, by_sev in acc.items():
        out['per_corruption_acc'][name] = float(np.mean(list(by_sev.values())))
        all_acc += list(by_sev.values())
    out['mCA'] = float(np.mean(all_acc)) if all_acc else None
    if base_acc is None:
        return out
    if base_clean_acc is None:
        raise ValueError('a baseline needs its clean accuracy too (relative mCE)')
    ce, rce = {}, {}
    for name, by_sev in acc.items():
        if name not in base_acc or set(base_acc[name]) != set(by_sev):
            raise KeyError(f'baseline lacks corruption {name!r} at severities {sorted(by_sev)}')
        err = np.array([1 - by_sev[s] for s in sorted(by_sev)])
        base_err = np.array([1 - base_acc[name][s] for s in sorted(by_sev)])
        ce[name] = float(err.sum() / base_err.sum()) if base_err.sum() > 0 else float('nan')
        denom = (base_err - (1 - base_clean_acc)).sum()
        rce[name] = float((err - (1 - clean_acc)).sum() / denom) if denom != 0 else float('nan')
    out.update(
        CE=ce, mCE=float(np.mean(list(ce.values()))), relative_CE=rce, relative_mCE=float(np.mean(list(rce.values()))))
    return out


# ------------------------------------------------------------------------ ImageNet-R / -A / -Sketch
def variant_class_indices(variant: str) -> Optional[List[int]]:
    """ImageNet-1k logit indices a variant is scored on (sorted); None for all 1000 (Sketch)."""
    table = {'imagenet-r': IMAGENET_R_INDICES, 'imagenet-a': IMAGENET_A_INDICES, 'imagenet-sketch': None}
    if variant not in table:
        raise ValueError(f'unknown ImageNet variant {variant!r}; one of {sorted(table)}')
    return None if table[variant] is None else list(table[variant])


def check_variant_classes(variant: str, classes: Sequence[str], root: str = '') -> None:
    """The class folders of a variant's copy must be the official ones (labels follow their order)."""
    expected = {'imagenet-r': 200, 'imagenet-a': 200, 'imagenet-sketch': 1000}[variant]
    classes = list(classes)
    if len(classes) != expected:
        raise ValueError(f'{variant} at {root!r}: {len(classes)} class folders, expected {expected} '
                         '(one per wnid, e.g. n01443537/)')
    if classes != sorted(classes) or not all(c.startswith('n') and len(c) == 9 for c in classes):
        raise ValueError(f'{variant} at {root!r}: class folders must be sorted wnids, got {classes[:3]}...')
    if variant == 'imagenet-r' and classes != list(IMAGENET_R_WNIDS):
        wrong = sorted(set(classes) - set(IMAGENET_R_WNIDS))
        raise ValueError(f'imagenet-r at {root!r}: folders not in the official 200-class list: {wrong[:5]}')


def subset_logits(logits, variant: str):
    """The columns of 1000-way ``logits`` (N, 1000) a variant is scored on, in label order."""
    if logits.shape[-1] != 1000:
        raise ValueError(f'{variant} needs a 1000-way ImageNet classifier, got {logits.shape[-1]} logits')
    idx = variant_class_indices(variant)
    return logits if idx is None else logits[:, idx]

"""ImageNet-C metrics on hand-computable inputs, the numpy-2 ports of glass blur and fog, the R/A subsets."""
import numpy as np
import pytest

from mmspatial.evaluation import robustness as R
from mmspatial.evaluation.robustness_data import IMAGENET_A_INDICES, IMAGENET_R_INDICES, IMAGENET_R_WNIDS


def test_mce_and_relative_mce_by_hand():
    acc = {'fog': {1: 0.8, 2: 0.6}, 'snow': {1: 0.5, 2: 0.5}}
    base = {'fog': {1: 0.6, 2: 0.2}, 'snow': {1: 0.5, 2: 0.5}}
    s = R.corruption_summary(acc, 0.9, base, 0.8)
    # CE_fog = (0.2 + 0.4) / (0.4 + 0.8) = 0.5; CE_snow = 1.0 / 1.0 = 1
    assert s['CE']['fog'] == pytest.approx(0.5) and s['CE']['snow'] == pytest.approx(1.0)
    assert s['mCE'] == pytest.approx(0.75)
    # rCE_fog = ((0.2-0.1) + (0.4-0.1)) / ((0.4-0.2) + (0.8-0.2)) = 0.4 / 0.8; rCE_snow = 0.8 / 0.6
    assert s['relative_CE']['fog'] == pytest.approx(0.5)
    assert s['relative_CE']['snow'] == pytest.approx(0.8 / 0.6)
    assert s['mCA'] == pytest.approx(0.6) and s['per_corruption_acc']['fog'] == pytest.approx(0.7)
    assert R.corruption_summary(base, 0.8, base, 0.8)['mCE'] == pytest.approx(1.0)


def test_bad_names_and_severities():
    img = np.zeros((32, 32, 3), np.uint8)
    with pytest.raises(ValueError, match='unknown corruption'):
        R.corrupt(img, 'rain', 1)
    with pytest.raises(ValueError, match='severity'):
        R.corrupt(img, 'fog', 6)
    with pytest.raises(ValueError, match='H, W >= 32'):
        R.corrupt(np.zeros((16, 16, 3), np.uint8), 'fog', 1)


@pytest.mark.parametrize('name', ['glass_blur', 'fog'])
@pytest.mark.parametrize('severity', [1, 5])
def test_ports_equal_the_package_with_old_names_restored(name, severity, monkeypatch):
    pytest.importorskip('imagecorruptions')
    from imagecorruptions import corruptions as C
    from PIL import Image
    from skimage.filters import gaussian
    monkeypatch.setattr(np, 'float_', np.float64, raising=False)
    monkeypatch.setattr(C, 'gaussian', lambda x, sigma, multichannel=True: gaussian(x, sigma=sigma, channel_axis=-1))
    img = (np.random.RandomState(0).rand(40, 48, 3) * 255).astype(np.uint8)
    np.random.seed(3)
    expected = np.uint8(getattr(C, name)(Image.fromarray(img), severity))
    ours = R.corrupt(img, name, severity, seed=3)
    assert np.array_equal(ours, expected)
    assert not np.array_equal(ours, img)


def test_all_15_corruptions_run_seeded_and_restore_the_global_generator():
    pytest.importorskip('imagecorruptions')
    img = (np.random.RandomState(1).rand(32, 32, 3) * 255).astype(np.uint8)
    np.random.seed(7)
    before = np.random.get_state()[1].copy()
    for name in R.COMMON_CORRUPTIONS:
        a, b = R.corrupt(img, name, 2, seed=5), R.corrupt(img, name, 2, seed=5)
        assert a.shape == img.shape and a.dtype == np.uint8, name
        # impulse_noise draws from scikit-image's own generator (random_noise), not numpy's global one
        assert np.array_equal(a, b) == (name != 'impulse_noise'), name
    assert np.array_equal(np.random.get_state()[1], before)


def test_imagenet_subsets_are_the_official_ones():
    assert len(IMAGENET_R_WNIDS) == len(set(IMAGENET_R_WNIDS)) == 200
    assert list(IMAGENET_R_WNIDS) == sorted(IMAGENET_R_WNIDS)
    for idx in (IMAGENET_R_INDICES, IMAGENET_A_INDICES):
        assert len(idx) == 200 and list(idx) == sorted(set(idx)) and 0 <= idx[0] and idx[-1] < 1000
    # spot checks against the official files: goldfish (1) first in R; A's thousand_k_to_200 {6: 0, 207: 38}
    assert IMAGENET_R_WNIDS[0] == 'n01443537' and IMAGENET_R_INDICES[0] == 1
    assert IMAGENET_A_INDICES[0] == 6 and IMAGENET_A_INDICES[38] == 207 and IMAGENET_A_INDICES[-1] == 988


def test_subset_logits_and_folder_check():
    import torch
    logits = torch.zeros(2, 1000)
    logits[0, IMAGENET_R_INDICES[5]] = 1.
    logits[1, 0] = 5.  # a class outside the subset cannot win
    logits[1, IMAGENET_R_INDICES[-1]] = 1.
    assert R.subset_logits(logits, 'imagenet-r').argmax(1).tolist() == [5, 199]
    assert R.subset_logits(logits, 'imagenet-sketch').shape == (2, 1000)
    with pytest.raises(ValueError, match='1000-way'):
        R.subset_logits(torch.zeros(2, 10), 'imagenet-a')
    R.check_variant_classes('imagenet-r', IMAGENET_R_WNIDS)
    with pytest.raises(ValueError, match='200'):
        R.check_variant_classes('imagenet-a', IMAGENET_R_WNIDS[:10])
    with pytest.raises(ValueError, match='official'):
        R.check_variant_classes('imagenet-r', ['n00000001'] + list(IMAGENET_R_WNIDS[1:]))

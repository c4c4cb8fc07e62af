"""SafeHueColorJitter: mmpretrain's ColorJitter, same draws, numpy-2-safe hue step."""
import numpy as np
import pytest
from mmpretrain.registry import TRANSFORMS

import mmspatial  # noqa: F401


def _img():
    return np.random.default_rng(0).integers(0, 256, (12, 16, 3), dtype=np.uint8)


@pytest.mark.parametrize('hue', [0., (0.05, 0.1)], ids=['no-hue', 'positive-hue'])
def test_same_output_as_mmpretrain_where_mmcv_works(hue):
    # mmcv's adjust_hue only fails for negative factors, so where it works both must agree exactly.
    kwargs = dict(brightness=0.4, contrast=0.4, saturation=0.2, hue=hue)
    ours, theirs = (TRANSFORMS.build(dict(type=t, **kwargs)) for t in ('SafeHueColorJitter', 'ColorJitter'))
    for seed in range(5):
        np.random.seed(seed)
        a = ours(dict(img=_img()))['img']
        np.random.seed(seed)
        b = theirs(dict(img=_img()))['img']
        assert np.array_equal(a, b)


def test_negative_hue_factors_work():
    jitter = TRANSFORMS.build(dict(type='SafeHueColorJitter', hue=(-0.1, -0.05)))
    img = _img()
    np.random.seed(0)
    out = jitter(dict(img=img.copy()))['img']
    assert out.shape == img.shape and out.dtype == np.uint8 and not np.array_equal(out, img)

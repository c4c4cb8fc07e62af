"""SCRL's down-up ResizeBlur."""
import mmcv
import numpy as np
import pytest
from mmpretrain.registry import TRANSFORMS

import mmspatial  # noqa: F401


def checkerboard(h=60, w=80):
    yy, xx = np.mgrid[0:h, 0:w]
    board = ((yy + xx) % 2 * 255).astype(np.uint8)
    return np.repeat(board[..., None], 3, axis=2)


def test_resize_blur_matches_down_up_resize():
    img = checkerboard()
    blur = TRANSFORMS.build(dict(type='ResizeBlur', factors=(1.5, ), prob=1.))
    out = blur.transform(dict(img=img.copy()))['img']
    assert out.shape == img.shape and out.dtype == np.uint8
    # reference: resize to (h // f, w // f) = (40, 53), then back to (60, 80), bicubic (PIL)
    small = mmcv.imresize(img, (53, 40), interpolation='bicubic', backend='pillow')
    expected = mmcv.imresize(small, (80, 60), interpolation='bicubic', backend='pillow')
    assert np.array_equal(out, expected)
    # and it blurs: the pixel-to-pixel contrast of the checkerboard drops a lot
    contrast = lambda a: np.abs(np.diff(a[..., 0].astype(float), axis=1)).mean()  # noqa: E731
    assert contrast(out) < 0.5 * contrast(img)


def test_resize_blur_probability_and_factors():
    img = checkerboard()
    never = TRANSFORMS.build(dict(type='ResizeBlur', prob=0.))
    assert np.array_equal(never.transform(dict(img=img.copy()))['img'], img)
    np.random.seed(0)
    blur = TRANSFORMS.build(dict(type='ResizeBlur', prob=1.))
    outputs = {blur.transform(dict(img=img.copy()))['img'].tobytes() for _ in range(30)}
    assert len(outputs) == 3  # one result per factor in (1.1, 1.2, 1.5)
    np.random.seed(0)
    sometimes = TRANSFORMS.build(dict(type='ResizeBlur', prob=0.1))
    changed = sum(not np.array_equal(sometimes.transform(dict(img=img.copy()))['img'], img) for _ in range(400))
    assert 20 <= changed <= 65  # ~Binomial(400, 0.1)


def test_resize_blur_bad_arguments():
    with pytest.raises(ValueError, match='factors'):
        TRANSFORMS.build(dict(type='ResizeBlur', factors=(0.5, )))
    with pytest.raises(ValueError, match='prob'):
        TRANSFORMS.build(dict(type='ResizeBlur', prob=1.5))

"""mmspatial.compat: numpy-2-safe ``adjust_hue`` and its explicit opt-in (mmcv itself is left alone)."""
import cv2
import mmcv
import numpy as np
import pytest

from mmspatial.compat import adjust_hue, enable_numpy2_hue_fix

NUMPY2 = int(np.__version__.split('.')[0]) >= 2


def test_adjust_hue_negative_factor_wraps_like_numpy1_cv2():
    img = np.random.default_rng(0).integers(0, 256, (8, 8, 3), dtype=np.uint8)
    out = adjust_hue(img, -0.2, backend='cv2')
    # numpy 1 semantics: int(-0.2 * 255) = -51 -> shift 205 on the 0..255 hue circle.
    hsv = cv2.cvtColor(img, cv2.COLOR_BGR2HSV_FULL)
    hsv[..., 0] = (hsv[..., 0].astype(int) + 205) % 256
    assert np.array_equal(out, cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR_FULL))


@pytest.mark.parametrize(
    'factor,red_to',
    [
        # Pure red has PIL hue 0. -0.2 -> shift int(-51) % 256 = 205; PIL's hsv2rgb with h=205, s=v=255:
        # h*6/255 = 4.8235 -> sector 4, f = 0.8235: (r, g, b) = (round(255 f), 0, 255) = (210, 0, 255).
        (-0.2, (255, 0, 210)),
        # +0.1 -> shift int(25.5) = 25: h*6/255 = 0.588 -> sector 0: (255, round(255 * 0.588), 0) = (255, 150, 0).
        (0.1, (0, 150, 255)),
    ])
def test_adjust_hue_pillow_matches_hand_computed_shift(factor, red_to):
    img = np.array([[[0, 0, 255], [128, 128, 128]]], dtype=np.uint8)  # BGR: pure red, grey
    out = adjust_hue(img, factor, backend='pillow')
    assert out[0, 0].tolist() == list(red_to)
    assert out[0, 1].tolist() == [128, 128, 128]  # no saturation: hue has no effect


def test_adjust_hue_validates_its_arguments():
    img = np.zeros((2, 2, 3), np.uint8)
    with pytest.raises(ValueError, match='not in'):
        adjust_hue(img, 0.6, backend='cv2')
    with pytest.raises(ValueError, match='not supported'):
        adjust_hue(img, 0.1, backend='turbo')


def test_mmcv_is_untouched_until_the_explicit_opt_in():
    original = mmcv.image.photometric.adjust_hue
    assert mmcv.adjust_hue is original and original is not adjust_hue
    img = np.random.default_rng(1).integers(0, 256, (4, 4, 3), dtype=np.uint8)
    if NUMPY2:  # the bug the opt-in is for, so this test notices when mmcv fixes it
        with pytest.raises(OverflowError):
            mmcv.adjust_hue(img, -0.2, backend='cv2')
    try:
        enable_numpy2_hue_fix()
        assert mmcv.adjust_hue is adjust_hue and mmcv.image.adjust_hue is adjust_hue
        assert np.array_equal(mmcv.adjust_hue(img, -0.2, backend='cv2'), adjust_hue(img, -0.2, backend='cv2'))
    finally:
        enable_numpy2_hue_fix(False)
    assert mmcv.adjust_hue is original and mmcv.image.photometric.adjust_hue is original

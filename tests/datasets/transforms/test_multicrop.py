"""DINO multi-crop: crop sizes and geometry, per-crop blur/solarisation probabilities, blur radius
drawn per call, configurable scales."""
import numpy as np
import pytest
from mmpretrain.registry import TRANSFORMS

import mmspatial  # noqa: F401

JITTER = dict(brightness=0.4, contrast=0.4, saturation=0.2, hue=0.1)  # DINO's, negative hue factors too


def _steps(pipeline):
    return {type(t).__name__: t for t in pipeline.transforms}


def test_views_sizes_and_geometry():
    np.random.seed(0)
    t = TRANSFORMS.build(
        dict(type='DINOMultiCrop', global_crop_size=64, local_crop_size=32, num_local_crops=3, color_jitter=JITTER))
    img = np.random.randint(0, 256, (96, 128, 3), np.uint8)
    out = t(dict(img=img))
    assert [v.shape for v in out['img']] == [(64, 64, 3)] * 2 + [(32, 32, 3)] * 3
    assert out['view_bboxes'].shape == (5, 4) and out['view_flips'].shape == (5, )
    assert out['view_shapes'].tolist() == [[64, 64]] * 2 + [[32, 32]] * 3
    assert out['ori_img_shape'].tolist() == [96, 128]
    boxes = out['view_bboxes']
    assert (boxes[:, :2] >= 0).all() and (boxes[:, 2] <= 128).all() and (boxes[:, 3] <= 96).all()


def test_reference_augmentations_per_crop():
    t = TRANSFORMS.build(dict(type='DINOMultiCrop', num_local_crops=8))
    assert t.num_views == [1, 1, 8]
    g1, g2, local = (_steps(p) for p in t.pipelines)
    assert [s['GaussianBlur'].prob for s in (g1, g2, local)] == [1.0, 0.1, 0.5]
    assert 'Solarize' in g2 and g2['Solarize'].prob == 0.2 and g2['Solarize'].thr == 128
    assert 'Solarize' not in g1 and 'Solarize' not in local
    for s, size, scale in ((g1, (224, 224), (0.4, 1.0)), (local, (96, 96), (0.05, 0.4))):
        crop = s['RandomResizedCropWithBox']
        assert crop.scale == size and crop.crop_ratio_range == scale
        assert crop.interpolation == 'bicubic' and crop.backend == 'pillow'
        assert s['RandomFlipWithFlag'].prob == 0.5
        assert s['RandomApply'].prob == 0.8
        jitter = s['RandomApply'].transforms.transforms[0]
        assert type(jitter).__name__ == 'SafeHueColorJitter'
        assert (jitter.brightness, jitter.contrast, jitter.saturation, jitter.hue) == ((0.6, 1.4), (0.6, 1.4),
                                                                                       (0.8, 1.2), (-0.1, 0.1))
        assert s['RandomGrayscale'].prob == 0.2
    selfpatch = TRANSFORMS.build(
        dict(type='DINOMultiCrop', global_crop_scale=(0.25, 1.0), local_crop_scale=(0.05, 0.25)))
    assert _steps(selfpatch.pipelines[2])['RandomResizedCropWithBox'].crop_ratio_range == (0.05, 0.25)
    assert TRANSFORMS.build(dict(type='DINOMultiCrop', num_local_crops=0)).num_views == [1, 1]


def test_blur_radius_is_drawn_per_call():
    t = TRANSFORMS.build(dict(type='DINOMultiCrop', num_local_crops=1))
    blur = _steps(t.pipelines[0])['GaussianBlur']
    np.random.seed(0)
    radii = np.array([blur.random_magnitude() for _ in range(2000)])
    assert radii.min() >= 0.1 and radii.max() <= 2.0
    assert radii.min() < 0.2 and radii.max() > 1.9  # spans U(0.1, 2), not a fixed radius
    assert abs(radii.mean() - 1.05) < 0.05


def test_bad_arguments():
    with pytest.raises(ValueError, match='num_local_crops'):
        TRANSFORMS.build(dict(type='DINOMultiCrop', num_local_crops=-1))
    with pytest.raises(ValueError, match='one value per global'):
        TRANSFORMS.build(dict(type='DINOMultiCrop', global_blur_probs=(1.0, )))

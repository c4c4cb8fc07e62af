import mmcv
import numpy as np
import pytest
import torch
from mmpretrain.registry import TRANSFORMS

from mmspatial.datasets.transforms.sp_views import SP_KEYS, SpatialPredictionViews
from mmspatial.geometry import box_iou_pairwise


def _image(h=96, w=128, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def test_output_geometry_and_content():
    np.random.seed(0)
    img = _image()
    t = SpatialPredictionViews(num_pairs=3, scale=32, pipeline=[])
    out = t(dict(img=img.copy()))
    assert out['img'].shape == img.shape  # the host's image is untouched
    assert len(out['sp_imgs']) == 6 and all(v.shape == (32, 32, 3) for v in out['sp_imgs'])
    boxes = out['sp_boxes']
    assert boxes.shape == (6, 4) and boxes.dtype == np.float32
    assert np.array_equal(out['sp_img_shape'], [96, 128]) and not out['sp_flips'].any()
    assert (boxes[:, :2] >= 0).all() and (boxes[:, 2] <= 128).all() and (boxes[:, 3] <= 96).all()
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]) / (96 * 128)
    assert (areas > 0.03).all() and (areas < 0.45).all()  # (0.05, 0.4) up to pixel rounding
    for view, (x1, y1, x2, y2) in zip(out['sp_imgs'], boxes.astype(int)):
        expected = mmcv.imresize(img[y1:y2, x1:x2], (32, 32), interpolation='bicubic')
        assert np.array_equal(view, expected)


def test_independent_of_host_views_and_keys():
    np.random.seed(1)
    pipeline = [
        dict(
            type='SpatialPredictionViews',
            scale=24,
            pipeline=[
                dict(
                    type='RandomApply',
                    transforms=[dict(type='SafeHueColorJitter', brightness=0.4, contrast=0.4, saturation=0.2, hue=0.1)],
                    prob=0.8),
                dict(type='RandomGrayscale', prob=0.2, keep_channels=True),
                dict(type='GaussianBlur', magnitude_range=(0.1, 2.0), magnitude_std='inf', prob=0.5)
            ]),
        dict(type='MultiViewWithGeometry', num_views=2, transforms=[[dict(type='RandomResizedCropWithBox', scale=32)]]),
        dict(type='PackInputs', algorithm_keys=list(SP_KEYS) + ['view_bboxes']),
    ]
    from mmcv.transforms import Compose
    from mmengine.registry import DefaultScope
    with DefaultScope.overwrite_default_scope('mmpretrain'):  # as inside a Runner
        packed = Compose([TRANSFORMS.build(p) for p in pipeline])(dict(img=_image()))
    assert [tuple(x.shape) for x in packed['inputs']] == [(3, 32, 32), (3, 32, 32)]
    sample = packed['data_samples']
    assert len(sample.sp_imgs) == 2 and sample.sp_imgs[0].shape == (24, 24, 3)
    assert sample.sp_boxes.shape == (2, 4) and sample.view_bboxes.shape == (2, 4)


def test_non_overlap_and_flip():
    np.random.seed(2)
    t = SpatialPredictionViews(
        num_pairs=8, scale=16, pipeline=[], max_iou=0.0, flip_prob=1.0, crop_ratio_range=(0.05, 0.2))
    out = t(dict(img=_image()))
    b = torch.as_tensor(out['sp_boxes']).reshape(8, 2, 4)
    iou = box_iou_pairwise(b[:, :1], b[:, 1:])[:, 0, 0]
    assert (iou == 0).all()
    assert out['sp_flips'].all()
    x1, y1, x2, y2 = out['sp_boxes'][0].astype(int)
    crop = mmcv.imresize(_image()[y1:y2, x1:x2], (16, 16), interpolation='bicubic')
    assert np.array_equal(out['sp_imgs'][0], crop[:, ::-1])


def test_composes_with_tracked_resize():
    np.random.seed(3)
    results = dict(img=_image(), ori_shape=(96, 128))
    results = TRANSFORMS.build(dict(type='ResizeWithBox', scale=(48, 64)))(results)
    out = SpatialPredictionViews(
        scale=16, pipeline=[], crop_ratio_range=(0.5, 0.5), aspect_ratio_range=(4 / 3, 4 / 3))(
            results)
    w, h = out['sp_boxes'][:, 2] - out['sp_boxes'][:, 0], out['sp_boxes'][:, 3] - out['sp_boxes'][:, 1]
    # sampled on the 48x64 image: area 1536, w/h 4/3 -> 45 x 34 px; reported in original pixels
    assert np.allclose(w, 2 * 45) and np.allclose(h, 2 * 34)
    assert np.array_equal(out['sp_img_shape'], [96, 128])


def test_errors():
    t = SpatialPredictionViews(pipeline=[])
    with pytest.raises(TypeError, match='before the host'):
        t(dict(img=[_image(), _image()], img_path='a.png'))
    with pytest.raises(RuntimeError, match='geometry was tracked'):
        SpatialPredictionViews(scale=16, pipeline=[dict(type='Resize', scale=8)])(dict(img=_image()))
    with pytest.raises(ValueError, match='num_pairs'):
        SpatialPredictionViews(num_pairs=0)
    with pytest.raises(ValueError, match='max_iou'):
        SpatialPredictionViews(max_iou=1.5)

"""Geometry-aware crop/flip/multi-view: recorded boxes must describe the pixels actually shown."""
import copy

import cv2
import numpy as np
import pytest
import torch
from mmengine.dataset import default_collate
from mmpretrain.registry import MODELS, TRANSFORMS

from mmspatial.geometry import GEOMETRY_KEYS, box_intersection, boxes_image_to_view, collect_view_geometry


def textured_image(h=120, w=200, seed=0):
    """Non-repeating content: smooth gradients plus random blocks, so any two regions differ."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    img = np.stack([xx * 255 / w, yy * 255 / h, (xx + yy) * 127 / (h + w)], -1)
    blocks = cv2.resize(rng.uniform(0, 120, (h // 10, w // 10, 3)), (w, h), interpolation=cv2.INTER_NEAREST)
    return np.clip(img * 0.6 + blocks, 0, 255).astype(np.uint8)


def crop_resize(img, box, size=24):
    x1, y1, x2, y2 = [int(round(v)) for v in box]
    return cv2.resize(img[y1:y2, x1:x2].astype(np.float32), (size, size), interpolation=cv2.INTER_AREA)


def build(cfg):
    return TRANSFORMS.build(cfg)


def test_registered_by_name():
    for name in ('RandomResizedCropWithBox', 'RandomFlipWithFlag', 'ResizeWithBox', 'MultiViewWithGeometry'):
        assert TRANSFORMS.get(name) is not None, name


def test_crop_records_box_of_shown_pixels():
    np.random.seed(0)
    img = textured_image()
    t = build(dict(type='RandomResizedCropWithBox', scale=(48, 64), crop_ratio_range=(0.2, 0.6)))
    for _ in range(5):
        out = t(dict(img=img.copy()))
        assert out['img'].shape == (48, 64, 3)
        x1, y1, x2, y2 = out['crop_bbox']
        assert 0 <= x1 < x2 <= 200 and 0 <= y1 < y2 <= 120
        expected = cv2.resize(img[int(y1):int(y2), int(x1):int(x2)], (64, 48))
        assert np.abs(expected.astype(float) - out['img']).mean() < 1.0


def test_flip_toggles_and_composes_with_crop():
    np.random.seed(1)
    img = textured_image()
    pipe = [
        dict(type='RandomFlipWithFlag', prob=1.0),
        dict(type='RandomResizedCropWithBox', scale=40, crop_ratio_range=(0.3, 0.5))
    ]
    out = dict(img=img.copy())
    for cfg in pipe:
        out = build(cfg)(out)
    assert out['flip'] is True
    # Content check: original region, mirrored, equals the view.
    region = crop_resize(img, out['crop_bbox'], 40)[:, ::-1]
    assert np.abs(region - out['img'].astype(np.float32)).mean() < 6.0
    twice = build(dict(type='RandomFlipWithFlag', prob=1.0))(copy.deepcopy(out))
    assert twice['flip'] is False


def test_crop_after_resize_maps_to_original_pixels():
    np.random.seed(2)
    img = textured_image(100, 160)
    out = build(dict(type='ResizeWithBox', scale=(50, 80)))(dict(img=img.copy()))
    out = build(dict(type='RandomResizedCropWithBox', scale=32, crop_ratio_range=(0.3, 0.6)))(out)
    box = out['crop_bbox']
    assert box[2] <= 160 + 1e-3 and box[3] <= 100 + 1e-3
    region = crop_resize(img, box, 32)
    assert np.abs(region - out['img'].astype(np.float32)).mean() < 8.0


def test_untracked_geometric_transform_is_rejected():
    img = textured_image()
    pipe = [
        dict(type='RandomResizedCropWithBox', scale=32),
        dict(type='Resize', scale=(16, 16)),  # mmpretrain/mmcv resize: does not track geometry
        dict(type='RandomFlipWithFlag', prob=1.0)
    ]
    out = dict(img=img.copy())
    with pytest.raises(RuntimeError, match='does not record'):
        for cfg in pipe:
            out = build(cfg)(out)


def _two_views(img, seed, flips=(0.5, 0.5), scale=(0.2, 1.0), size=(64, 64)):
    np.random.seed(seed)
    views = [[
        dict(type='RandomResizedCropWithBox', scale=size, crop_ratio_range=scale),
        dict(type='RandomFlipWithFlag', prob=p)
    ] for p in flips]
    mv = build(dict(type='MultiViewWithGeometry', num_views=[1, 1], transforms=views))
    return mv(dict(img=img.copy(), img_path='x.png'))


@pytest.mark.parametrize('seed', range(6))
def test_intersection_box_shows_same_content_in_both_views(seed):
    img = textured_image(120, 200, seed)
    out = _two_views(img, seed, size=(48, 80))
    boxes = torch.as_tensor(out['view_bboxes'])
    inter, valid = box_intersection(boxes[0], boxes[1])
    if not valid:
        pytest.skip('views happen not to overlap for this seed')
    crops = []
    for v in range(2):
        vb = boxes_image_to_view(inter, boxes[v], bool(out['view_flips'][v]), torch.as_tensor(out['view_shapes'][v]))
        crop = crop_resize(out['img'][v], vb.tolist(), 16)
        if out['view_flips'][v]:
            crop = crop[:, ::-1]
        crops.append(crop)
    same = np.abs(crops[0] - crops[1]).mean()
    other = np.abs(crops[0] - crop_resize(img, [0, 0, 40, 40], 16)).mean()
    assert same < 10.0 and same < other / 2, (same, other)


def test_crop_touching_border_and_tiny_image():
    np.random.seed(3)
    img = textured_image(20, 30)  # smaller than the output: upsampled, box stays inside the image
    t = build(
        dict(type='RandomResizedCropWithBox', scale=64, crop_ratio_range=(0.99, 1.0), aspect_ratio_range=(1.5, 1.5)))
    out = t(dict(img=img.copy()))
    assert out['img'].shape[:2] == (64, 64)
    x1, y1, x2, y2 = out['crop_bbox']
    assert x1 >= 0 and y1 >= 0 and x2 <= 30 and y2 <= 20
    assert x2 - x1 >= 29 or y2 - y1 >= 19  # nearly the whole image: touches at least one border


def test_fallback_central_crop_when_ratio_impossible():
    np.random.seed(0)
    t = build(
        dict(type='RandomResizedCropWithBox', scale=16, crop_ratio_range=(1.0, 1.0), aspect_ratio_range=(4.0, 4.0)))
    out = t(dict(img=textured_image(40, 40)))
    x1, y1, x2, y2 = out['crop_bbox']
    assert (x2 - x1, y2 - y1) == (40, 10) and y1 == 15


def test_geometry_survives_collate_and_preprocessor():
    img = textured_image()
    pipe = [
        dict(
            type='MultiViewWithGeometry',
            num_views=[1, 1],
            transforms=[[dict(type='RandomResizedCropWithBox', scale=32),
                         dict(type='RandomFlipWithFlag')],
                        [dict(type='RandomResizedCropWithBox', scale=32),
                         dict(type='RandomFlipWithFlag')]]),
        dict(type='PackInputs', algorithm_keys=list(GEOMETRY_KEYS))
    ]
    samples = []
    for seed in range(3):
        np.random.seed(seed)
        out = dict(img=img.copy(), img_path=f'{seed}.png')
        for cfg in pipe:
            out = build(cfg)(out)
        samples.append(out)
    batch = default_collate(samples)
    pre = MODELS.build(dict(type='SelfSupDataPreprocessor', mean=[0, 0, 0], std=[1, 1, 1], to_rgb=True))
    data = pre(batch, training=True)
    assert len(data['inputs']) == 2 and data['inputs'][0].shape == (3, 3, 32, 32)
    views = collect_view_geometry(data['data_samples'])
    assert len(views) == 2
    for v, geom in enumerate(views):
        assert geom.crop_bbox.shape == (3, 4) and geom.flip.dtype == torch.bool
        expected = torch.stack([torch.as_tensor(s['data_samples'].view_bboxes[v]) for s in samples])
        assert torch.equal(geom.crop_bbox, expected)
        assert torch.equal(geom.view_size, torch.tensor([[32., 32.]] * 3))
        assert torch.equal(geom.image_size, torch.tensor([[120., 200.]] * 3))


def test_missing_geometry_keys_error_names_them():
    from mmpretrain.structures import DataSample
    with pytest.raises(KeyError, match='view_bboxes'):
        collect_view_geometry([DataSample()])

"""Synthetic depth export (``mmspatial/datasets/synthetic_depth.py``, ``tools/dataset_converters/
synthetic_nyu_depth.py``): the geometry follows the drawing order, the files are NYU's layout as mmseg's
``NYUDataset`` + ``LoadDepthAnnotation`` read them, and the depths round-trip to the millimetre."""
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from mmspatial.datasets.synthetic_depth import (BACKGROUND_FAR, DEPTH_SCALE, OBJECT_DEPTH, encode_depth,
                                                export_nyu_depth, render_depth, scene_depth)
from mmspatial.datasets.synthetic_scenes import SyntheticScenes

ROOT = Path(__file__).resolve().parents[2]


def test_scene_depth_by_hand():
    h, w = 5, 4
    first = np.zeros((h, w), bool)
    first[0:3, 0:3] = True
    second = np.zeros((h, w), bool)
    second[2:4, 2:4] = True
    first &= ~second  # what render gives: visible masks, the later object in front
    depth = scene_depth([first, second], seed=3, index=7, img_size=(h, w))
    assert depth.dtype == np.float32 and depth.shape == (h, w)
    d_first, d_second = np.unique(depth[first]), np.unique(depth[second])
    assert len(d_first) == len(d_second) == 1  # fronto-parallel objects: one depth each
    assert OBJECT_DEPTH[0] <= d_second[0] < d_first[0] <= OBJECT_DEPTH[1]  # drawn later = nearer
    bg = ~(first | second)
    assert depth[bg].min() >= BACKGROUND_FAR[0] - 0.15 > d_first[0]
    # the background is a plane: depth = a + b * y + c * x exactly (least squares residual ~ 0)
    yy, xx = np.nonzero(bg)
    coeffs, residual, *_ = np.linalg.lstsq(np.stack([np.ones_like(yy), yy, xx], 1).astype(float), depth[bg], None)
    assert residual.sum() < 1e-8 and coeffs[1] < 0  # receding towards the top (row 0 is the farthest)
    # deterministic per (seed, index), different for another scene
    np.testing.assert_array_equal(depth, scene_depth([first, second], 3, 7, (h, w)))
    assert not np.array_equal(depth, scene_depth([first, second], 3, 8, (h, w)))


def test_depth_follows_every_rendered_scene():
    scenes = SyntheticScenes(num_images=12, img_size=(64, 80), seed=5)
    for i in range(len(scenes)):
        scene = scenes.render(i)
        img, depth = render_depth(scenes, i)
        np.testing.assert_array_equal(img, scene['img'])
        objects = [float(np.unique(depth[m])[0]) for m in scene['masks']]
        assert all(len(np.unique(depth[m])) == 1 for m in scene['masks'])
        assert objects == sorted(objects, reverse=True) and len(set(objects)) == len(objects)
        background = ~np.any(scene['masks'], axis=0)
        assert depth[background].min() > max(objects)


def test_encode_depth_range():
    np.testing.assert_array_equal(encode_depth(np.array([0.0, 1.2344, 9.9996])), [0, 1234, 10000])
    with pytest.raises(ValueError, match='depth must be in'):
        encode_depth(np.array([-0.1]))
    with pytest.raises(ValueError, match='depth must be in'):
        encode_depth(np.array([70.0]))


def test_export_is_nyu_layout_and_round_trips(tmp_path):
    from mmseg.datasets import NYUDataset
    from mmseg.datasets.transforms import LoadDepthAnnotation
    scenes = SyntheticScenes(num_images=4, img_size=(48, 64), seed=2)
    img_dir, ann_dir = export_nyu_depth(scenes, str(tmp_path), split='test')
    assert Path(img_dir) == tmp_path / 'images' / 'test' and Path(ann_dir) == tmp_path / 'annotations' / 'test'
    raw = cv2.imread(str(tmp_path / 'annotations' / 'test' / 'synthetic_000001.png'), cv2.IMREAD_UNCHANGED)
    assert raw.dtype == np.uint16 and raw.shape == (48, 64)  # NYU: 16-bit millimetres
    dataset = NYUDataset(
        data_root=str(tmp_path), data_prefix=dict(img_path='images/test', depth_map_path='annotations/test'))
    assert len(dataset) == 4
    load = LoadDepthAnnotation(depth_rescale_factor=1e-3)  # _base_/datasets/nyu.py's
    for i in range(4):
        info = dataset.get_data_info(i)
        assert Path(info['img_path']).name == f'synthetic_{i:06d}.jpg'
        assert info['category_id'] == -1  # not one of NYU's scene classes
        depth = load(dict(depth_map_path=info['depth_map_path'], seg_fields=[]))['gt_depth_map']
        expected = render_depth(scenes, i)[1]
        assert np.abs(depth - expected).max() <= 0.5 / DEPTH_SCALE + 1e-6
        img = cv2.imread(info['img_path'])
        assert img.shape == (48, 64, 3) and np.abs(img.astype(int) - scenes.render(i)['img']).mean() < 6  # JPEG


def test_tool_writes_both_splits(tmp_path):
    sys.path.insert(0, str(ROOT / 'tools' / 'dataset_converters'))
    try:
        import synthetic_nyu_depth
    finally:
        sys.path.pop(0)
    synthetic_nyu_depth.main([str(tmp_path), '--train', '3', '--test', '2', '--img-size', '32', '48'])
    for split, n in (('train', 3), ('test', 2)):
        assert len(list((tmp_path / 'images' / split).glob('*.jpg'))) == n
        assert len(list((tmp_path / 'annotations' / split).glob('*.png'))) == n
    # the test split is another seed: not a copy of the training scenes
    a = cv2.imread(str(tmp_path / 'annotations' / 'train' / 'synthetic_000000.png'), cv2.IMREAD_UNCHANGED)
    b = cv2.imread(str(tmp_path / 'annotations' / 'test' / 'synthetic_000000.png'), cv2.IMREAD_UNCHANGED)
    assert not np.array_equal(a, b)

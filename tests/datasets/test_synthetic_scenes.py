import cv2
import numpy as np
import pytest
from mmpretrain.registry import DATASETS

from mmspatial.datasets.synthetic_scenes import SHAPES, SyntheticScenes, render_scene


def test_deterministic_per_seed_and_index():
    a, b = render_scene(3, 7), render_scene(3, 7)
    assert np.array_equal(a['img'], b['img']) and a['labels'] == b['labels']
    assert not np.array_equal(render_scene(4, 7)['img'], a['img'])
    assert not np.array_equal(render_scene(3, 8)['img'], a['img'])


def test_scene_content_matches_masks():
    scene = render_scene(0, 1, img_size=(96, 128))
    assert scene['img'].shape == (96, 128, 3) and scene['img'].dtype == np.uint8
    assert 1 <= len(scene['masks']) <= 5
    union = np.zeros((96, 128), bool)
    for m in scene['masks']:
        assert not (union & m).any()  # visible masks do not overlap
        union |= m
    assert scene['label'] in range(len(SHAPES))


def test_dataset_builds_from_registry_and_runs_pipeline():
    ds = DATASETS.build(
        dict(type='SyntheticScenes', num_images=5, img_size=(40, 60), seed=1, pipeline=[dict(type='PackInputs')]))
    assert len(ds) == 5
    item = ds[2]
    assert tuple(item['inputs'].shape) == (3, 40, 60)
    assert item['data_samples'].gt_label.item() == render_scene(1, 2, (40, 60))['label']
    with pytest.raises(ValueError, match='num_images'):
        SyntheticScenes(num_images=0)


def test_export_coco_is_valid_and_loadable(tmp_path):
    from pycocotools.coco import COCO
    ds = SyntheticScenes(num_images=4, img_size=(64, 80), seed=2)
    ann = ds.export_coco(str(tmp_path))
    coco = COCO(ann)
    assert len(coco.getImgIds()) == 4 and len(coco.getAnnIds()) > 0
    for ann in coco.loadAnns(coco.getAnnIds()):
        scene = ds.render(ann['image_id'] - 1)
        mask = coco.annToMask(ann).astype(bool)
        # Decoded by pycocotools, each annotation is exactly one of the scene's visible masks.
        match = [i for i, m in enumerate(scene['masks']) if np.array_equal(m, mask)]
        assert len(match) == 1 and scene['labels'][match[0]] == ann['category_id'] - 1
        x, y, w, h = ann['bbox']
        ys, xs = np.nonzero(mask)
        assert (x, y, x + w - 1, y + h - 1) == (xs.min(), ys.min(), xs.max(), ys.max())
    img = cv2.imread(str(tmp_path / 'images' / coco.loadImgs(1)[0]['file_name']))
    assert img.shape == (64, 80, 3)


@pytest.mark.parametrize('layout', ['ade20k', 'cityscapes'])
def test_export_semantic_layouts(tmp_path, layout):
    ds = SyntheticScenes(num_images=2, img_size=(48, 64), seed=0)
    img_dir, seg_dir = ds.export_semantic(
        str(tmp_path), layout=layout, split='training' if layout == 'ade20k' else 'train')
    segs = sorted(p for p in __import__('os').listdir(seg_dir))
    seg = cv2.imread(f'{seg_dir}/{segs[0]}', cv2.IMREAD_UNCHANGED)
    values = set(np.unique(seg).tolist())
    allowed = set(range(0, 5)) if layout == 'ade20k' else set(range(0, 4)) | {255}
    assert values <= allowed and len(values) >= 2


def test_object_size_and_count_are_respected():
    """object_size bounds the size of each object (fraction of the shorter side)."""
    h, w = 64, 80
    for index in range(20):
        scene = render_scene(5, index, (h, w), num_objects=(1, 1), min_object_size=0.5, max_object_size=0.6)
        [mask] = scene['masks']
        ys, xs = np.nonzero(mask)
        extent = max(ys.max() - ys.min(), xs.max() - xs.min()) + 1
        # a shape spans at least half its size along x or y
        assert 0.5 * 0.5 * h <= extent <= 2**0.5 * 0.6 * h + 3  # a rotated rectangle: up to its diagonal
        assert scene['label'] == scene['labels'][0]
    # the defaults render the same scenes as before the size knob existed
    assert np.array_equal(
        render_scene(3, 7)['img'],
        render_scene(3, 7, min_object_size=0.15, max_object_size=0.45)['img'])
    with pytest.raises(ValueError, match='object_size'):
        SyntheticScenes(num_images=2, object_size=(0.5, 0.2))


def test_cache_gives_the_same_images_and_private_copies():
    kwargs = dict(num_images=3, img_size=(32, 40), seed=4, num_objects=(1, 2), object_size=(0.3, 0.6))
    plain, cached = SyntheticScenes(**kwargs), SyntheticScenes(cache=True, **kwargs)
    assert [d['gt_label'] for d in plain.data_list] == [d['gt_label'] for d in cached.data_list]
    for i in range(3):
        a, b = plain.get_data_info(i)['img'], cached.get_data_info(i)['img']
        assert np.array_equal(a, b) and np.array_equal(a, render_scene(4, i, (32, 40), (1, 2), 0.3, 0.6)['img'])
        b[:] = 0  # a transform writing in place must not change the cached scene
        assert np.array_equal(cached.get_data_info(i)['img'], a)


def test_background_and_gray_options():
    """background='flat' draws one colour behind the objects; gray=True makes every colour a gray level; the
    background's texture is returned and can be the dataset's label."""
    kwargs = dict(img_size=(64, 80), num_objects=(1, 1), min_object_size=0.4, max_object_size=0.8)
    kinds = set()
    for index in range(12):
        flat = render_scene(6, index, background='flat', **kwargs)
        assert flat['background_texture'] == 0
        outside = ~flat['masks'][0]
        assert (flat['img'][outside] == flat['img'][outside][0]).all()  # one colour behind the object
        gray = render_scene(6, index, gray=True, **kwargs)
        assert (gray['img'][..., 0] == gray['img'][..., 1]).all() and (gray['img'][..., 1] == gray['img'][..., 2]).all()
        # same scene otherwise: the masks and textures do not depend on the palette
        plain = render_scene(6, index, **kwargs)
        assert np.array_equal(gray['masks'][0], plain['masks'][0]) and gray['textures'] == plain['textures']
        assert gray['background_texture'] == plain['background_texture']
        kinds.add(plain['background_texture'])
    assert len(kinds) > 1  # the default background texture is random
    ds = SyntheticScenes(num_images=4, seed=6, label='background_texture', img_size=(64, 80))
    assert [ds.get_data_info(i)['gt_label']
            for i in range(4)] == [render_scene(6, i, (64, 80))['background_texture'] for i in range(4)]
    with pytest.raises(ValueError, match='background'):
        SyntheticScenes(num_images=2, background='stripes')


def test_texture_amplitude_sets_the_pattern_swing():
    # no swing: every texture is its flat colour, so the texture-only scene is one colour
    flat = render_scene(6, 3, (32, 40), num_objects=(0, 0), texture_amplitude=(0, 0))['img']
    assert (flat == flat[0, 0]).all()
    # the default swing is the (20, 60) the scenes were always drawn with: same pixels
    assert np.array_equal(render_scene(6, 3)['img'], render_scene(6, 3, texture_amplitude=(20, 60))['img'])
    # a fixed swing a on a stripes background: values reach colour +- a (clipped to 0..255), not more
    for index in range(40):
        scene = render_scene(6, index, (32, 40), num_objects=(0, 0), texture_amplitude=(30, 30))
        if scene['background_texture'] == 1:  # stripes
            img = scene['img'].astype(int)
            assert 55 <= (img.max((0, 1)) - img.min((0, 1))).max() <= 61
            break
    else:
        pytest.fail('no stripes background in 40 scenes')
    with pytest.raises(ValueError, match='texture_amplitude'):
        SyntheticScenes(num_images=1, texture_amplitude=(60, 20))

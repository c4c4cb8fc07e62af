"""Rotation / jigsaw pretext inputs of ScatSimCLR and the cv2 blur: they are what they claim."""
import cv2
import numpy as np
import pytest
from mmpretrain.registry import TRANSFORMS
from PIL import Image

import mmspatial  # noqa: F401
from mmspatial.datasets.transforms.pretext import jigsaw_permutations, load_permutations, tile_boxes


def test_rotation_labels_match_cv2_rotations():
    """Label k = the reference's k-th image: original, cv2 90 CW, 180, 90 CCW."""
    img = np.random.default_rng(0).integers(0, 256, (6, 9, 3), dtype=np.uint8)  # non-square on purpose
    out = TRANSFORMS.build(dict(type='RotationPretext', transforms=[]))(dict(img=img))
    expected = [
        img,
        cv2.rotate(img, cv2.ROTATE_90_CLOCKWISE),
        cv2.rotate(img, cv2.ROTATE_180),
        cv2.rotate(img, cv2.ROTATE_90_COUNTERCLOCKWISE)
    ]
    assert out['pretext_label'].tolist() == [0, 1, 2, 3]
    for got, want in zip(out['pretext_img'], expected):
        assert np.array_equal(got, want)
    assert np.array_equal(out['img'], img)  # the source stays for the contrastive views


def test_each_rotation_gets_its_own_augmentation():
    img = np.zeros((32, 32, 3), np.uint8)
    pipe = [dict(type='RandomCrop', crop_size=8)]  # random position per call
    np.random.seed(0)
    img[..., 0] = np.arange(32)[None, :]
    img[..., 1] = np.arange(32)[:, None]
    out = TRANSFORMS.build(dict(type='RotationPretext', transforms=pipe))(dict(img=img))
    assert all(p.shape == (8, 8, 3) for p in out['pretext_img'])
    # undo each rotation and read which 8x8 window was cropped: not all the same
    origins = {(int(np.rot90(p, k=lab)[0, 0, 1]), int(np.rot90(p, k=lab)[0, 0, 0]))
               for p, lab in zip(out['pretext_img'], out['pretext_label'])}
    assert len(origins) > 1


def test_jigsaw_permutations():
    perms = jigsaw_permutations(35, 9)
    assert perms.shape == (35, 9)
    assert all(sorted(p) == list(range(9)) for p in perms.tolist())
    assert len({tuple(p) for p in perms.tolist()}) == 35
    assert perms[0].tolist() == list(range(9))
    dist = (perms[:, None, :] != perms[None, :, :]).sum(-1)
    off = dist[~np.eye(35, dtype=bool)]
    assert off.min() == 7 and off.mean() == pytest.approx(8.2269, abs=1e-3)  # the docstring's claim
    jigsaw_permutations.cache_clear()
    assert np.array_equal(jigsaw_permutations(35, 9), perms)  # deterministic


def test_tile_boxes_follow_reference_rounding():
    # reference: s = W / 3, a = s / 2, c = 2 a k + a, span [ceil(c - a), int(c + a)) in float arithmetic
    assert tile_boxes(96, 96)[:3] == [(0, 0, 32, 32), (32, 0, 64, 32), (64, 0, 96, 32)]
    assert tile_boxes(96, 96)[8] == (64, 64, 96, 96)
    # 32 px: a = 5.33..; the last centre 26.66.. + a = 31.999.. truncates to 31, so the spans are
    # [0, 10), [11, 21), [22, 31): columns/rows 10, 21 (seams) and 31 (the last) are dropped
    assert tile_boxes(32, 32)[:3] == [(0, 0, 10, 10), (11, 0, 21, 10), (22, 0, 31, 10)]
    assert tile_boxes(32, 32)[8] == (22, 22, 31, 31)
    # 64 px: [0, 21), [22, 42), [43, 63): the last tile ends at 63, not 64
    assert [(x1, x2) for x1, _, x2, _ in tile_boxes(64, 64)[:3]] == [(0, 21), (22, 42), (43, 63)]
    assert tile_boxes(64, 64)[8] == (43, 43, 63, 63)
    # rows use the height (the reference assumes square images)
    assert [(y1, y2) for _, y1, _, y2 in tile_boxes(96, 32)[::3]] == [(0, 32), (32, 64), (64, 96)]


def test_jigsaw_tiles_at_32px_drop_the_last_row_and_column():
    img = np.zeros((32, 32, 3), dtype=np.uint8)
    img[31, :] = img[:, 31] = 255  # only the last row and column are bright
    tiles = TRANSFORMS.build(dict(type='JigsawPretext', tile_size=32)).tiles(img)
    assert all(t.max() == 0 for t in tiles)
    assert tiles[8].shape == (9, 9, 3) and tiles[0].shape == (10, 10, 3)


def _save(tmp_path, arr, name='perms.npy'):
    path = tmp_path / name
    np.save(path, arr)
    return str(path)


def test_permutations_file_is_loaded_and_used(tmp_path):
    rng = np.random.default_rng(0)
    perms = np.stack([rng.permutation(9) for _ in range(35)])
    assert len({tuple(p) for p in perms.tolist()}) == 35
    assert np.array_equal(load_permutations(_save(tmp_path, perms)), perms)
    # 1-based files are shifted down by one, as the reference's retrive_permutations
    assert np.array_equal(load_permutations(_save(tmp_path, perms + 1, 'one.npy')), perms)
    jig = TRANSFORMS.build(dict(type='JigsawPretext', tile_size=32, permutations_file=_save(tmp_path, perms)))
    img = np.random.default_rng(1).integers(0, 256, (96, 96, 3), dtype=np.uint8)
    np.random.seed(0)
    out = jig(dict(img=img))
    label = int(out['pretext_label'])
    tiles = jig.tiles(img)
    for slot, src in enumerate(perms[label]):  # slot t holds the file's tile perms[label][t]
        assert np.array_equal(out['pretext_img'][slot], tiles[src])


def test_permutations_file_is_validated(tmp_path):
    good = np.stack([np.roll(np.arange(9), k) for k in range(9)] + [np.roll(np.arange(9)[::-1], k) for k in range(9)] +
                    [np.random.default_rng(k).permutation(9) for k in range(17)])
    assert len({tuple(p) for p in good.tolist()}) == 35
    with pytest.raises(ValueError, match=r'short\.npy.*shape \(35, 9\).*\(34, 9\)'):
        load_permutations(_save(tmp_path, good[:34], 'short.npy'))
    bad = good.copy()
    bad[5] = [0, 0, 2, 3, 4, 5, 6, 7, 8]
    with pytest.raises(ValueError, match=r'bad\.npy.*row 5 .*not a permutation'):
        load_permutations(_save(tmp_path, bad, 'bad.npy'))
    dup = good.copy()
    dup[20] = dup[3]
    with pytest.raises(ValueError, match=r'dup\.npy.*row 20 repeats row 3'):
        load_permutations(_save(tmp_path, dup, 'dup.npy'))
    with pytest.raises(ValueError, match='integers'):
        load_permutations(_save(tmp_path, good + 0.5, 'float.npy'))
    with pytest.raises(ValueError, match='missing.npy'):
        TRANSFORMS.build(dict(type='JigsawPretext', tile_size=32, permutations_file=str(tmp_path / 'missing.npy')))


def test_jigsaw_tiles_reassemble_to_the_original():
    img = np.random.default_rng(1).integers(0, 256, (96, 96, 3), dtype=np.uint8)
    jig = TRANSFORMS.build(dict(type='JigsawPretext', tile_size=32))  # tiles are 32 px: no resampling
    np.random.seed(3)
    out = jig(dict(img=img.copy()))
    label = int(out['pretext_label'])
    perm = jigsaw_permutations(35, 9)[label]
    tiles = [None] * 9
    for slot, src in enumerate(perm):  # slot t holds source tile perm[t]
        tiles[src] = out['pretext_img'][slot]
    rows = [np.concatenate(tiles[r * 3:r * 3 + 3], axis=1) for r in range(3)]
    assert np.array_equal(np.concatenate(rows, axis=0), img)
    labels = {int(jig(dict(img=img))['pretext_label']) for _ in range(50)}
    assert len(labels) > 10 and max(labels) < 35


def test_jigsaw_tiles_are_resized_to_the_input_size():
    img = np.random.default_rng(2).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    out = TRANSFORMS.build(dict(type='JigsawPretext', tile_size=32))(dict(img=img))
    perm = jigsaw_permutations(35, 9)[int(out['pretext_label'])]
    x1, y1, x2, y2 = tile_boxes(32, 32)[perm[0]]
    want = np.asarray(Image.fromarray(img[y1:y2, x1:x2]).resize((32, 32), Image.BILINEAR))
    assert out['pretext_img'][0].shape == (32, 32, 3) and np.array_equal(out['pretext_img'][0], want)


def test_merge_pretext_views():
    merge = TRANSFORMS.build(dict(type='MergePretextViews'))
    out = merge(dict(img=['v1', 'v2'], pretext_img=['p1', 'p2']))
    assert out['img'] == ['v1', 'v2', 'p1', 'p2'] and 'pretext_img' not in out
    with pytest.raises(TypeError):
        merge(dict(img='single', pretext_img=[]))


@pytest.mark.parametrize('size,kernel', [(32, 3), (96, 9)])
def test_cv2_blur_kernel_rule(size, kernel):
    img = np.random.default_rng(0).integers(0, 256, (size, size, 3), dtype=np.uint8)
    blur = TRANSFORMS.build(dict(type='CV2GaussianBlur', prob=1.0))
    np.random.seed(5)
    out = blur(dict(img=Image.fromarray(img)))['img']  # PIL in, array out (as the reference)
    np.random.seed(5)
    np.random.random_sample()  # the probability draw
    sigma = 1.9 * np.random.random_sample() + 0.1
    assert isinstance(out, np.ndarray)
    assert np.array_equal(out, cv2.GaussianBlur(img, (kernel, kernel), sigma))
    never = TRANSFORMS.build(dict(type='CV2GaussianBlur', prob=0.0))
    assert np.array_equal(never(dict(img=img))['img'], img)

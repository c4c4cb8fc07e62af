"""CIFAR-100-20 superclasses, STL-10 binary layout, npz image arrays, the 95 % / 5 % hold-out split."""
import numpy as np
import pytest
from mmpretrain.datasets import CIFAR100
from mmpretrain.registry import DATASETS

import mmspatial  # noqa: F401
from mmspatial.datasets.scatsimclr_datasets import CIFAR20_CATEGORIES, CIFAR100_TO_20, holdout_indices


def test_cifar100_20_map():
    assert len(CIFAR100_TO_20) == 100 and len(CIFAR20_CATEGORIES) == 20
    assert np.bincount(CIFAR100_TO_20).tolist() == [5] * 20  # 5 fine classes per superclass
    fine = CIFAR100.METAINFO['classes']
    coarse = {name: CIFAR20_CATEGORIES[CIFAR100_TO_20[i]] for i, name in enumerate(fine)}
    assert coarse['apple'] == 'fruit and vegetables' and coarse['whale'] == 'aquatic mammals'
    assert coarse['bus'] == 'vehicles 1' and coarse['tank'] == 'vehicles 2'
    assert coarse['maple_tree'] == 'trees' and coarse['baby'] == 'people'


def test_cifar100_20_relabels(monkeypatch):
    fine = [dict(img=np.zeros((32, 32, 3), np.uint8), gt_label=i) for i in range(100)]
    monkeypatch.setattr(CIFAR100, 'load_data_list', lambda self: [dict(d) for d in fine])
    ds = DATASETS.build(dict(type='CIFAR100_20', data_root='unused', lazy_init=True))
    assert [d['gt_label'] for d in ds.load_data_list()] == list(CIFAR100_TO_20)
    assert len(ds.metainfo['classes']) == 20


def test_stl10_binary_layout(tmp_path):
    root = tmp_path / 'stl10_binary'
    root.mkdir()
    rng = np.random.default_rng(0)
    chw = {s: rng.integers(0, 256, (n, 3, 96, 96), dtype=np.uint8) for s, n in [('train', 2), ('unlabeled', 3)]}
    for split, imgs in chw.items():
        imgs.transpose(0, 1, 3, 2).tofile(root / f'{split}_X.bin')  # the release stores (3, W, H)
    np.array([3, 10], np.uint8).tofile(root / 'train_y.bin')  # labels 1..10
    ds = DATASETS.build(dict(type='STL10', data_root=str(tmp_path), split='train+unlabeled'))
    assert len(ds) == 5
    first = ds[0]
    assert first['img'].shape == (96, 96, 3)
    assert np.array_equal(first['img'], chw['train'][0].transpose(1, 2, 0))
    assert [ds.get_data_info(i)['gt_label'] for i in range(5)] == [2, 9, -1, -1, -1]
    assert np.array_equal(ds[4]['img'], chw['unlabeled'][2].transpose(1, 2, 0))
    with pytest.raises(ValueError):
        DATASETS.build(dict(type='STL10', data_root=str(tmp_path), split='val'))


def test_npz_dataset_on_cifar10_subset(shared_data):
    path = shared_data / 'cifar10_subset' / 'cifar10_subset.npz'
    train = DATASETS.build(dict(type='NpzImageDataset', ann_file=str(path), split='train'))
    val = DATASETS.build(dict(type='NpzImageDataset', ann_file=str(path), split='val', with_label=False))
    assert len(train) == 10000 and len(val) == 2000
    assert train[0]['img'].shape == (32, 32, 3) and 0 <= train[0]['gt_label'] < 10
    assert 'gt_label' not in val[0] and len(train.metainfo['classes']) == 10


def test_holdout_indices_follow_the_reference_split():
    # reference: shuffle, split = floor(0.05 * n), train = indices[split:], valid = indices[:split]
    train, held = holdout_indices(40, 0.05, seed=0)
    order = np.random.default_rng(0).permutation(40)
    assert held.tolist() == sorted(order[:2].tolist()) and train.tolist() == sorted(order[2:].tolist())
    assert len(train) == 38 and not set(train) & set(held) and set(train) | set(held) == set(range(40))
    assert [len(p) for p in holdout_indices(50000, 0.05, 0)] == [47500, 2500]  # CIFAR train split
    assert [len(p) for p in holdout_indices(105000, 0.05, 0)] == [99750, 5250]  # STL-10 train+unlabeled
    assert [len(p) for p in holdout_indices(39, 0.05, 0)] == [38, 1]  # floor(1.95) = 1
    assert np.array_equal(holdout_indices(40, 0.05, 0)[0], train)  # deterministic
    assert not np.array_equal(holdout_indices(40, 0.05, 1)[1], held)  # the seed picks the split
    with pytest.raises(ValueError, match='ratio'):
        holdout_indices(40, 1.0, 0)


def _npz(tmp_path, num=40):
    imgs = np.arange(num, dtype=np.uint8)[:, None, None, None] * np.ones((1, 4, 4, 3), dtype=np.uint8)
    path = tmp_path / 'tiny.npz'
    np.savez(path, train_images=imgs, train_labels=np.arange(num) % 10)
    return str(path)


def test_holdout_split_dataset(tmp_path):
    inner = dict(type='NpzImageDataset', ann_file=_npz(tmp_path))
    pipeline = [dict(type='PackInputs')]
    train = DATASETS.build(dict(type='HoldOutSplit', dataset=inner, pipeline=pipeline))
    held = DATASETS.build(dict(type='HoldOutSplit', dataset=inner, part='holdout', pipeline=pipeline))
    assert len(train) == 38 and len(held) == 2
    # image k is filled with the value k: the wrapper serves exactly its indices, through the pipeline
    seen = [int(train[i]['inputs'][0, 0, 0]) for i in range(len(train))]
    assert seen == holdout_indices(40, 0.05, 0)[0].tolist()
    assert {int(held[i]['inputs'][0, 0, 0]) for i in range(2)} == set(holdout_indices(40, 0.05, 0)[1].tolist())
    assert train.metainfo == DATASETS.build(inner).metainfo
    with pytest.raises(ValueError, match='without one'):
        DATASETS.build(dict(type='HoldOutSplit', dataset=dict(inner, pipeline=pipeline)))
    with pytest.raises(ValueError, match="'val'"):
        DATASETS.build(dict(type='HoldOutSplit', dataset=inner, part='val'))

"""Datasets of the ScatSimCLR experiments that mmpretrain does not ship: CIFAR-100-20, STL-10, npz arrays.

All return RGB ``uint8`` HWC images in ``results['img']`` (like mmpretrain's ``CIFAR10``), so configs use
``to_rgb=False``.
"""
import copy
import os.path as osp
from typing import List, Optional, Sequence, Tuple, Union

import numpy as np
from mmengine.dataset import Compose
from mmpretrain.datasets import CIFAR100, BaseDataset
from mmpretrain.registry import DATASETS
from torch.utils.data import Dataset

# CIFAR-100 fine label -> superclass ("coarse label" of the CIFAR-100 release, as used by SCAN/RUC and
# ``src/data/cifar_20.py`` of vkinakh/scatsimclr); index = fine label in alphabetical order.
CIFAR100_TO_20 = (4, 1, 14, 8, 0, 6, 7, 7, 18, 3, 3, 14, 9, 18, 7, 11, 3, 9, 7, 11, 6, 11, 5, 10, 7, 6, 13, 15, 3, 15,
                  0, 11, 1, 10, 12, 14, 16, 9, 11, 5, 5, 19, 8, 8, 15, 13, 14, 17, 18, 10, 16, 4, 17, 4, 2, 0, 17, 4,
                  18, 17, 10, 3, 2, 12, 12, 16, 12, 1, 9, 19, 2, 10, 0, 1, 16, 12, 9, 13, 15, 13, 16, 19, 2, 4, 6, 19,
                  5, 5, 8, 19, 18, 1, 2, 15, 6, 0, 17, 8, 14, 13)
CIFAR20_CATEGORIES = ('aquatic mammals', 'fish', 'flowers', 'food containers', 'fruit and vegetables',
                      'household electrical devices', 'household furniture', 'insects', 'large carnivores',
                      'large man-made outdoor things', 'large natural outdoor scenes', 'large omnivores and herbivores',
                      'medium-sized mammals', 'non-insect invertebrates', 'people', 'reptiles', 'small mammals',
                      'trees', 'vehicles 1', 'vehicles 2')
STL10_CATEGORIES = ('airplane', 'bird', 'car', 'cat', 'deer', 'dog', 'horse', 'monkey', 'ship', 'truck')


@DATASETS.register_module()
class CIFAR100_20(CIFAR100):
    """CIFAR-100 with its 20 superclasses as labels ("CIFAR100-20" / "CIFAR-20" of ScatSimCLR, SCAN).

    Same arguments as mmpretrain's ``CIFAR100`` (``data_root`` holding ``cifar-100-python/``).
    """

    METAINFO = {'classes': CIFAR20_CATEGORIES}

    def load_data_list(self) -> List[dict]:
        data_list = super().load_data_list()
        for info in data_list:
            info['gt_label'] = CIFAR100_TO_20[info['gt_label']]
        return data_list


@DATASETS.register_module()
class STL10(BaseDataset):
    """STL-10 from the binary release (``stl10_binary/{train,test,unlabeled}_X.bin``, ``*_y.bin``).

    Images are read lazily from a memory map (the unlabeled split is 2.8 GB). Splits may be joined
    with '+': ScatSimCLR pre-trains on ``'train+unlabeled'`` (105k images; unlabeled ones get label -1)
    and evaluates linear probes on ``'train'`` -> ``'test'``.

    Args:
        data_root (str): folder containing ``stl10_binary/``.
        split (str): 'train', 'test', 'unlabeled' or a '+'-joined combination. Defaults to 'train'.
        pipeline (Sequence): transforms.
    """

    METAINFO = {'classes': STL10_CATEGORIES}
    _SIZE = 96

    def __init__(self, data_root: str, split: str = 'train', pipeline: Sequence = (), **kwargs) -> None:
        self.splits = split.split('+')
        bad = set(self.splits) - {'train', 'test', 'unlabeled'}
        if bad:
            raise ValueError(f'unknown STL-10 split(s) {sorted(bad)}')
        self._images = {}
        super().__init__(ann_file='', data_root=data_root, pipeline=list(pipeline), **kwargs)

    def _file(self, name: str) -> str:
        path = osp.join(self.data_root, 'stl10_binary', name)
        if not osp.isfile(path):
            raise FileNotFoundError(f'STL-10 file {path} not found; extract stl10_binary.tar.gz from '
                                    'https://cs.stanford.edu/~acoates/stl10/ into data_root')
        return path

    def _split_images(self, split: str) -> np.ndarray:
        if split not in self._images:  # opened lazily, also in each data-loader worker
            self._images[split] = np.memmap(self._file(f'{split}_X.bin'), dtype=np.uint8, mode='r') \
                .reshape(-1, 3, self._SIZE, self._SIZE)
        return self._images[split]

    def load_data_list(self) -> List[dict]:
        data_list = []
        for split in self.splits:
            num = self._split_images(split).shape[0]
            if split == 'unlabeled':
                labels = np.full(num, -1, dtype=np.int64)
            else:  # labels are 1..10 in the release
                labels = np.fromfile(self._file(f'{split}_y.bin'), dtype=np.uint8).astype(np.int64) - 1
            data_list += [dict(split=split, index=i, gt_label=int(labels[i])) for i in range(num)]
        return data_list

    def get_data_info(self, idx: int) -> dict:
        info = super().get_data_info(idx)
        # stored channel-first and column-major: (3, W, H) per image
        img = self._split_images(info['split'])[info['index']]
        info['img'] = np.ascontiguousarray(img.transpose(2, 1, 0))
        return info

    def __getstate__(self) -> dict:  # memory maps are reopened in workers instead of pickled
        state = self.__dict__.copy()
        state['_images'] = {}
        return state


@DATASETS.register_module()
class NpzImageDataset(BaseDataset):
    """Images and labels from a ``.npz`` file with ``<split>_images`` (N, H, W, 3) uint8 RGB and
    ``<split>_labels`` (N,), optional ``classes``; e.g. ``../shared/data/cifar10_subset/cifar10_subset.npz``.

    Args:
        ann_file (str): the ``.npz`` file.
        split (str): key prefix, e.g. 'train' or 'val'. Defaults to 'train'.
        with_label (bool): set ``gt_label``. Defaults to True.
        pipeline (Sequence): transforms.
        indices (int | Sequence[int], optional): subset, as in mmengine's ``BaseDataset``.
    """

    def __init__(self,
                 ann_file: str,
                 split: str = 'train',
                 with_label: bool = True,
                 pipeline: Sequence = (),
                 metainfo: Optional[dict] = None,
                 **kwargs) -> None:
        self.split, self.with_label = split, with_label
        path = osp.join(kwargs.get('data_root', ''), ann_file)
        if metainfo is None and osp.isfile(path):
            with np.load(path) as data:
                if 'classes' in data:
                    metainfo = dict(classes=tuple(str(c) for c in data['classes']))
        super().__init__(ann_file=ann_file, pipeline=list(pipeline), metainfo=metainfo, **kwargs)

    def load_data_list(self) -> List[dict]:
        if not osp.isfile(self.ann_file):
            raise FileNotFoundError(f'{self.ann_file} not found')
        with np.load(self.ann_file) as data:
            imgs = data[f'{self.split}_images']
            labels = data[f'{self.split}_labels'] if self.with_label else None
        if imgs.ndim != 4 or imgs.shape[-1] != 3 or imgs.dtype != np.uint8:
            raise ValueError(f'{self.split}_images must be (N, H, W, 3) uint8, got {imgs.shape} {imgs.dtype}')
        return [
            dict(img=img) if labels is None else dict(img=img, gt_label=int(lab))
            for img, lab in zip(imgs, labels if labels is not None else [None] * len(imgs))
        ]


def holdout_indices(num: int, ratio: float, seed: int) -> Tuple[np.ndarray, np.ndarray]:
    """(train, held-out) sample indices, sorted: a seeded shuffle, the first ``floor(ratio * num)`` held out.

    Reference: ``BaseDatasetWrapper.get_data_loaders`` of vkinakh/scatsimclr (``valid_size: 0.05``):
    ``np.random.shuffle(indices); split = int(np.floor(valid_size * n)); train, valid = indices[split:],
    indices[:split]``. The reference shuffles with numpy's global generator (a new split per run unless
    seeded elsewhere); here the split is a function of ``seed`` alone.
    """
    if not 0 <= ratio < 1:
        raise ValueError(f'holdout ratio must be in [0, 1), got {ratio}')
    order = np.random.default_rng(seed).permutation(num)
    split = int(np.floor(ratio * num))
    return np.sort(order[split:]), np.sort(order[:split])


@DATASETS.register_module()
class HoldOutSplit(Dataset):
    """The training part (or the held-out part) of a dataset split at random, deterministically.

    ScatSimCLR's reference trains on 95 % of the training split and keeps 5 % for a validation loss
    (:func:`holdout_indices`). The wrapped dataset is built without a pipeline; this wrapper applies
    ``pipeline`` to its data infos, so ``train_dataloader.dataset.pipeline`` stays where configs and
    tools expect it.

    Args:
        dataset (dict | BaseDataset): the dataset to split (its own ``pipeline`` must be empty).
        ratio (float): held-out fraction. Defaults to 0.05 (the reference's ``valid_size``).
        seed (int): seed of the split. Defaults to 0.
        part (str): 'train' (the remaining 1 - ratio) or 'holdout'. Defaults to 'train'.
        pipeline (Sequence): transforms applied to the wrapped dataset's data infos.
    """

    def __init__(self,
                 dataset: Union[dict, BaseDataset],
                 ratio: float = 0.05,
                 seed: int = 0,
                 part: str = 'train',
                 pipeline: Sequence = ()) -> None:
        if part not in ('train', 'holdout'):
            raise ValueError(f"HoldOutSplit part must be 'train' or 'holdout', got {part!r}")
        self.dataset = DATASETS.build(dataset) if isinstance(dataset, dict) else dataset
        if len(getattr(self.dataset, 'pipeline', Compose([])).transforms):
            raise ValueError('HoldOutSplit applies the pipeline itself: give it `pipeline` and leave the '
                             f'wrapped {type(self.dataset).__name__} without one')
        self.ratio, self.seed, self.part = ratio, seed, part
        train, held_out = holdout_indices(len(self.dataset), ratio, seed)
        self.indices = train if part == 'train' else held_out
        self.pipeline = Compose(list(pipeline))

    @property
    def metainfo(self) -> dict:
        return copy.deepcopy(self.dataset.metainfo)

    def __len__(self) -> int:
        return len(self.indices)

    def get_data_info(self, idx: int) -> dict:
        return self.dataset.get_data_info(int(self.indices[idx]))

    def __getitem__(self, idx: int) -> dict:
        return self.pipeline(self.get_data_info(idx))

"""Write a class-folder image set (e.g. ``../shared/data/flowers128``) in Oxford Flowers-102's layout.

    python tools/dataset_converters/flowers102_layout.py ../shared/data/flowers128 data/flowers128_f102 \
        --train-per-class 40 --test-per-class 20

writes ``jpg/image_%05d.jpg`` (symbolic links), ``imagelabels.mat`` (1-based labels) and ``setid.mat``
(``trnid``/``valid``/``tstid``), what mmpretrain's ``Flowers102`` reads, so the fine-grained configs
(``configs/benchmarks/classification/fine-grained/*_flowers102.py``) run on it with a data-root and class-count
override. The first images of each class (sorted by name) go to training (split between ``trnid`` and ``valid``,
both in mmpretrain's ``trainval``), the next ones to ``tstid``.
"""
import argparse
import os
import os.path as osp
from typing import List, Tuple

import numpy as np

IMAGE_SUFFIXES = ('.jpg', '.jpeg', '.png')


def write_flowers102_layout(src: str, dst: str, train_per_class: int, test_per_class: int) -> Tuple[List[str], int]:
    """Build the layout; returns the class names (label order) and the number of images linked."""
    import scipy.io
    classes = sorted(d for d in os.listdir(src) if osp.isdir(osp.join(src, d)))
    if not classes:
        raise FileNotFoundError(f'{src}: no class folders')
    os.makedirs(osp.join(dst, 'jpg'), exist_ok=True)
    labels, train_ids, test_ids = [], [], []
    for label, cls in enumerate(classes):
        files = sorted(f for f in os.listdir(osp.join(src, cls)) if f.lower().endswith(IMAGE_SUFFIXES))
        if len(files) < train_per_class + test_per_class:
            raise ValueError(f'{osp.join(src, cls)} has {len(files)} images, fewer than '
                             f'{train_per_class} + {test_per_class}')
        for i, name in enumerate(files[:train_per_class + test_per_class]):
            labels.append(label + 1)  # 1-based, as the official imagelabels.mat
            image_id = len(labels)
            link = osp.join(dst, 'jpg', f'image_{image_id:05d}.jpg')
            if osp.lexists(link):
                os.remove(link)
            os.symlink(osp.abspath(osp.join(src, cls, name)), link)
            (train_ids if i < train_per_class else test_ids).append(image_id)
    scipy.io.savemat(osp.join(dst, 'imagelabels.mat'), dict(labels=np.array([labels], dtype=np.uint16)))
    # trainval = trnid + valid; valid keeps >= 2 ids (mat4py reads a 1-element vector as a scalar)
    half = max(2, len(train_ids) // 2)
    scipy.io.savemat(
        osp.join(dst, 'setid.mat'),
        dict(
            trnid=np.array([train_ids[half:]], dtype=np.uint16),
            valid=np.array([train_ids[:half]], dtype=np.uint16),
            tstid=np.array([test_ids], dtype=np.uint16)))
    return classes, len(labels)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('src', help='class-folder image set')
    parser.add_argument('dst', help='Flowers-102-layout root to write')
    parser.add_argument('--train-per-class', type=int, default=40)
    parser.add_argument('--test-per-class', type=int, default=20)
    args = parser.parse_args(argv)
    classes, num = write_flowers102_layout(args.src, args.dst, args.train_per_class, args.test_per_class)
    print(f'{num} images of {len(classes)} classes ({", ".join(classes)}) -> {args.dst}')


if __name__ == '__main__':
    main()

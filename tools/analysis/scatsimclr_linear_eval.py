"""ScatSimCLR's linear evaluation: logistic regression on frozen, standardised h of un-augmented images.

Protocol of the reference (vkinakh/scatsimclr ``src/data/embedding_extractor.py``,
``src/evaluation/logistic_regression_evaluator.py``): features = the encoder output h (2048-d for
ScatNet, the pooled 512-d for ResNet-18) of every train and test image, only resized to the input size
and normalised; ``StandardScaler`` fitted on the train features; one ``Linear`` layer trained with
cross-entropy, Adam (lr 3e-4, weight decay 1e-4), batch 64, 100 epochs; top-1 on the test split. The
paper reports the best of 5 runs; ``--runs`` repeats the classifier with different seeds and prints
mean, std and best. A weighted kNN (k=20, T=0.07, :mod:`mmspatial.evaluation.knn`) on the same
features is printed too (cheap, no training).

One deviation, by default: the reference's train loader does not shuffle. Its datasets are stored in
random order, but ``cifar10_subset`` is sorted by class, which would make every epoch end on one
class; we shuffle (``--no-shuffle`` restores the reference's order).

Data (``--data``): ``cifar10_subset`` (``../shared/data/cifar10_subset``, train -> val), an ``.npz``
with ``<split>_images``/``<split>_labels`` (RGB uint8, ``--train-split``/``--test-split``), or
``cifar10``/``cifar100-20``/``stl10`` with ``--data-root`` (train -> test, as the paper).

    python tools/analysis/scatsimclr_linear_eval.py configs/scatsimclr/scatsimclr_scatnet8_1xb64-100e_cifar10.py \
        work_dirs/scatsimclr8/epoch_100.pth --data cifar10 --data-root data/cifar10

Prints a Markdown row and writes JSON with ``--out``.
"""
import argparse
import json
import os
import os.path as osp
import sys
import time
from typing import Dict, Optional, Tuple

import numpy as np
import torch
import torch.nn as nn

PROJECT_ROOT = osp.abspath(osp.join(osp.dirname(__file__), '..', '..'))
SHARED_NPZ = osp.join(PROJECT_ROOT, '..', 'shared', 'data', 'cifar10_subset', 'cifar10_subset.npz')


def standardize(train: np.ndarray, test: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """sklearn ``StandardScaler`` semantics: train mean / population std; constant features keep std 1."""
    mean = train.mean(0)
    std = train.std(0)
    std[std == 0] = 1.0
    return (train - mean) / std, (test - mean) / std


def logistic_regression(train_x: np.ndarray,
                        train_y: np.ndarray,
                        test_x: np.ndarray,
                        test_y: np.ndarray,
                        num_classes: int,
                        epochs: int = 100,
                        lr: float = 3e-4,
                        weight_decay: float = 1e-4,
                        batch_size: int = 64,
                        shuffle: bool = True,
                        seed: int = 0) -> float:
    """Top-1 accuracy (fraction) of a linear softmax classifier trained as in the reference."""
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    model = nn.Linear(train_x.shape[1], num_classes)
    optim = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    x, y = torch.as_tensor(train_x, dtype=torch.float32), torch.as_tensor(train_y, dtype=torch.long)
    for _ in range(epochs):
        order = torch.randperm(len(x), generator=gen) if shuffle else torch.arange(len(x))
        for start in range(0, len(x), batch_size):
            idx = order[start:start + batch_size]
            optim.zero_grad()
            nn.functional.cross_entropy(model(x[idx]), y[idx]).backward()
            optim.step()
    with torch.no_grad():
        pred = model(torch.as_tensor(test_x, dtype=torch.float32)).argmax(1).numpy()
    return float((pred == np.asarray(test_y)).mean())


def dataset_channel_order(dataset_cfg: dict) -> str:
    from mmspatial.evaluation.spatial_reasoning.common import dataset_channel_order as order
    return order(dataset_cfg)


def load_data(args) -> Dict[str, np.ndarray]:
    """uint8 (N, H, W, 3) images and labels of the train and test splits, and ``channel_order``: the
    images' order as the dataset gives them (RGB for every source here), which the probe passes on."""
    if args.data in ('cifar10', 'cifar100-20', 'stl10'):
        from mmpretrain.registry import DATASETS

        import mmspatial  # noqa: F401
        kind = dict(cifar10='CIFAR10', stl10='STL10')[args.data] if args.data != 'cifar100-20' \
            else 'CIFAR100_20'
        out = {}
        for split, key in ((args.train_split or 'train', 'train'), (args.test_split or 'test', 'test')):
            ds = DATASETS.build(dict(type=kind, data_root=args.data_root, split=split))
            infos = [ds.get_data_info(i) for i in range(len(ds))]
            out[f'{key}_images'] = np.stack([i['img'] for i in infos])
            out[f'{key}_labels'] = np.array([i['gt_label'] for i in infos])
        out['channel_order'] = dataset_channel_order(dict(type=kind))
        return out
    path = SHARED_NPZ if args.data == 'cifar10_subset' else args.data
    if not osp.isfile(path):
        raise FileNotFoundError(f'{path} not found')
    train, test = args.train_split or 'train', args.test_split or 'val'
    with np.load(path) as d:
        return dict(
            train_images=d[f'{train}_images'],
            train_labels=d[f'{train}_labels'],
            test_images=d[f'{test}_images'],
            test_labels=d[f'{test}_labels'],
            channel_order=dataset_channel_order(dict(type='NpzImageDataset')))


def resize(images: np.ndarray, size: Optional[int]) -> np.ndarray:
    """The reference's ``Resize(size)`` (PIL bilinear) when the data is not at the model's size."""
    if not size or images.shape[1:3] == (size, size):
        return images
    from PIL import Image
    return np.stack([np.asarray(Image.fromarray(im).resize((size, size), Image.BILINEAR)) for im in images])


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint', help="checkpoint file, or 'random' for the initialisation")
    parser.add_argument('--data', default='cifar10_subset')
    parser.add_argument('--data-root', default='')
    parser.add_argument('--train-split')
    parser.add_argument('--test-split')
    parser.add_argument('--img-size', type=int, help='resize images to this size first')
    parser.add_argument('--epochs', type=int, default=100)
    parser.add_argument('--runs', type=int, default=1)
    parser.add_argument('--no-shuffle', action='store_true', help="the reference's unshuffled loader")
    parser.add_argument('--max-train', type=int, help='use the first N train images (smoke tests)')
    parser.add_argument('--batch-size', type=int, default=256, help='feature extraction batch')
    parser.add_argument('--out', help='write the results as JSON')
    args = parser.parse_args(argv)

    sys.path.insert(0, PROJECT_ROOT)
    from mmspatial.evaluation.knn import knn_accuracy
    from mmspatial.evaluation.spatial_reasoning.common import load_frozen_backbone

    data = load_data(args)
    if args.max_train:
        keep = np.random.default_rng(0).permutation(len(data['train_labels']))[:args.max_train]
        data['train_images'], data['train_labels'] = data['train_images'][keep], data['train_labels'][keep]
    frozen = load_frozen_backbone(args.config, args.checkpoint)
    # the arrays' channel order comes with the data; embed() flips them only if training saw the other
    # order (issue 14: RGB arrays fed as if BGR evaluated trained models on swapped channels)
    start = time.time()
    feats = {
        k:
        frozen.embed(
            resize(data[f'{k}_images'], args.img_size), batch_size=args.batch_size, channel_order=data['channel_order'])
        for k in ('train', 'test')
    }
    extract_s = time.time() - start
    train_x, test_x = standardize(feats['train'], feats['test'])
    num_classes = int(max(data['train_labels'].max(), data['test_labels'].max())) + 1
    accs = [
        logistic_regression(
            train_x,
            data['train_labels'],
            test_x,
            data['test_labels'],
            num_classes,
            epochs=args.epochs,
            shuffle=not args.no_shuffle,
            seed=run) for run in range(args.runs)
    ]
    knn = knn_accuracy(
        torch.as_tensor(feats['train']).float(),
        torch.as_tensor(data['train_labels']),
        torch.as_tensor(feats['test']).float(),
        torch.as_tensor(data['test_labels']),
        num_classes=num_classes,
        topk=(1, ))
    result = dict(
        config=args.config,
        checkpoint=args.checkpoint,
        data=args.data,
        feature_dim=int(train_x.shape[1]),
        num_train=int(len(train_x)),
        num_test=int(len(test_x)),
        linear_top1=[100 * a for a in accs],
        linear_top1_mean=100 * float(np.mean(accs)),
        linear_top1_std=100 * float(np.std(accs)),
        linear_top1_best=100 * max(accs),
        knn_top1=knn['top1'],
        extract_s=extract_s)
    print('| config | checkpoint | linear top-1 (mean ± std, best of runs) | kNN top-1 |')
    print('|---|---|---|---|')
    print(f"| {osp.basename(args.config)} | {osp.basename(args.checkpoint)} | "
          f"{result['linear_top1_mean']:.2f} ± {result['linear_top1_std']:.2f} "
          f"({result['linear_top1_best']:.2f}, {args.runs} run(s)) | {knn['top1']:.2f} |")
    if args.out:
        os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
        with open(args.out, 'w') as f:
            json.dump(result, f, indent=2)
    return result


if __name__ == '__main__':
    main()

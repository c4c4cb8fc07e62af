"""Offline weighted-kNN and linear probes of frozen backbones on small labelled datasets.

For every checkpoint (``random`` = the config's own initialisation, seeded) the backbone of ``--config``
is built, the weights under ``--prefix`` loaded, every image embedded once (global average pooling of
the last stage; CLS token for ViTs), and two classifiers evaluated on the test split:

* weighted kNN, k=20, T=0.07 (DINO ``eval_knn.py``; :mod:`mmspatial.evaluation.knn`);
* multinomial logistic regression on standardised features, L-BFGS, L2 penalty chosen on a held-out
  20% of the train split (:mod:`mmspatial.evaluation.linear_probe`).

Datasets (``--data``):

* ``cifar10_subset`` or a ``.npz`` path with ``train_images``/``train_labels``/``val_images``/
  ``val_labels`` (RGB uint8, see ``../shared/data/README.md``): given split;
* an ImageNet-style class-folder directory (e.g. ``../shared/data/flowers128``): stratified
  ``--test-fraction`` split, seeded;
* ``synthetic``: the embedded ``SyntheticScenes`` (label = shape of the largest object), seed 1 for
  train and seed 2 for test.

Example::

    python tools/analysis/knn_probe.py --data cifar10_subset \
        --config configs/byol/byol_resnet18_1xb32-coslr-8e_demo.py \
        --checkpoints random work_dirs/demo/epoch_8.pth --out work_dirs/probe/cifar.json

Prints a Markdown table and writes the results as JSON (``--out``).
"""
import argparse
import json
import os
import os.path as osp
import sys
import time
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch

from mmspatial.evaluation.knn import knn_accuracy
from mmspatial.evaluation.linear_probe import linear_probe_accuracy
from mmspatial.evaluation.spatial_reasoning.common import (dataset_channel_order, load_frozen_backbone, markdown_table,
                                                           prepare_split, resolve_specs, split_train_test)

PROJECT_ROOT = osp.abspath(osp.join(osp.dirname(__file__), '..', '..'))
SHARED_DATA = osp.abspath(osp.join(PROJECT_ROOT, '..', 'shared', 'data'))


def _resize_all(images: np.ndarray, size: Optional[int]) -> np.ndarray:
    if not size or images.shape[1:3] == (size, size):
        return images
    import mmcv
    return np.stack([mmcv.imresize(img, (size, size), interpolation='bicubic') for img in images])


def load_dataset(data: str,
                 img_size: Optional[int] = None,
                 test_fraction: float = 0.2,
                 max_images: Optional[int] = None,
                 seed: int = 0,
                 num_synthetic: int = 512) -> dict:
    """``dict(train_images, train_labels, test_images, test_labels, classes, name)``, images BGR uint8."""
    if data == 'synthetic':
        from mmspatial.datasets.synthetic_scenes import SHAPES, render_scene
        size = img_size or 64

        def render(ds_seed: int, n: int):
            scenes = [render_scene(ds_seed, i, (size, size)) for i in range(n)]
            return (np.stack([s['img'] for s in scenes]), np.array([s['label'] for s in scenes], dtype=np.int64))

        train_images, train_labels = render(1, num_synthetic)
        test_images, test_labels = render(2, max(num_synthetic // 2, 1))
        return dict(
            name='synthetic',
            classes=list(SHAPES),
            train_images=train_images,
            train_labels=train_labels,
            test_images=test_images,
            test_labels=test_labels)
    if data == 'cifar10_subset':
        data = osp.join(SHARED_DATA, 'cifar10_subset', 'cifar10_subset.npz')
    if data.endswith('.npz'):
        if not osp.isfile(data):
            raise FileNotFoundError(f'--data {data!r}: no such file')
        arrays = np.load(data)
        missing = {'train_images', 'train_labels', 'val_images', 'val_labels'} - set(arrays.files)
        if missing:
            raise KeyError(f'--data {data!r} lacks arrays {sorted(missing)}')
        out = dict(
            name=osp.splitext(osp.basename(data))[0],
            classes=[str(c) for c in arrays['classes']] if 'classes' in arrays.files else None)
        for split, src in (('train', 'train'), ('test', 'val')):
            images, labels = arrays[f'{src}_images'], arrays[f'{src}_labels'].astype(np.int64)
            if max_images:  # stratified subsample, same rule as the folder split
                keep, _ = split_train_test(labels, 0.5, seed, max_images * 2)
                images, labels = images[keep], labels[keep]
            out[f'{split}_images'] = _resize_all(images, img_size)
            out[f'{split}_labels'] = labels
        out['channel_order'] = dataset_channel_order(dict(type='NpzImageDataset'))  # as stored: RGB
        return out
    if osp.isdir(data):
        out = prepare_split(data, img_size or 64, test_fraction, seed, max_images)
        out['name'] = osp.basename(osp.normpath(data))
        return out
    raise FileNotFoundError(f"--data {data!r} is not 'synthetic', 'cifar10_subset', an .npz file or "
                            'a class-folder directory')


def probe_checkpoints(dataset: dict,
                      specs: Sequence,
                      prefix: str = 'backbone.',
                      k: int = 20,
                      temperature: float = 0.07,
                      weight_decay: Optional[float] = None,
                      linear_steps: int = 300,
                      batch_size: int = 128,
                      device: str = 'cpu',
                      seed: int = 0) -> List[Dict]:
    """kNN and linear results for every ``(name, config, checkpoint)`` in ``specs``."""
    results = []
    for name, config, checkpoint in specs:
        start = time.perf_counter()
        model = load_frozen_backbone(config, checkpoint, key=prefix, name=name, seed=seed)
        # the images' channel order comes with the data (synthetic scenes and folders: BGR; .npz: RGB)
        order = dataset.get('channel_order', 'bgr')
        train = torch.from_numpy(model.embed(dataset['train_images'], batch_size, device, order)).float()
        test = torch.from_numpy(model.embed(dataset['test_images'], batch_size, device, order)).float()
        train_y = torch.from_numpy(dataset['train_labels'])
        test_y = torch.from_numpy(dataset['test_labels'])
        knn = knn_accuracy(train, train_y, test, test_y, k=k, temperature=temperature)
        linear = linear_probe_accuracy(train, train_y, test, test_y, weight_decay=weight_decay, max_iter=linear_steps)
        # model.info repeats config/checkpoint and adds the missing/unexpected key counts
        results.append(
            dict(
                model.info,
                name=name,
                config=config,
                checkpoint=checkpoint,
                feature_dim=train.shape[1],
                knn_top1=knn['top1'],
                knn_top5=knn['top5'],
                linear_top1=linear['top1'],
                linear_top5=linear['top5'],
                linear_weight_decay=linear['weight_decay'],
                seconds=round(time.perf_counter() - start, 1)))
    return results


def results_table(results: Sequence[Dict]) -> str:
    header = ['checkpoint', 'kNN top-1', 'kNN top-5', 'linear top-1', 'linear top-5', 'L2', 'dim']
    rows = [[
        r['name'], f"{r['knn_top1']:.2f}", f"{r['knn_top5']:.2f}", f"{r['linear_top1']:.2f}", f"{r['linear_top5']:.2f}",
        f"{r['linear_weight_decay']:g}", r['feature_dim']
    ] for r in results]
    return markdown_table(header, rows)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split('\n\n')[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        '--data', required=True, help="'cifar10_subset', 'synthetic', an .npz file or a class-folder directory")
    parser.add_argument(
        '--config',
        nargs='+',
        required=True,
        help='config(s) giving model.backbone: one for all checkpoints or one each')
    parser.add_argument(
        '--checkpoints', nargs='+', required=True, help="checkpoint paths; 'random' = the config's initialisation")
    parser.add_argument('--names', nargs='+', help='display names, one per checkpoint')
    parser.add_argument(
        '--prefix',
        default='backbone.',
        help="state-dict prefix of the backbone (e.g. 'teacher.backbone.' for DINO's "
        "teacher, 'target_net.module.0.' for BYOL's EMA)")
    parser.add_argument(
        '--img-size',
        type=int,
        help='resize images to this square size '
        '(default: keep .npz images; 64 for folders and synthetic)')
    parser.add_argument('--max-images', type=int, help='stratified subsample per split')
    parser.add_argument('--test-fraction', type=float, default=0.2, help='folder datasets only')
    parser.add_argument('--num-synthetic', type=int, default=512, help='synthetic train images')
    parser.add_argument('--k', type=int, default=20)
    parser.add_argument('--temperature', type=float, default=0.07)
    parser.add_argument(
        '--weight-decay', type=float, help='L2 penalty of the linear probe (default: chosen on held-out train)')
    parser.add_argument('--linear-steps', type=int, default=300, help='L-BFGS iterations')
    parser.add_argument('--batch-size', type=int, default=128)
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--out', help='write the results as JSON here')
    return parser.parse_args(argv)


def main(argv=None) -> List[Dict]:
    args = parse_args(argv)
    dataset = load_dataset(args.data, args.img_size, args.test_fraction, args.max_images, args.seed, args.num_synthetic)
    specs = resolve_specs(args.checkpoints, args.config, args.names)
    results = probe_checkpoints(dataset, specs, args.prefix, args.k, args.temperature, args.weight_decay,
                                args.linear_steps, args.batch_size, args.device, args.seed)
    print(f"\n{dataset['name']}: {len(dataset['train_labels'])} train / "
          f"{len(dataset['test_labels'])} test images, kNN k={args.k} T={args.temperature}\n")
    print(results_table(results))
    if args.out:
        os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
        with open(args.out, 'w') as f:
            json.dump(
                dict(
                    data=args.data,
                    dataset=dataset['name'],
                    num_train=int(len(dataset['train_labels'])),
                    num_test=int(len(dataset['test_labels'])),
                    k=args.k,
                    temperature=args.temperature,
                    results=results),
                f,
                indent=2)
        print(f'results written to {args.out}')
    return results


if __name__ == '__main__':
    sys.exit(0 if main() else 1)

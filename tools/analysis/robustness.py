"""Out-of-distribution robustness of classifiers: ImageNet-C-style corruptions, mCE, ImageNet-R/-A/-Sketch.

Two kinds of classifier, compared side by side (the first, or ``--baseline``, is the mCE baseline):

* **probe** (default): ``--configs`` gives a backbone (any of our pretraining configs or mmpretrain's),
  ``--checkpoints`` its weights (``random`` = the config's seeded initialisation). The frozen backbone
  embeds the clean train split of ``--data`` and a multinomial logistic regression is fitted on the
  standardised features (``mmspatial.evaluation.linear_probe``, the offline linear probe); that
  classifier is then evaluated on the clean and corrupted test split.
* **classifier** (``--classifier``): ``--configs`` are mmpretrain ``ImageClassifier`` configs and
  ``--checkpoints`` trained classifiers (e.g. a linear-probe run of
  ``configs/benchmarks/classification/*_in1k.py``); test images are resized and cropped by the config's
  own test pipeline. Only this mode can score ImageNet-R / -A / -Sketch (``--imagenet-r DIR`` ...):
  1000-way logits, restricted to the 200 official classes for -R and -A
  (``mmspatial.evaluation.robustness_data``).

Corruptions: the 15 ImageNet-C corruptions x severities 1-5 by default (``--corruptions``,
``--severities`` select), applied after resizing, seeded per image, generated once and shared by all
models. Metrics (definitions in ``mmspatial.evaluation.robustness`` and docs/downstream.md): accuracy per
corruption and severity, mean corruption accuracy (mCA), CE / mCE and relative CE / mCE against the
baseline model (normalised by the baseline's errors, as ImageNet-C normalises by AlexNet's).

Writes ``<out-dir>/robustness.json``, ``robustness.md`` and ``robustness_severity.png`` (accuracy vs
severity, one panel per corruption, one line per model).

Example (probe mode, two checkpoints, 3 corruptions at severity 3)::

    python tools/analysis/robustness.py ../shared/data/flowers128 \
        --configs configs/sp/byol_r18_1xb32-cpu_flowers128.py \
        --checkpoints work_dirs/byol/iter_300.pth work_dirs/byol_sp/iter_300.pth --names BYOL BYOL+SP \
        --corruptions gaussian_noise motion_blur fog --severities 3 --out-dir work_dirs/robustness
"""
import argparse
import json
import os
import os.path as osp
import sys
import time
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch

from mmspatial.evaluation.robustness import (COMMON_CORRUPTIONS, SEVERITIES, check_variant_classes, corrupt,
                                             corruption_summary, require_imagecorruptions, subset_logits)
from mmspatial.evaluation.spatial_reasoning.common import (IMG_EXTENSIONS, markdown_table, prepare_split, resolve_specs,
                                                           split_train_test)

PROJECT_ROOT = osp.abspath(osp.join(osp.dirname(__file__), '..', '..'))
SHARED_DATA = osp.abspath(osp.join(PROJECT_ROOT, '..', 'shared', 'data'))


# ---------------------------------------------------------------------------------------------- data
def load_split(data: str, img_size: int, test_fraction: float, max_images: Optional[int], seed: int) -> dict:
    """Train/test images (BGR uint8, ``img_size`` squared) and labels of a folder or an .npz file."""
    import mmcv
    if data == 'cifar10_subset':
        data = osp.join(SHARED_DATA, 'cifar10_subset', 'cifar10_subset.npz')
    if data.endswith('.npz'):
        if not osp.isfile(data):
            raise FileNotFoundError(f'--data {data!r}: no such file')
        arrays = np.load(data)
        missing = {'train_images', 'train_labels', 'val_images', 'val_labels'} - set(arrays.files)
        if missing:
            raise KeyError(f'--data {data!r} lacks arrays {sorted(missing)}')
        out = dict(name=osp.splitext(osp.basename(data))[0])
        for split, src in (('train', 'train'), ('test', 'val')):
            images, labels = arrays[f'{src}_images'], arrays[f'{src}_labels'].astype(np.int64)
            if max_images:
                keep, _ = split_train_test(labels, 0.5, seed, max_images * 2)
                images, labels = images[keep], labels[keep]
            images = images[..., ::-1]  # RGB -> BGR
            if images.shape[1:3] != (img_size, img_size):
                images = np.stack([mmcv.imresize(im, (img_size, img_size), interpolation='bicubic') for im in images])
            out[f'{split}_images'], out[f'{split}_labels'] = np.ascontiguousarray(images), labels
        return out
    if osp.isdir(data):
        out = prepare_split(data, img_size, test_fraction, seed, max_images)
        out['name'] = osp.basename(osp.normpath(data))
        return out
    raise FileNotFoundError(f"--data {data!r} is not 'cifar10_subset', an .npz file or a class-folder directory")


def corrupt_all(images_bgr: np.ndarray, name: str, severity: int, seed: int) -> np.ndarray:
    """Corrupt every image (RGB inside, as ImageNet-C), seeded by (seed, image index)."""
    out = np.empty_like(images_bgr)
    for i, img in enumerate(images_bgr):
        rgb = np.ascontiguousarray(img[..., ::-1])
        out[i] = corrupt(rgb, name, severity, seed=seed * 1_000_003 + i)[..., ::-1]
    return out


# -------------------------------------------------------------------------------------------- models
class ProbeClassifier:
    """Frozen backbone + logistic regression fitted on the clean train split."""

    def __init__(self, name: str, config: str, checkpoint: str, prefix: str, train_images: np.ndarray,
                 train_labels: np.ndarray, seed: int, batch_size: int, weight_decay: Optional[float]):
        from mmspatial.evaluation.linear_probe import fit_logistic_regression, select_weight_decay
        from mmspatial.evaluation.spatial_reasoning.common import load_frozen_backbone
        self.name, self.batch_size = name, batch_size
        self.model = load_frozen_backbone(config, checkpoint, key=prefix, name=name, seed=seed)
        feats = torch.from_numpy(self.model.embed(train_images, batch_size)).double()
        self.mean, self.std = feats.mean(0), feats.std(0, unbiased=False) + 1e-6
        x, y = (feats - self.mean) / self.std, torch.from_numpy(train_labels)
        num_classes = int(y.max()) + 1
        if weight_decay is None:
            weight_decay = select_weight_decay(x, y, num_classes, seed=seed)
        self.weight_decay = weight_decay
        self.weight, self.bias = fit_logistic_regression(x, y, num_classes, weight_decay)
        self.info = dict(self.model.info, mode='probe', linear_weight_decay=weight_decay)

    def logits(self, images_bgr: np.ndarray) -> torch.Tensor:
        feats = torch.from_numpy(self.model.embed(images_bgr, self.batch_size)).double()
        return ((feats - self.mean) / self.std) @ self.weight + self.bias


class ConfigClassifier:
    """An mmpretrain classifier config + checkpoint; images prepared by the config's test pipeline."""

    def __init__(self, name: str, config: str, checkpoint: str, batch_size: int, device: str):
        from mmengine.config import Config
        from mmengine.dataset import Compose
        from mmengine.registry import DefaultScope
        from mmpretrain.apis import init_model

        import mmspatial  # noqa: F401
        cfg = Config.fromfile(config)
        self.name, self.batch_size, self.device = name, batch_size, device
        with DefaultScope.overwrite_default_scope('mmpretrain'):
            self.model = init_model(cfg, None if checkpoint == 'random' else checkpoint, device=device)
            steps = [
                t for t in cfg.test_dataloader.dataset.pipeline if t['type'] not in ('LoadImageFromFile', 'PackInputs')
            ]
            self.prepare_pipeline = Compose(steps)
        self.info = dict(config=config, checkpoint=checkpoint, mode='classifier')

    def prepare(self, img_bgr: np.ndarray) -> np.ndarray:
        """Resize / crop one BGR image as the config's test pipeline does (before corruption)."""
        from mmengine.registry import DefaultScope
        with DefaultScope.overwrite_default_scope('mmpretrain'):
            res = self.prepare_pipeline(dict(img=img_bgr, img_shape=img_bgr.shape[:2], ori_shape=img_bgr.shape[:2]))
        return res['img']

    @torch.no_grad()
    def logits(self, images_bgr: np.ndarray) -> torch.Tensor:
        out = []
        for start in range(0, len(images_bgr), self.batch_size):
            batch = [
                torch.from_numpy(np.ascontiguousarray(im.transpose(2, 0, 1)))
                for im in images_bgr[start:start + self.batch_size]
            ]
            data = self.model.data_preprocessor(dict(inputs=batch), False)
            out.append(self.model(data['inputs'], mode='tensor').double().cpu())
        return torch.cat(out)


def accuracy(logits: torch.Tensor, labels: np.ndarray) -> float:
    return float((logits.argmax(1).numpy() == labels).mean())


# ------------------------------------------------------------------------------------------ evaluate
def evaluate_corruptions(models: Sequence,
                         images: np.ndarray,
                         labels: np.ndarray,
                         corruptions: Sequence[str],
                         severities: Sequence[int],
                         seed: int,
                         progress: bool = True) -> Tuple[Dict[str, float], Dict[str, Dict]]:
    """Clean accuracy and ``acc[model][corruption][severity]``; each corrupted set is made once."""
    from mmengine.utils import ProgressBar
    clean = {m.name: accuracy(m.logits(images), labels) for m in models}
    acc = {m.name: {c: {} for c in corruptions} for m in models}
    bar = ProgressBar(len(corruptions) * len(severities)) if progress else None
    for c in corruptions:
        for s in severities:
            corrupted = corrupt_all(images, c, s, seed)
            for m in models:
                acc[m.name][c][s] = accuracy(m.logits(corrupted), labels)
            if bar:
                bar.update()
    if bar:
        sys.stdout.write('\n')
    return clean, acc


def list_variant(root: str, variant: str) -> Tuple[List[str], np.ndarray]:
    """Image paths and labels of an ImageNet-R/-A/-Sketch folder copy (labels = sorted folder order)."""
    if not osp.isdir(root):
        raise FileNotFoundError(f'{variant} folder {root!r} does not exist')
    classes = sorted(d for d in os.listdir(root) if osp.isdir(osp.join(root, d)))
    check_variant_classes(variant, classes, root)
    paths, labels = [], []
    for label, cls in enumerate(classes):
        for dirpath, _, files in sorted(os.walk(osp.join(root, cls), followlinks=True)):
            for f in sorted(files):
                if f.lower().endswith(IMG_EXTENSIONS):
                    paths.append(osp.join(dirpath, f))
                    labels.append(label)
    if not paths:
        raise ValueError(f'{variant} folder {root!r} has no images')
    return paths, np.asarray(labels, dtype=np.int64)


def evaluate_variant(model: 'ConfigClassifier',
                     root: str,
                     variant: str,
                     max_images: Optional[int],
                     seed: int,
                     progress: bool = True) -> Dict:
    import mmcv
    from mmengine.utils import ProgressBar
    paths, labels = list_variant(root, variant)
    if max_images and max_images < len(paths):
        keep, _ = split_train_test(labels, 0.5, seed, max_images * 2)
        paths, labels = [paths[i] for i in keep], labels[keep]
    correct, bar = 0, ProgressBar(len(paths)) if progress else None
    for start in range(0, len(paths), model.batch_size):
        chunk = paths[start:start + model.batch_size]
        imgs = [model.prepare(mmcv.imread(p, channel_order='bgr')) for p in chunk]
        shapes = {im.shape for im in imgs}
        if len(shapes) != 1:
            raise ValueError(f"the config's test pipeline gives images of several sizes {shapes}: add a crop")
        logits = subset_logits(model.logits(np.stack(imgs)), variant)
        correct += int((logits.argmax(1).numpy() == labels[start:start + len(chunk)]).sum())
        if bar:
            bar.update(len(chunk))
    if bar:
        sys.stdout.write('\n')
    return dict(accuracy=correct / len(paths), num_images=len(paths), root=root)


# ------------------------------------------------------------------------------------------- report
def report_markdown(results: Dict) -> str:
    models = results['models']
    lines = [f"# Robustness on {results['dataset']} ({results['num_test']} test images)\n"]
    header = ['model', 'clean acc', 'mCA', 'mCE', 'rel. mCE']
    rows = []
    for name, r in models.items():
        s = r['summary']
        rows.append([
            name, f"{100 * s['clean_acc']:.2f}", f"{100 * s['mCA']:.2f}" if s['mCA'] is not None else '-',
            f"{100 * s['mCE']:.1f}" if 'mCE' in s else '-',
            f"{100 * s['relative_mCE']:.1f}" if 'relative_mCE' in s else '-'
        ])
    lines += [
        f"Baseline for mCE: {results['baseline']}. Accuracies in %, CE in % of the baseline's.\n",
        markdown_table(header, rows)
    ]
    corruptions = results['corruptions']
    if corruptions:
        lines.append(f"\nAccuracy (%) per corruption, mean over severities {results['severities']}:\n")
        rows = [[name] + [f"{100 * r['summary']['per_corruption_acc'][c]:.1f}" for c in corruptions]
                for name, r in models.items()]
        lines.append(markdown_table(['model'] + list(corruptions), rows))
    variants = sorted({v for r in models.values() for v in r.get('variants', {})})
    if variants:
        lines.append('\nImageNet variants, top-1 accuracy (%):\n')
        rows = [[name] +
                [f"{100 * r['variants'][v]['accuracy']:.2f}" if v in r.get('variants', {}) else '-' for v in variants]
                for name, r in models.items()]
        lines.append(markdown_table(['model'] + variants, rows))
    return '\n'.join(lines)


def plot_severity(results: Dict, path: str) -> Optional[str]:
    """Accuracy vs severity, one panel per corruption, one line per model (clean accuracy at 0)."""
    corruptions, severities = results['corruptions'], results['severities']
    if not corruptions:
        return None
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    cols = min(5, len(corruptions))
    rows = (len(corruptions) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.6 * rows), squeeze=False, sharey=True)
    for ax, c in zip(axes.flat, corruptions):
        for name, r in results['models'].items():
            xs = [0] + list(severities)
            ys = [100 * r['summary']['clean_acc']] + [100 * r['accuracy'][c][str(s)] for s in severities]
            ax.plot(xs, ys, marker='o', label=name)
        ax.set_title(c.replace('_', ' '), fontsize=9)
        ax.set_xticks([0] + list(severities))
        ax.grid(alpha=0.3)
    for ax in axes.flat[len(corruptions):]:
        ax.axis('off')
    for ax in axes[:, 0]:
        ax.set_ylabel('top-1 (%)')
    for ax in axes[-1]:
        ax.set_xlabel('severity (0 = clean)')
    axes.flat[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


# --------------------------------------------------------------------------------------------- main
def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split('\n\n')[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        'data',
        nargs='?',
        help="class-folder directory, 'cifar10_subset' or an .npz file "
        '(ImageNet-C-style corruptions of its test split); optional in classifier mode')
    parser.add_argument('--configs', nargs='+', required=True, help='one config for all checkpoints or one each')
    parser.add_argument('--checkpoints', nargs='+', required=True, help="checkpoints; 'random' = seeded init")
    parser.add_argument('--names', nargs='+', help='display names, one per checkpoint')
    parser.add_argument(
        '--classifier',
        action='store_true',
        help='configs are mmpretrain classifiers (default: backbones + a fitted linear probe)')
    parser.add_argument('--baseline', help='name of the mCE baseline (default: the first model)')
    parser.add_argument(
        '--corruptions',
        nargs='*',
        default=list(COMMON_CORRUPTIONS),
        help='subset of the 15 ImageNet-C corruptions (none: skip corruptions)')
    parser.add_argument('--severities', nargs='+', type=int, default=list(SEVERITIES))
    parser.add_argument('--prefix', default='backbone.', help='backbone key prefix in the checkpoints (probe)')
    parser.add_argument('--img-size', type=int, default=96, help='square size of the images (probe mode)')
    parser.add_argument('--max-images', type=int, help='stratified subsample of each split')
    parser.add_argument('--test-fraction', type=float, default=0.2)
    parser.add_argument('--weight-decay', type=float, help='probe L2 penalty (default: chosen on held-out train)')
    parser.add_argument('--imagenet-r', help='ImageNet-R folder (classifier mode)')
    parser.add_argument('--imagenet-a', help='ImageNet-A folder (classifier mode)')
    parser.add_argument('--imagenet-sketch', help='ImageNet-Sketch folder (classifier mode)')
    parser.add_argument('--batch-size', type=int, default=64)
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--no-progress', action='store_true')
    parser.add_argument('--out-dir', default='work_dirs/robustness')
    return parser.parse_args(argv)


def main(argv=None) -> Dict:
    args = parse_args(argv)
    bad = [c for c in args.corruptions if c not in COMMON_CORRUPTIONS]
    if bad:
        raise SystemExit(f'unknown corruptions {bad}; choose from {list(COMMON_CORRUPTIONS)}')
    bad = [s for s in args.severities if s not in SEVERITIES]
    if bad:
        raise SystemExit(f'severities must be in {list(SEVERITIES)}, got {bad}')
    variants = {v: getattr(args, v.replace('-', '_')) for v in ('imagenet-r', 'imagenet-a', 'imagenet-sketch')}
    variants = {k: v for k, v in variants.items() if v}
    if variants and not args.classifier:
        raise SystemExit('ImageNet-R/-A/-Sketch need 1000-way classifiers: add --classifier with mmpretrain '
                         'classifier configs')
    if args.corruptions:
        require_imagecorruptions()  # fail before any model is built
    if not args.data and not variants:
        raise SystemExit('give a dataset (positional) for the corruptions, or --imagenet-r/-a/-sketch')
    specs = resolve_specs(args.checkpoints, args.configs, args.names)
    progress = not args.no_progress
    start = time.perf_counter()

    dataset, models = None, []
    if args.classifier:
        models = [ConfigClassifier(n, c, k, args.batch_size, args.device) for n, c, k in specs]
        if args.data:
            dataset = load_split(args.data, 256, args.test_fraction, args.max_images, args.seed)
            prepared = np.stack([models[0].prepare(im) for im in dataset['test_images']])
            dataset['test_images'] = prepared
    elif args.data:
        dataset = load_split(args.data, args.img_size, args.test_fraction, args.max_images, args.seed)
        models = [
            ProbeClassifier(n, c, k, args.prefix, dataset['train_images'], dataset['train_labels'], args.seed,
                            args.batch_size, args.weight_decay) for n, c, k in specs
        ]
    else:
        raise SystemExit('probe mode needs a dataset (positional argument)')

    names = [m.name for m in models]
    baseline = args.baseline or names[0]
    if baseline not in names:
        raise SystemExit(f'--baseline {baseline!r} is not one of the names {names}')
    results = dict(
        dataset=dataset['name'] if dataset else None,
        data=args.data,
        baseline=baseline,
        corruptions=list(args.corruptions) if dataset else [],
        severities=list(args.severities),
        seed=args.seed,
        num_test=int(len(dataset['test_labels'])) if dataset else 0,
        num_train=int(len(dataset['train_labels'])) if dataset else 0,
        models={})
    for m in models:
        results['models'][m.name] = dict(m.info)
    if dataset is not None:
        clean, acc = evaluate_corruptions(models, dataset['test_images'], dataset['test_labels'],
                                          results['corruptions'], args.severities, args.seed, progress)
        for name in names:
            base = (acc[baseline], clean[baseline]) if results['corruptions'] else (None, None)
            results['models'][name].update(
                clean_acc=clean[name],
                accuracy={
                    c: {
                        str(s): a
                        for s, a in by.items()
                    }
                    for c, by in acc[name].items()
                },
                summary=corruption_summary(acc[name], clean[name], *base))
    for variant, root in variants.items():
        for m in models:
            results['models'][m.name].setdefault('variants',
                                                 {})[variant] = evaluate_variant(m, root, variant, args.max_images,
                                                                                 args.seed, progress)
    for r in results['models'].values():
        r.setdefault('summary', dict(clean_acc=float('nan'), mCA=None, per_corruption_acc={}))
    results['seconds'] = round(time.perf_counter() - start, 1)

    os.makedirs(args.out_dir, exist_ok=True)
    md = report_markdown(results)
    with open(osp.join(args.out_dir, 'robustness.json'), 'w') as f:
        json.dump(results, f, indent=2)
    with open(osp.join(args.out_dir, 'robustness.md'), 'w') as f:
        f.write(md)
    plot = plot_severity(results, osp.join(args.out_dir, 'robustness_severity.png'))
    print(md)
    print(f"written: {osp.join(args.out_dir, 'robustness.json')}, robustness.md" + (f', {plot}' if plot else ''))
    return results


if __name__ == '__main__':
    main()

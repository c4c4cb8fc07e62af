"""Plot the loss and kNN curves of a training run into one PNG.

mmengine's ``LocalVisBackend`` writes ``<work_dir>/<timestamp>/vis_data/scalars.json``, one JSON object per
line (``{"loss": ..., "lr": ..., "epoch": ..., "iter": ..., "step": ...}`` from the logger, and
``{"knn/top1": ..., "knn/top5": ..., "step": ...}`` from ``KNNMonitorHook``). All runs of the work dir
(a resumed run starts a new timestamp folder) are merged in time order; a later value for the same key
and step wins. Panels: every ``*loss*`` key, every ``knn/top*`` key (if any), and ``lr``.

Example::

    python tools/analysis/plot_curves.py work_dirs/demo --out work_dirs/demo/curves.png
"""
import argparse
import glob
import json
import os.path as osp
from collections import defaultdict
from typing import Dict, List, Tuple

import matplotlib

matplotlib.use('Agg')  # files only, no display needed
import matplotlib.pyplot as plt  # noqa: E402

Series = Dict[str, List[Tuple[int, float]]]


def find_scalar_files(path: str) -> List[str]:
    """``scalars.json`` files of a work dir (sorted by run timestamp), or the file itself."""
    if osp.isfile(path):
        return [path]
    if not osp.isdir(path):
        raise FileNotFoundError(f'{path!r} is neither a work dir nor a scalars.json file')
    files = sorted(glob.glob(osp.join(path, '*', 'vis_data', 'scalars.json')))
    if not files:
        raise FileNotFoundError(f'no <timestamp>/vis_data/scalars.json under {path!r}: was the run '
                                "started with vis_backends=[dict(type='LocalVisBackend'), ...]?")
    return files


def load_scalars(files: List[str]) -> Series:
    """``{key: [(step, value), ...]}`` sorted by step, merged over files."""
    merged: Dict[str, Dict[int, float]] = defaultdict(dict)
    for path in files:
        with open(path) as f:
            for line_no, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as err:
                    raise ValueError(f'{path}:{line_no}: not JSON ({err})') from None
                step = record.get('step')
                if step is None:
                    continue
                for key, value in record.items():
                    if key != 'step' and isinstance(value, (int, float)):
                        merged[key][int(step)] = float(value)
    return {k: sorted(v.items()) for k, v in merged.items()}


def plot_curves(series: Series, out: str, title: str = '') -> List[str]:
    """Write the figure to ``out``; returns the panel names that were drawn."""
    panels = []
    losses = sorted(k for k in series if 'loss' in k)
    knn = sorted(k for k in series if k.startswith('knn/top'))
    if losses:
        panels.append(('loss', losses, None))
    if knn:
        panels.append(('kNN accuracy (%)', knn, (0, 100)))
    if 'lr' in series:
        panels.append(('learning rate', ['lr'], None))
    if not panels:
        raise ValueError(f'nothing to plot: no loss, knn/top* or lr keys (keys: {sorted(series)})')
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 3.8), squeeze=False)
    for ax, (name, keys, ylim) in zip(axes[0], panels):
        for key in keys:
            steps, values = zip(*series[key])
            ax.plot(steps, values, marker='o' if len(steps) < 30 else None, markersize=3, label=key)
        ax.set_title(name)
        ax.set_xlabel('iteration')
        if ylim:
            ax.set_ylim(*ylim)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return [p[0] for p in panels]


def main(argv=None) -> str:
    parser = argparse.ArgumentParser(description='Plot loss and kNN curves of a work dir')
    parser.add_argument('work_dir', help='work dir (or a scalars.json file)')
    parser.add_argument('--out', help='PNG path (default: <work_dir>/curves.png)')
    parser.add_argument('--title', default='')
    args = parser.parse_args(argv)
    files = find_scalar_files(args.work_dir)
    series = load_scalars(files)
    out = args.out or osp.join(args.work_dir if osp.isdir(args.work_dir) else osp.dirname(args.work_dir), 'curves.png')
    plot_curves(series, out, args.title or osp.basename(osp.normpath(args.work_dir)))
    for key in sorted(k for k in series if k.startswith('knn/')):
        print(f'{key}: ' + ', '.join(f'{s}: {v:.2f}' for s, v in series[key]))
    print(f'curves written to {out}')
    return out


if __name__ == '__main__':
    main()

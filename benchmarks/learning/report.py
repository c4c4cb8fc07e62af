"""Aggregation over seeds, the issue-14 targets, and ``docs/evidence.md`` with the kNN-curve picture."""
import json
import math
import os
import os.path as osp
from collections import OrderedDict
from typing import Dict, List, Optional, Tuple

from protocol import DATASETS, probe_spec

ARM_ORDER = {'random_init': 0, 'random_init_bn_recal': 1, 'trained': 2}
GAIN_TARGET = 8.0  # points of kNN top-1 above random init (issue 14)


def mean_std(values: List[float]) -> Tuple[Optional[float], Optional[float]]:
    vals = [v for v in values if v is not None]
    if not vals:
        return None, None
    m = sum(vals) / len(vals)
    if len(vals) < 2:
        return m, None
    return m, math.sqrt(sum((v - m)**2 for v in vals) / (len(vals) - 1))


def _row_name(r: dict) -> str:
    return r['method'] if not r.get('ablation') else f"ablation: {r['ablation']}"


def aggregate(recs: List[dict]) -> Tuple[List[dict], dict]:
    """Rows (one per method/backbone/dataset/arm, mean and std over seeds) and the details dict."""
    groups: Dict[tuple, List[dict]] = OrderedDict()
    for r in sorted(recs, key=lambda r: (r['dataset'], r['backbone'], ARM_ORDER[r['arm']], _row_name(r), r['seed'])):
        # the budget is part of the key: seeds of different budgets are never averaged together
        # so are precisions (a bf16 arm gets about twice the iterations of an fp32 one per CPU-s)
        key = (_row_name(r), r['backbone'], r['dataset'], r['arm'], r['budget_cpu_s'], bool(r.get('amp')))
        groups.setdefault(key, []).append(r)
    rows = []
    for (name, backbone, dataset, arm, _, amp), rs in groups.items():
        row = dict(
            method=name,
            backbone=backbone,
            dataset=dataset,
            arm=arm,
            budget_cpu_s=rs[0]['budget_cpu_s'],
            iterations=round(sum(r.get('iterations') or 0 for r in rs) / len(rs), 1),
            seeds=sorted(r['seed'] for r in rs),
            amp=amp)
        for key, out in (('knn20', 'knn_top1'), ('linear', 'linear_top1'), ('knn200', 'knn200_top1'),
                         ('loc_r2_xy', 'loc_r2_xy'), ('loc_r2_scale', 'loc_r2_scale'), ('cpu_s', 'train_cpu_s'),
                         ('wall_s', 'train_wall_s'), ('probe_cpu_s', 'probe_cpu_s')):
            m, s = mean_std([r.get(key) for r in rs])
            row[f'{out}_mean'], row[f'{out}_std'] = m, s
        row['knn_queries'] = rs[0].get('knn_queries')
        row['bank'] = rs[0].get('bank')
        row['ablation'] = rs[0].get('ablation')
        row['carried_from'] = rs[0].get('carried_from')  # records measured by an earlier run, kept as they are
        rows.append(row)
    details = dict(rows=rows, records=recs, targets=targets(rows))
    return rows, details


def _find(rows, dataset, backbone=None, arm='trained', method=None):
    for r in rows:
        if r['dataset'] == dataset and r['arm'] == arm and not r.get('ablation') and \
                (backbone is None or r['backbone'] == backbone) and (method is None or r['method'] == method):
            return r
    return None


def _fmt(m, s=None, digits=1):
    if m is None:
        return 'n/a'
    return f'{m:.{digits}f}' + ('' if s is None else f' ± {s:.{digits}f}')


def targets(rows: List[dict]) -> List[dict]:
    """Every issue-14 target with met / not met / not measured and the numbers behind it."""
    out = []
    for r in rows:
        if r['arm'] != 'trained' or r.get('ablation'):
            continue
        for floor_arm in ('random_init', 'random_init_bn_recal'):
            f = _find(rows, r['dataset'], r['backbone'], floor_arm, 'random init')
            if f is None:
                continue
            gain = r['knn_top1_mean'] - f['knn_top1_mean']
            spread = math.sqrt((r['knn_top1_std'] or 0)**2 + (f['knn_top1_std'] or 0)**2)
            enough_seeds = len(r['seeds']) >= 3 and len(f['seeds']) >= 3
            met = gain >= GAIN_TARGET and gain > 2 * spread and enough_seeds
            out.append(
                dict(
                    target=f'kNN >= {floor_arm} + {GAIN_TARGET:g}, outside 2 std',
                    subject=f"{r['method']} ({r['backbone']}, {r['dataset']})",
                    status='met' if met else 'not met',
                    numbers=(f"{_fmt(r['knn_top1_mean'], r['knn_top1_std'])} vs "
                             f"{_fmt(f['knn_top1_mean'], f['knn_top1_std'])}"
                             f" = {gain:+.1f} (2 std of the difference: {2 * spread:.1f}; seeds {len(r['seeds'])}/"
                             f"{len(f['seeds'])})")))
    for ours, base in (('ScatSimCLR-8 +rotation', 'SimCLR (mmpretrain)'), ('SCRL', 'BYOL (mmpretrain)'),
                       ('BYOL+SP', 'BYOL (mmpretrain)')):
        o, b = _find(rows, 'cifar10_subset', method=ours), _find(rows, 'cifar10_subset', method=base)
        if o is None or b is None:
            out.append(
                dict(
                    target='ours within 1 std of, or above, mmpretrain base (kNN, cifar10_subset)',
                    subject=f'{ours} vs {base}',
                    status='not measured',
                    numbers=''))
            continue
        std = max(o['knn_top1_std'] or 0, b['knn_top1_std'] or 0)
        met = o['knn_top1_mean'] >= b['knn_top1_mean'] - std and len(o['seeds']) >= 3 and len(b['seeds']) >= 3
        out.append(
            dict(
                target='ours within 1 std of, or above, mmpretrain base (kNN, cifar10_subset)',
                subject=f'{ours} vs {base}',
                status='met' if met else 'not met',
                numbers=f"{_fmt(o['knn_top1_mean'], o['knn_top1_std'])} vs "
                f"{_fmt(b['knn_top1_mean'], b['knn_top1_std'])}"))
    for dataset, spatial, base in (('cifar10_subset', 'SCRL', 'BYOL (mmpretrain)'),
                                   ('flowers128', 'SCRL', 'BYOL (mmpretrain)'), ('flowers128', 'SelfPatch', 'DINO')):
        s, b = _find(rows, dataset, method=spatial), _find(rows, dataset, method=base)
        if s is None or b is None or s.get('loc_r2_xy_mean') is None or b.get('loc_r2_xy_mean') is None:
            out.append(
                dict(
                    target='spatial >= base on the localisation probe (position R^2)',
                    subject=f'{spatial} vs {base} ({dataset})',
                    status='not measured',
                    numbers=''))
            continue
        met = s['loc_r2_xy_mean'] >= b['loc_r2_xy_mean']
        spread = math.sqrt((s['loc_r2_xy_std'] or 0)**2 + (b['loc_r2_xy_std'] or 0)**2)
        inside = abs(s['loc_r2_xy_mean'] - b['loc_r2_xy_mean']) <= spread
        out.append(
            dict(
                target='spatial >= base on the localisation probe (position R^2)',
                subject=f'{spatial} vs {base} ({dataset})',
                status='met' if met else 'not met',
                numbers=f"{_fmt(s['loc_r2_xy_mean'], s['loc_r2_xy_std'], 3)} vs "
                f"{_fmt(b['loc_r2_xy_mean'], b['loc_r2_xy_std'], 3)}" +
                (' (difference inside 1 std of the difference: not resolved)' if inside else '')))
    return out


# ------------------------------------------------------------------------------------------ render
def plot_curves(records: List[dict], image: str) -> Optional[str]:
    curves = [r for r in records if r['arm'] == 'trained' and len(r.get('curve') or []) > 1 and not r.get('ablation')]
    if not curves:
        return None
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    datasets = sorted({r['dataset'] for r in curves})
    fig, axes = plt.subplots(1, len(datasets), figsize=(6 * len(datasets), 4), squeeze=False)
    floors = {
        (r['dataset'], r['backbone']): r['knn20']
        for r in records if r['arm'] == 'random_init' and r['seed'] == 0
    }
    for ax, ds in zip(axes[0], datasets):
        for r in sorted(curves, key=lambda r: r['method']):
            if r['dataset'] != ds:
                continue
            pts = [(0.0, floors.get((ds, r['backbone'])))] + [(c['cpu_s'], c['knn20']) for c in r['curve']]
            pts = [p for p in pts if p[1] is not None]
            ax.plot([p[0] for p in pts], [p[1] for p in pts], marker='o', label=f"{r['method']} ({r['backbone']})")
        ax.set_title(f'{ds}: kNN top-1 (k=20) over training, seed 0')
        ax.set_xlabel('training CPU seconds')
        ax.set_ylabel('kNN top-1 (%)')
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    os.makedirs(osp.dirname(image), exist_ok=True)
    fig.savefig(image, dpi=90)
    plt.close(fig)
    return image


AMP_NOTE = ('; trained with `--amp`: bfloat16 autocast and channels-last weights, marked bf16 in the budget '
            'column; probes and random-init rows in fp32')

#: the probe size every record had before records carried ``probe_size`` (runs before 2026-12-07)
LEGACY_PROBE_SIZE = {'cifar10_subset': 32, 'flowers128': 96}


def probe_sizes(records: List[dict]) -> str:
    """What the run's probes resized each backbone's images to, read from its records."""
    sizes: Dict[tuple, set] = OrderedDict()
    for r in sorted(records, key=lambda r: (r['dataset'], r['backbone'])):
        size = r.get('probe_size', LEGACY_PROBE_SIZE.get(r['dataset']))
        sizes.setdefault((r['dataset'], r['backbone']), set()).add(size)
    parts = []
    for (dataset, backbone), got in sizes.items():
        text = f"{dataset} {backbone}: {'/'.join(str(s) for s in sorted(got, key=str))} px"
        view = probe_spec(dataset, backbone).probe_size if dataset in DATASETS else None  # its training view
        if view is not None and got != {view}:
            text += f' (trained on {view}-px views)'
        parts.append(text)
    return '; '.join(parts)


def recal_images(records: List[dict]) -> str:
    """How many images each backbone's BN statistics were re-estimated on, read from its records."""
    seen: Dict[str, set] = OrderedDict()
    for r in records:
        if r['arm'] == 'random_init_bn_recal' and r.get('bn_recal_images'):
            seen.setdefault(r['backbone'], set()).add(r['bn_recal_images'])
    return ', '.join(f"{b}: {'/'.join(str(n) for n in sorted(v))} images" for b, v in seen.items()) or 'none'


def render(json_path: str, doc: str, image: str) -> str:
    with open(json_path[:-5] + '_details.json') as f:
        details = json.load(f)
    rows, recs, run = details['rows'], details['records'], details.get('run', {})
    img = plot_curves(recs, image)
    rel_img = osp.relpath(img, osp.dirname(doc)) if img else None
    lines = [
        '# Learning evidence', '', f'Generated by `python benchmarks/learning/run.py` from '
        f'`{osp.relpath(json_path, osp.dirname(osp.dirname(doc)))}` '
        '(do not edit by hand; `--render-from` re-renders). Protocol and caveats: see below the tables.', ''
    ]
    budgets = OrderedDict()  # dataset -> budgets of its trained rows (equal within a dataset by design)
    for r in rows:
        if r['arm'] == 'trained':
            budgets.setdefault(r['dataset'], set()).add(r['budget_cpu_s'])
    amp_note = AMP_NOTE if run.get('amp') else ''
    per_ds = '; '.join(f"{ds}: {' / '.join(f'{b:g}' for b in sorted(bs))}" for ds, bs in budgets.items())
    lines += [
        f"Budget: **CPU-seconds of training per arm, {per_ds}** (one thread; process CPU time of the arm "
        f"process{amp_note}), {run.get('seeds')} seed(s) planned, {run.get('finished_arms')} arms finished; "
        f"the run took {run.get('wall_s', 0) / 60:.0f} min wall and {run.get('cpu_s', 0) / 60:.0f} CPU-min "
        f"(training + probes + start-up of every arm process)." if budgets else '', ''
    ]
    carried = sorted({r['carried_from'] for r in rows if r.get('carried_from')})
    if carried:
        lines += [
            f"Rows marked † were measured by an earlier run ({', '.join(f'`{c}`' for c in carried)}) at their own "
            'budget and kept unchanged; they are compared only with rows of the same dataset.', ''
        ]
    lines += [
        '## Table (kNN k = 20 and linear probe, top-1 %, mean ± std over seeds)', '',
        '| dataset | backbone | method | arm | budget (CPU-s) | iterations | seeds | kNN k=20 | kNN k=200 | '
        'linear | position R² | train CPU-s / wall-s |', '|---|---|---|---|---|---|---|---|---|---|---|---|'
    ]
    for r in rows:
        if r.get('ablation'):
            continue
        mark = ' †' if r.get('carried_from') else ''
        budget = f"{r['budget_cpu_s']:g}" + (' bf16' if r.get('amp') else '')
        lines.append(f"| {r['dataset']}{mark} | {r['backbone']} | {r['method']} | {r['arm']} | {budget} | "
                     f"{r['iterations']:g} | {len(r['seeds'])} | {_fmt(r['knn_top1_mean'], r['knn_top1_std'])} | "
                     f"{_fmt(r['knn200_top1_mean'], r['knn200_top1_std'])} | "
                     f"{_fmt(r['linear_top1_mean'], r['linear_top1_std'])} | "
                     f"{_fmt(r.get('loc_r2_xy_mean'), r.get('loc_r2_xy_std'), 3)} | "
                     f"{_fmt(r.get('train_cpu_s_mean'), None, 0)} / {_fmt(r.get('train_wall_s_mean'), None, 0)} |")
    abl = [r for r in rows if r.get('ablation')]
    base = _find(rows, 'cifar10_subset', method='SimCLR (mmpretrain)')
    if abl:
        lines += [
            '', '## Ablation of the CPU recipe (mmpretrain SimCLR, CIFAR-stem ResNet-18, cifar10_subset)', '',
            'One component reverted to the ScatSimCLR reference recipe at a time, same budget.', '',
            '| variant | seeds | iterations | kNN k=20 | linear |', '|---|---|---|---|---|'
        ]
        if base:
            lines.append(f"| CPU recipe (all components) | {len(base['seeds'])} | {base['iterations']:g} | "
                         f"{_fmt(base['knn_top1_mean'], base['knn_top1_std'])} | "
                         f"{_fmt(base['linear_top1_mean'], base['linear_top1_std'])} |")
        for r in abl:
            lines.append(f"| {r['ablation']} | {len(r['seeds'])} | {r['iterations']:g} | "
                         f"{_fmt(r['knn_top1_mean'], r['knn_top1_std'])} | "
                         f"{_fmt(r['linear_top1_mean'], r['linear_top1_std'])} |")
    lines += ['', '## Targets (issue 14)', '', '| target | subject | status | numbers |', '|---|---|---|---|']
    for t in details['targets']:
        lines.append(f"| {t['target']} | {t['subject']} | **{t['status']}** | {t['numbers']} |")
    if rel_img:
        lines += [
            '', '## kNN over training', '', f'![kNN top-1 over training CPU time]({rel_img})', '',
            'Seed 0 of every method; the first point is the random-init row (same seed), the last the final '
            'probe. Intermediate points use the same bank and queries.'
        ]
    lines += [
        '', '## Protocol', '',
        '- Data: `../shared/data/cifar10_subset` (training: the 10k train images, no labels; kNN bank and '
        'linear-probe train set: a fixed 100-per-class subset of them; queries: every second val image, 1,000) '
        'and `../shared/data/flowers128` (every 5th file of the sorted list is val, 697 queries, never trained '
        'on; bank: a fixed random 600 of the other four fifths).',
        '- Probes read the images through the same dataset class and the same data preprocessor as training '
        '(channel order and normalisation are decided by the dataset and its config, '
        '`mmspatial/evaluation/spatial_reasoning/common.py: dataset_channel_order`), resized whole to the '
        f'training view size of each backbone ({probe_sizes(recs)}).',
        '- kNN: weighted, cosine, T = 0.07 (`mmspatial/evaluation/knn.py`), k = 20 (the table\'s main column) '
        'and k = 200. Linear: multinomial logistic regression on z-scored features, L-BFGS, L2 penalty chosen '
        'on a 20 % hold-out of the bank (`mmspatial/evaluation/linear_probe.py`). Position R²: SP\'s '
        'position-and-scale probe (`mmspatial/evaluation/spatial_reasoning/position_scale.py`), mean R² of '
        '(dx, dy) on pairs of patches of held-out images, ridge probe.',
        '- Backbone probed: the online one (student for DINO / SelfPatch).',
        '- `random_init`: the initial weights, eval-mode BN with running mean 0 / var 1 (does nothing). '
        '`random_init_bn_recal`: the same weights with BN statistics re-estimated on augmented training views '
        f'({recal_images(recs)}; ViT has no BN: the two rows agree).',
        '- Budget: `resource.getrusage` user + system time of the arm process (torch 1 thread, data loading in '
        'the process); the kNN curve evaluations during training are not counted. Schedules are warm-up then '
        'constant, so stopping at the budget equals a run of that many iterations.',
        '- Targets: "outside 2 std" = the gain exceeds twice the standard deviation of the difference, '
        'sqrt(std_trained² + std_floor²), with at least 3 seeds on both sides.'
    ]
    notes = osp.join(osp.dirname(osp.abspath(__file__)), 'notes.md')  # the run's reading, written by people
    if osp.isfile(notes):
        with open(notes) as f:
            lines += ['', f.read().rstrip()]
    with open(doc, 'w') as f:
        f.write('\n'.join(lines) + '\n')
    return doc

"""Command-line entry points of the two spatial-reasoning probes (``tools/analysis/eval_*.py``)."""
import argparse
import time
from typing import List, Optional

from .common import load_frozen_backbone, markdown_table, prepare_split, resolve_specs, write_report
from .jigsaw import evaluate_jigsaw
from .position_scale import COMPONENTS, evaluate_position_scale


def _common_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument('data_root', help='image folder (class sub-folders give labels)')
    parser.add_argument(
        '--checkpoints',
        nargs='+',
        required=True,
        help="checkpoint files, or 'random' for the config's (seeded) initialisation")
    parser.add_argument(
        '--configs',
        '--config',
        nargs='+',
        required=True,
        dest='configs',
        help='one config for all checkpoints or one per checkpoint (algorithm configs, '
        'SP-wrapped ones too: the backbone is read from model[.host].backbone)')
    parser.add_argument('--names', nargs='+', help='display names (default: file names)')
    parser.add_argument(
        '--key', default='backbone.', help="state-dict prefix of the backbone (also tried with 'module.'/'host.')")
    parser.add_argument('--pool', default='auto', choices=['auto', 'gap', 'cls', 'mean'])
    parser.add_argument('--test-fraction', type=float, default=0.3)
    parser.add_argument('--max-images', type=int, default=None, help='subsample the folder (stratified)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--batch-size', type=int, default=64)
    parser.add_argument('--out-dir', default='work_dirs/spatial_reasoning')


def _models(args):
    for name, cfg, ckpt in resolve_specs(args.checkpoints, args.configs, args.names):
        yield load_frozen_backbone(cfg, ckpt, args.key, name, args.seed, args.pool)


def position_scale_main(argv: Optional[List[str]] = None) -> dict:
    parser = argparse.ArgumentParser(description='Position-and-scale prediction on patch pairs with a '
                                     'frozen backbone (ridge probe); JSON + Markdown report.')
    _common_args(parser)
    parser.add_argument('--image-size', type=int, default=128)
    parser.add_argument('--patch-size', type=int, default=64)
    parser.add_argument('--pairs-per-image', type=int, default=8)
    parser.add_argument('--scale-range', type=float, nargs=2, default=(0.05, 0.4))
    parser.add_argument('--pair-features', nargs='+', default=['concat', 'prod'], choices=['concat', 'diff', 'prod'])
    args = parser.parse_args(argv)
    data = prepare_split(args.data_root, args.image_size, args.test_fraction, args.seed, args.max_images)
    runs = []
    for model in _models(args):
        start = time.time()
        res = evaluate_position_scale(model,
                                      data['train_images'], data['test_images'], args.pairs_per_image, args.patch_size,
                                      tuple(args.scale_range), args.pair_features, args.seed, args.device,
                                      args.batch_size)
        res['seconds'] = round(time.time() - start, 1)
        runs.append(res)
    header = ['model'] + [f'{c} MAE' for c in COMPONENTS[:3]] + ['log-scale MAE'] + \
        [f'{c} R2' for c in COMPONENTS[:2]] + ['log-scale R2']
    rows = [['mean-predictor'] + [runs[0]['mean_predictor'][c]['mae']
                                  for c in ('dx', 'dy', 'dlogw')] + [runs[0]['mean_predictor']['log_scale']['mae']] +
            [runs[0]['mean_predictor'][c]['r2'] for c in ('dx', 'dy', 'log_scale')]]
    for r in runs:
        m = r['metrics']
        rows.append([
            r['name'], m['dx']['mae'], m['dy']['mae'], m['dlogw']['mae'], m['log_scale']['mae'], m['dx']['r2'],
            m['dy']['r2'], m['log_scale']['r2']
        ])
    results = dict(task='position_scale', args=vars(args), runs=runs)
    table = (f'Position-and-scale probe on {args.data_root} ({runs[0]["num_train_pairs"]} train / '
             f'{runs[0]["num_test_pairs"]} test pairs, seed {args.seed}); lower MAE / higher R2 is '
             'better.\n\n' + markdown_table(header, rows))
    paths = write_report(args.out_dir, 'position_scale', results, table)
    print(table + f'\nwritten: {paths[0]}, {paths[1]}')
    return results


def jigsaw_main(argv: Optional[List[str]] = None) -> dict:
    parser = argparse.ArgumentParser(description='Jigsaw understanding with a frozen backbone: tile '
                                     'position probe, Hungarian reassembly, recognition of the '
                                     'reconstruction; JSON + Markdown report.')
    _common_args(parser)
    parser.add_argument('--grid', type=int, default=3)
    parser.add_argument('--tile-size', type=int, default=48)
    args = parser.parse_args(argv)
    data = prepare_split(args.data_root, args.grid * args.tile_size, args.test_fraction, args.seed, args.max_images)
    runs = []
    for model in _models(args):
        start = time.time()
        res = evaluate_jigsaw(model, data['train_images'], data['train_labels'], data['test_images'],
                              data['test_labels'], args.grid, args.seed, args.device, args.batch_size)
        res['seconds'] = round(time.time() - start, 1)
        runs.append(res)
    header = [
        'model', 'tile acc', 'tile acc (argmax)', 'permutation acc', 'recog. intact', 'recog. shuffled',
        'recog. reconstructed'
    ]
    chance = runs[0]['chance']
    rec0 = runs[0].get('recognition', {})
    rows = [[
        'chance', chance['patch_accuracy'], chance['patch_accuracy'], chance['permutation_accuracy'],
        rec0.get('chance', 'n/a'),
        rec0.get('chance', 'n/a'),
        rec0.get('chance', 'n/a')
    ]]
    for r in runs:
        rec = r.get('recognition', {})
        rows.append([
            r['name'], r['patch_accuracy'], r['patch_accuracy_argmax'], r['permutation_accuracy'],
            rec.get('intact', 'n/a'),
            rec.get('shuffled', 'n/a'),
            rec.get('reconstructed', 'n/a')
        ])
    results = dict(task='jigsaw', args=vars(args), runs=runs)
    table = (f'Jigsaw understanding on {args.data_root} ({args.grid}x{args.grid} tiles of '
             f'{args.tile_size} px, {runs[0]["num_train_images"]} train / '
             f'{runs[0]["num_test_images"]} test images, seed {args.seed}); higher is better.\n\n' +
             markdown_table(header, rows))
    paths = write_report(args.out_dir, 'jigsaw', results, table)
    print(table + f'\nwritten: {paths[0]}, {paths[1]}')
    return results

"""Train a self-supervised model (same flags as mmpretrain's ``tools/train.py``).

Differences from mmpretrain's script, all automatic:
* ``mmspatial`` is imported, so configs work with or without ``custom_imports``;
* a config naming no ``runner_type`` runs with ``SpatialRunner``: checkpoints are loaded with
  ``weights_only=True`` and mmspatial's allow-list (``--trust-checkpoint PATH`` loads one file you trust
  with ``weights_only=False``), a checkpoint that does not fit the model is an error, saves are atomic
  (docs/safety.md);
* mmcv's ``adjust_hue`` is made numpy-2-safe for this process
  (``mmspatial.compat.enable_numpy2_hue_fix``), for pipelines inherited from mmpretrain's configs;
* ``--launcher pytorch|slurm`` also works without CUDA (gloo process group, CPU DDP wrapper, SyncBN
  reverted to BN with a log line; see ``mmspatial/engine/distributed.py``);
* without a launcher, SyncBN is reverted to BN (mmengine logs it) instead of failing with
  "Default process group has not been initialized".
"""
import argparse
import os

from mmengine.config import Config, DictAction
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

import mmspatial  # noqa: F401  (registers modules)
from mmspatial.compat import enable_numpy2_hue_fix
from mmspatial.engine.launch import merge_train_args, setup_cpu_distributed


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Train a model with mmspatial')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument(
        '--resume',
        nargs='?',
        type=str,
        const='auto',
        help='resume from this checkpoint, or (no value) from the latest checkpoint '
        'in the work directory')
    parser.add_argument('--amp', action='store_true', help='automatic mixed precision training')
    parser.add_argument(
        '--trust-checkpoint',
        action='append',
        default=[],
        metavar='PATH',
        help='unpickle this checkpoint with weights_only=False (it may run code stored in '
        'it); only for files you trust that need a type outside mmspatial\'s allow-list. '
        'Repeatable; same as trusted_checkpoints=[...] in the config')
    parser.add_argument('--no-validate', action='store_true', help='do not evaluate checkpoints during training')
    parser.add_argument(
        '--auto-scale-lr',
        action='store_true',
        help='scale the learning rate by actual batch / auto_scale_lr.base_batch_size')
    parser.add_argument('--no-pin-memory', action='store_true')
    parser.add_argument('--no-persistent-workers', action='store_true')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config settings, key=value (e.g. train_cfg.max_epochs=2). '
        'A key whose parent does not exist, or a near-typo of an existing key, is an '
        'error naming it (see --no-strict-cfg-options)')
    parser.add_argument(
        '--no-strict-cfg-options',
        dest='strict_cfg_options',
        action='store_false',
        help='let --cfg-options add keys that are not in the config (mmengine\'s '
        'behaviour), e.g. a new section read by a custom hook')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none', help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def main() -> None:
    args = parse_args()
    cfg = Config.fromfile(args.config)
    cfg = merge_train_args(
        cfg,
        config_path=args.config,
        work_dir=args.work_dir,
        resume=args.resume,
        amp=args.amp,
        auto_scale_lr=args.auto_scale_lr,
        no_validate=args.no_validate,
        no_pin_memory=args.no_pin_memory,
        no_persistent_workers=args.no_persistent_workers,
        launcher=args.launcher,
        cfg_options=args.cfg_options,
        strict_cfg_options=args.strict_cfg_options,
        trust_checkpoints=args.trust_checkpoint)
    enable_numpy2_hue_fix()
    setup_cpu_distributed(cfg)
    runner = Runner.from_cfg(cfg) if 'runner_type' not in cfg else RUNNERS.build(cfg)
    runner.train()
    if runner.rank == 0:
        print(f'\nmmspatial: training finished. Work dir (logs, config, checkpoints): '
              f'{os.path.abspath(runner.work_dir)}')
        last = os.path.join(runner.work_dir, 'last_checkpoint')
        if os.path.isfile(last):
            with open(last) as f:
                print(f'mmspatial: latest checkpoint: {os.path.abspath(f.read().strip())}')
        # closing line: the online kNN curve of a run with KNNMonitorHook (the demos), before -> ... -> end
        for hook in runner.hooks:
            summary = hook.curve_summary() if callable(getattr(hook, 'curve_summary', None)) else ''
            if summary:
                print(f'mmspatial: {summary}')


if __name__ == '__main__':
    main()

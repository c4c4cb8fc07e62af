"""Config preparation shared by ``tools/train.py`` and the benchmark launchers."""
import logging
import os.path as osp
from copy import deepcopy
from typing import Optional, Sequence

import torch
from mmengine.config import Config, ConfigDict
from mmengine.logging import print_log

from .config_check import check_cfg_options
from .cpu_amp import accelerator_available
from .distributed import init_cpu_distributed


def enable_amp(cfg: Config, config_path: str) -> None:
    """``--amp``: mixed precision through the config's optim wrapper (``AmpOptimWrapper`` with an
    accelerator, else ``CPUAmpOptimWrapper``, bfloat16 autocast on the CPU)."""
    if 'optim_wrapper' not in cfg:
        raise KeyError(f'{config_path}: --amp needs an optim_wrapper in the config')
    cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')
    if accelerator_available():
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
    else:  # mmengine's AmpOptimWrapper refuses to run without an accelerator; bfloat16 autocast
        cfg.optim_wrapper.type = 'CPUAmpOptimWrapper'
        cfg.optim_wrapper.setdefault('dtype', 'bfloat16')


def merge_train_args(cfg: Config,
                     *,
                     config_path: str,
                     work_dir: Optional[str] = None,
                     resume: Optional[str] = None,
                     amp: bool = False,
                     auto_scale_lr: bool = False,
                     no_validate: bool = False,
                     no_pin_memory: bool = False,
                     no_persistent_workers: bool = False,
                     launcher: str = 'none',
                     cfg_options: Optional[dict] = None,
                     strict_cfg_options: bool = True,
                     trust_checkpoints: Sequence[str] = ()) -> Config:
    """Apply mmpretrain's ``tools/train.py`` command-line semantics to a config (same flags).

    With ``strict_cfg_options`` (the default) a ``cfg_options`` key whose parent path does not exist,
    or that is a near-typo of an existing key, raises ``UnknownConfigKeyError`` naming it (see
    :mod:`mmspatial.engine.config_check`); ``False`` merges any key, as mmengine does.

    mmspatial additions: a config naming no ``runner_type`` runs with ``SpatialRunner`` (safe and
    strict checkpoint loading, atomic saves); ``trust_checkpoints`` (``--trust-checkpoint``) is added
    to the config's ``trusted_checkpoints`` (files unpickled with ``weights_only=False``).
    """
    cfg.setdefault('runner_type', 'SpatialRunner')
    if trust_checkpoints:
        cfg.trusted_checkpoints = list(cfg.get('trusted_checkpoints', None) or []) + list(trust_checkpoints)
    if no_validate:
        cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    cfg.launcher = launcher
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(config_path))[0])
    if amp:
        enable_amp(cfg, config_path)
    if resume == 'auto':
        cfg.resume, cfg.load_from = True, None
    elif resume is not None:
        cfg.resume, cfg.load_from = True, resume
    if auto_scale_lr:
        if 'auto_scale_lr' not in cfg:
            raise KeyError(f'{config_path}: --auto-scale-lr needs `auto_scale_lr = dict('
                           'base_batch_size=...)` in the config (the reference batch size)')
        cfg.auto_scale_lr.enable = True

    defaults = ConfigDict(pin_memory=torch.cuda.is_available(), persistent_workers=True)
    if cfg.get('default_scope', 'mmpretrain') == 'mmpretrain':
        # mmpretrain's train.py default; mmdet/mmseg configs need their own pseudo_collate.
        defaults.collate_fn = dict(type='default_collate')
    for field in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        if cfg.get(field, None) is None:
            continue
        loader = deepcopy(defaults)
        loader.update(cfg[field])
        if no_pin_memory:
            loader.pin_memory = False
        if no_persistent_workers:
            loader.persistent_workers = False
        cfg[field] = loader

    if cfg_options:
        if strict_cfg_options:
            check_cfg_options(cfg, cfg_options)
        cfg.merge_from_dict(cfg_options)
    for field in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        loader = cfg.get(field, None)
        if loader is not None and loader.get('num_workers', 0) == 0:
            loader.persistent_workers = False  # torch refuses persistent workers without workers
    return cfg


def setup_cpu_distributed(cfg: Config) -> None:
    """Make ``launcher='pytorch'|'slurm'`` work without CUDA: gloo group + CPU DDP wrapper."""
    launcher = cfg.get('launcher', 'none')
    if launcher == 'none' or torch.cuda.is_available():
        return
    init_cpu_distributed(launcher)
    wrapper = dict(cfg.get('model_wrapper_cfg', None) or {})
    if wrapper.get('type', 'MMDistributedDataParallel') == 'MMDistributedDataParallel':
        wrapper['type'] = 'CPUDistributedDataParallel'
    wrapper.setdefault('find_unused_parameters', cfg.get('find_unused_parameters', False))
    wrapper.setdefault('broadcast_buffers', False)
    cfg.model_wrapper_cfg = wrapper
    env_cfg = cfg.setdefault('env_cfg', ConfigDict())
    env_cfg.setdefault('dist_cfg', ConfigDict())['backend'] = 'gloo'
    print_log(
        f'no CUDA: distributed training on the CPU with gloo ({wrapper["type"]})', logger='current', level=logging.INFO)

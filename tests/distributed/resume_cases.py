"""Tiny Runner configs of every algorithm for the kill-and-resume tests (``test_resume.py``).

Each is the algorithm's demo config (its optimiser, schedules and hooks: EMA / teacher momentum, DINO
teacher-temperature warm-up, ...) with a tiny model (the ``ddp_cases`` sizes, stochastic depth and
dropout back on), 8 images, batch 4, ``num_workers=0``, a checkpoint every epoch (or every
``ckpt_iters`` iterations), per-iteration scalars and ``randomness=dict(seed=0, deterministic=True)``.
"""
import os
from copy import deepcopy

from ddp_cases import CASES, CROP, ROOT, SIMCLR_MODEL, _shrink_crops
from mmengine.config import Config
from mmengine.hooks import Hook
from mmpretrain.registry import HOOKS

KILL_ENV = 'MMSPATIAL_TEST_KILL_AT_ITER'


@HOOKS.register_module(force=True)
class KillAtIterHook(Hook):
    """``os._exit(1)`` (no cleanup, like a killed process) once ``$MMSPATIAL_TEST_KILL_AT_ITER``
    iterations are done, right after the checkpoint of that iteration/epoch is written."""

    priority = 'LOWEST'  # after CheckpointHook (VERY_LOW)

    def _kill_at(self) -> int:
        return int(os.environ.get(KILL_ENV, 0))

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        if self._kill_at() and not runner.train_loop.__class__.__name__.startswith('Epoch') \
                and runner.iter + 1 >= self._kill_at():
            os._exit(1)

    def after_train_epoch(self, runner) -> None:
        if self._kill_at() and runner.iter >= self._kill_at():
            os._exit(1)


def train_until_killed(name: str, work_dir: str, kill_at: int, cfg_kwargs: dict) -> None:
    """Target of the killed run (a fresh process from a fork server, see ``test_resume.py``)."""
    import torch
    from mmengine.registry import RUNNERS
    torch.set_num_threads(1)  # as the runs in the test process
    os.environ[KILL_ENV] = str(kill_at)
    RUNNERS.build(resume_cfg(name, work_dir, **cfg_kwargs)).train()
    os._exit(3)  # only reached if the kill did not happen


def resume_cfg(name: str,
               work_dir,
               max_epochs: int = 2,
               max_iters: int = 0,
               ckpt_iters: int = 0,
               resume: bool = False,
               rng: bool = True,
               num_images: int = 8) -> Config:
    path, overrides = CASES[name]
    cfg = Config.fromfile(str(ROOT / 'configs' / path))
    if name == 'simclr':
        cfg.model = dict(SIMCLR_MODEL, data_preprocessor=cfg.model.data_preprocessor.to_dict())
    else:
        overrides = deepcopy(overrides)
        for key in list(overrides):  # keep the configs' stochastic depth / dropout
            if key.endswith('backbone') and 'drop_path_rate' in overrides[key]:
                overrides[key] = dict(overrides[key], drop_path_rate=0.1)
            if key == 'pretext_head.dropout':
                overrides.pop(key)
        cfg.merge_from_dict({f'model.{k}': v for k, v in overrides.items()})
    dataset = cfg.train_dataloader.dataset.to_dict()
    if dataset['type'] != 'SyntheticScenes':
        dataset = dict(type='SyntheticScenes', img_size=(48, 64), seed=0, pipeline=dataset['pipeline'])
    dataset.update(num_images=num_images)
    _shrink_crops(dataset['pipeline'], CROP.get(name.split('_')[0], 32))
    sampler = dict(type='InfiniteSampler', shuffle=True) if max_iters else dict(type='DefaultSampler', shuffle=True)
    cfg.train_dataloader = dict(
        batch_size=4,
        num_workers=0,
        persistent_workers=False,
        drop_last=True,
        sampler=sampler,
        collate_fn=dict(type='default_collate'),
        dataset=dataset)
    if max_iters:
        cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters)
        checkpoint = dict(type='AtomicCheckpointHook', interval=ckpt_iters, by_epoch=False)
    else:
        cfg.train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs)
        checkpoint = dict(type='AtomicCheckpointHook', interval=1)
    cfg.default_hooks.checkpoint = checkpoint
    cfg.default_hooks.logger = dict(type='LoggerHook', interval=1)
    cfg.log_processor = dict(window_size=1)  # the scalars are the per-iteration values
    cfg.visualizer = dict(type='UniversalVisualizer', vis_backends=[dict(type='LocalVisBackend')])
    # The demo's kNN monitor evaluates outside the train step (fp32, its own loaders); these checks are
    # about training, and the monitor has its own tests (tests/engine/hooks/test_knn_monitor_hook.py).
    hooks = [dict(h) for h in cfg.get('custom_hooks', []) if h['type'] != 'KNNMonitorHook']
    for hook in hooks:  # a teacher-temperature warm-up that is still running when the run resumes
        if hook['type'] == 'DINOTeacherTempHook':
            hook.update(warmup_teacher_temp=0.02, teacher_temp=0.04, warmup_epochs=2)
    cfg.custom_hooks = hooks + [dict(type='KillAtIterHook')]
    # RNGStateHook is on in configs/_base_/default_runtime.py; rng=False is the control without it.
    assert cfg.default_hooks.get('rng_state', {}).get('type') == 'RNGStateHook'
    if not rng:
        cfg.default_hooks.pop('rng_state')
    cfg.randomness = dict(seed=0, deterministic=True)
    assert cfg.runner_type == 'SpatialRunner'  # configs/_base_/default_runtime.py: safe, strict loading
    cfg.work_dir = str(work_dir)
    cfg.log_level = 'WARNING'
    cfg.resume = resume
    cfg.load_from = None
    cfg.env_cfg = dict(
        cudnn_benchmark=False, mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0), dist_cfg=dict(backend='gloo'))
    return cfg

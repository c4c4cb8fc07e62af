# mmspatial default runtime: mmpretrain's, plus the plugin import, TensorBoard logging and the
# reliability hooks (NaN guard, generator state in checkpoints, skipped-sample count).
default_scope = 'mmpretrain'
custom_imports = dict(imports=['mmspatial'], allow_failed_imports=False)
# mmengine's Runner plus: checkpoints loaded with weights_only=True and mmspatial's allow-list, a
# checkpoint that does not fit the model is an error, atomic saves (docs/safety.md). A checkpoint you
# trust that needs another type: trusted_checkpoints = ['/path/to/file.pth'] (or --trust-checkpoint).
runner_type = 'SpatialRunner'

default_hooks = dict(
    runtime_info=dict(type='RuntimeInfoHook'),
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50),
    param_scheduler=dict(type='ParamSchedulerHook'),
    # CheckpointHook that never leaves the run without a valid latest checkpoint (atomic writes; the
    # oldest checkpoint is deleted after the new one is written).
    checkpoint=dict(type='AtomicCheckpointHook', interval=1, max_keep_ckpts=3),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    # Reliability (docs/reliability.md). A NaN/Inf loss stops the run, naming the iteration, before
    # the broken state reaches a checkpoint (disable: default_hooks.nan_guard.keys=[]).
    nan_guard=dict(type='NaNGuardHook'),
    # Generator states go into checkpoints so that --resume continues the uninterrupted run exactly
    # (with train_dataloader.num_workers=0; worker processes are re-seeded by mmengine).
    rng_state=dict(type='RNGStateHook'),
    # Logs `skipped_samples` when the pipeline loads with LoadImageOrSkip(on_error='skip').
    skipped_samples=dict(type='SkippedSamplesHook'),
)

env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    # tools/train.py switches to gloo automatically when there is no CUDA.
    dist_cfg=dict(backend='nccl'),
)

# Scalars go to <work_dir>/<timestamp>/vis_data (JSON) and to TensorBoard event files there:
#   tensorboard --logdir work_dirs/<config name>
# Swap in dict(type='WandbVisBackend') etc. as with any mmengine config.
vis_backends = [dict(type='LocalVisBackend'), dict(type='TensorboardVisBackend')]
visualizer = dict(type='UniversalVisualizer', vis_backends=vis_backends)

log_processor = dict(window_size=10)
log_level = 'INFO'
load_from = None
resume = False
randomness = dict(seed=None, deterministic=False)

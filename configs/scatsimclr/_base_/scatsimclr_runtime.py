# mmspatial's default runtime, a checkpoint every 10 epochs, and the hook that tells ScatSimCLR the
# training progress (needed only with pretext_start > 0; the model raises if it is missing then).
_base_ = ['../../_base_/default_runtime.py']
default_hooks = dict(checkpoint=dict(interval=10, max_keep_ckpts=3))
custom_hooks = [dict(type='ScatSimCLRPretextScheduleHook')]

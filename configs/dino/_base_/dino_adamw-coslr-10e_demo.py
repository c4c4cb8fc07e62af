# DINO's optimisation (dino_adamw-coslr-100e.py) at demo length, with the default runtime: shared by the
# DINO and SelfPatch demos. 10 epochs of the synthetic scenes after 1 warm-up epoch, log every 4
# iterations, checkpoints every 5 epochs, fixed seed.
_base_ = ['./dino_adamw-coslr-100e.py', '../../_base_/default_runtime.py']
warmup_epochs, epochs = 1, 10
# Same three schedulers as dino_adamw-coslr-100e.py, with this length's warm-up and end.
param_scheduler = [
    dict(_base_.param_scheduler[0], end=warmup_epochs),
    dict(_base_.param_scheduler[1], begin=warmup_epochs, end=epochs),
    dict(_base_.param_scheduler[2], end=epochs),
]
train_cfg = dict(max_epochs=epochs)
default_hooks = dict(logger=dict(interval=4), checkpoint=dict(interval=5, max_keep_ckpts=2))
randomness = dict(seed=0)

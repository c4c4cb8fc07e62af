# DINO's optimisation (dino_adamw-coslr-100e.py) at demo length, with the default runtime: shared by the
# DINO and SelfPatch demos. 10 epochs of the synthetic scenes after 1 warm-up epoch, log every 4
# iterations, checkpoints every 5 epochs, fixed seed.
_base_ = ['./dino_adamw-coslr-100e.py', '../../_base_/default_runtime.py']
warmup_epochs, epochs = 1, 10
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6, by_epoch=True, begin=0, end=warmup_epochs, convert_to_iter_based=True),
    dict(
        type='CosineAnnealingLR',
        eta_min=1e-6,
        by_epoch=True,
        begin=warmup_epochs,
        end=epochs,
        convert_to_iter_based=True),
    dict(
        type='CosineAnnealingParamScheduler',
        param_name='weight_decay',
        eta_min_ratio=10.0,
        by_epoch=True,
        begin=0,
        end=epochs,
        convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=epochs)
default_hooks = dict(logger=dict(interval=4), checkpoint=dict(interval=5, max_keep_ckpts=2))
randomness = dict(seed=0)

# DINO's optimisation (dino_adamw-coslr-100e.py) over 300 epochs: SelfPatch's budget, and its DINO baseline.
_base_ = ['./dino_adamw-coslr-100e.py']
warmup_epochs, epochs = 10, 300
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

# DINO's optimisation (dino_adamw-coslr-100e.py) over 300 epochs: SelfPatch's budget, and its DINO baseline.
_base_ = ['./dino_adamw-coslr-100e.py']
warmup_epochs, epochs = 10, 300
# Same three schedulers as dino_adamw-coslr-100e.py, with this length's warm-up and end.
param_scheduler = [
    dict(_base_.param_scheduler[0], end=warmup_epochs),
    dict(_base_.param_scheduler[1], begin=warmup_epochs, end=epochs),
    dict(_base_.param_scheduler[2], end=epochs),
]
train_cfg = dict(max_epochs=epochs)

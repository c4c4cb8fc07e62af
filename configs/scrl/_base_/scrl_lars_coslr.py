# Optimisation of kakaobrain/scrl (optim/optim.py, optim/scheduler.py): LARS (trust coefficient 1e-3)
# over SGD with momentum 0.9, lr = base_lr * batch / 256, linear warm-up for 10 epochs then cosine to
# 0, both stepped per iteration, under AMP (the reference uses autocast + GradScaler).
# Top-level configs set lr, weight_decay, the epochs and the schedule.
#
# LARS exclusions as in the reference: parameters whose *names* contain 'bn' or 'bias' get no LARS
# adaptation and no weight decay. The reference's name matching misses the BN weights of the heads
# (torchvision `net.1.weight`) and of the ResNet shortcut (`downsample.1.weight`), which therefore stay
# adapted and decayed; this is reproduced by the two head keys below and by *not* listing
# 'downsample.1' (mmpretrain's BYOL config does exclude it).
optim_wrapper = dict(
    type='AmpOptimWrapper',
    loss_scale='dynamic',
    optimizer=dict(type='LARS', lr=0.45, weight_decay=1e-6, momentum=0.9),
    paramwise_cfg=dict(
        custom_keys={
            'bn': dict(decay_mult=0, lars_exclude=True),
            'bias': dict(decay_mult=0, lars_exclude=True),
            'neck.bn0.weight': dict(decay_mult=1, lars_exclude=False),
            'predictor.bn0.weight': dict(decay_mult=1, lars_exclude=False),
        }))

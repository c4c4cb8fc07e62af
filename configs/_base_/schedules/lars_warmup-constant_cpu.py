# CPU-budget schedule shared by the learning-evidence configs (benchmarks/learning): LARS lr 0.3
# (the SimCLR paper, appendix B.9, trains CIFAR-10 with LARS; 0.3 is its 0.3 x batch/256 at batch 256, kept at
# our small batch because a few hundred steps need the larger step), momentum 0.9, weight decay 1e-6, BN and
# biases excluded from LARS and decay (mmpretrain's SimCLR/BYOL configs), linear warm-up over the first
# 20 iterations, then constant: a run stopped at a CPU-time budget after N iterations is the same run
# as one with max_iters=N, whatever N the machine reaches. Includes the default runtime.
_base_ = ['../default_runtime.py']
warmup_iters = 20
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='LARS', lr=0.3, weight_decay=1e-6, momentum=0.9),
    paramwise_cfg=dict(
        custom_keys={
            'bn': dict(decay_mult=0, lars_exclude=True),
            'bias': dict(decay_mult=0, lars_exclude=True),
            'downsample.1': dict(decay_mult=0, lars_exclude=True)
        }))
max_iters = 400
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters)
param_scheduler = [dict(type='LinearLR', start_factor=1e-2, by_epoch=False, begin=0, end=warmup_iters)]
default_hooks = dict(
    logger=dict(interval=20), checkpoint=dict(by_epoch=False, interval=100000, save_last=True, max_keep_ckpts=1))
log_processor = dict(by_epoch=False)
randomness = dict(seed=0)

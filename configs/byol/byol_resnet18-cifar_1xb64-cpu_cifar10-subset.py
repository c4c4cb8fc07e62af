# mmpretrain's own BYOL (the non-spatial base of SCRL and BYOL+SP) for the CPU-budget learning evidence
# (benchmarks/learning/run.py), not a reproduction: CIFAR-stem ResNet-18 on cifar10_subset at 32 px,
# batch 64, the same views and LARS warm-up/constant schedule as the SimCLR arm; EMA tau 0.99 (BYOL's
# 0.996 is for runs of thousands of steps; CosineEMA takes momentum = 1 - tau).
_base_ = ['../_base_/datasets/cifar10-subset_simsiam-views.py', '../_base_/schedules/lars_warmup-constant_cpu.py']
model = dict(
    type='BYOL',
    base_momentum=0.01,
    backbone=dict(type='ResNet_CIFAR', depth=18, zero_init_residual=False),
    neck=dict(
        type='NonLinearNeck',
        in_channels=512,
        hid_channels=1024,
        out_channels=128,
        num_layers=2,
        with_bias=True,
        with_last_bn=False,
        with_avg_pool=True),
    head=dict(
        type='LatentPredictHead',
        loss=dict(type='CosineSimilarityLoss'),
        predictor=dict(
            type='NonLinearNeck',
            in_channels=128,
            hid_channels=1024,
            out_channels=128,
            num_layers=2,
            with_bias=True,
            with_last_bn=False,
            with_avg_pool=False)))

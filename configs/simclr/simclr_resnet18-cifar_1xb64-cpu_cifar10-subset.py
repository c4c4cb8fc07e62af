# mmpretrain's own SimCLR (the non-spatial base of the SimCLR family) for the CPU-budget learning evidence
# (benchmarks/learning/run.py), not a reproduction: CIFAR-stem ResNet-18 (mmpretrain ResNet_CIFAR: 3x3 stem,
# no max-pool) on cifar10_subset at 32 px, batch 64. Recipe: SimSiam's CIFAR augmentation (dataset base),
# temperature 0.2 (MoCo v2), BN in the 2-layer projector (SimCLR v1 / mmpretrain), LARS lr 0.3 with a
# 20-iteration warm-up then constant (schedule base). The reference ImageNet recipe at 32 px barely moves
# in a few CPU-minutes (issue 14); docs/evidence.md has the ablation.
_base_ = ['../_base_/datasets/cifar10-subset_simsiam-views.py', '../_base_/schedules/lars_warmup-constant_cpu.py']
model = dict(
    type='SimCLR',
    backbone=dict(type='ResNet_CIFAR', depth=18, zero_init_residual=False),
    neck=dict(
        type='NonLinearNeck', in_channels=512, hid_channels=512, out_channels=128, num_layers=2, with_avg_pool=True),
    head=dict(type='ContrastiveHead', loss=dict(type='CrossEntropyLoss'), temperature=0.2))

# SimCLR ResNet-18 baseline for the small CPU comparison on cifar10_subset (see README.md).
_base_ = ['./scatsimclr8_1xb64-cpu_cifar10-subset.py']
model = dict(
    backbone=dict(_delete_=True, type='ResNet', depth=18, zero_init_residual=False),
    neck=dict(in_channels=512, hid_channels=512, with_avg_pool=True))

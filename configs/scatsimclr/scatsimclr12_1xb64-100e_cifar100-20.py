# ScatSimCLR-12 on cifar100-20: the 12-block adapter of the reference code.
_base_ = ['./scatsimclr8_1xb64-100e_cifar100-20.py']
model = dict(backbone=dict(depth=12))

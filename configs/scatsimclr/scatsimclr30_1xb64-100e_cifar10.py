# ScatSimCLR-30 on cifar10: the 30-block adapter of the reference code.
_base_ = ['./scatsimclr8_1xb64-100e_cifar10.py']
model = dict(backbone=dict(depth=30))

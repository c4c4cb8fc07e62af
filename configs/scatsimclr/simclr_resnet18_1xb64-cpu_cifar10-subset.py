# SimCLR ResNet-18 (our ScatSimCLR code without the scattering, the reference's ResNetSimCLR: ImageNet
# stem also at 32 px) with the CPU-budget CIFAR recipe of scatsimclr_scatnet8_1xb64-cpu_cifar10-subset.py.
_base_ = ['./scatsimclr_scatnet8_1xb64-cpu_cifar10-subset.py']
model = dict(
    backbone=dict(_delete_=True, type='ResNet', depth=18, zero_init_residual=False),
    neck=dict(in_channels=512, hid_channels=512, with_avg_pool=True))

# SimCLR baseline of the reference (src/models/resnet_simclr.py, ResNetSimCLR): torchvision-style
# ResNet-18 (ImageNet stem, also at 32 px), global pool -> 512-512-128 projection, same loss as ScatSimCLR.
_base_ = ['./scatsimclr_scatnet.py']
model = dict(
    backbone=dict(_delete_=True, type='ResNet', depth=18, zero_init_residual=False),
    neck=dict(in_channels=512, hid_channels=512, with_avg_pool=True))

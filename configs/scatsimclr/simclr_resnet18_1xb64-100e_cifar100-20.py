# SimCLR baseline of the reference (ResNet-18), contrastive loss only, on CIFAR-100-20 (the Table 3 recipe).
_base_ = [
    './_base_/models/simclr_resnet18.py', './_base_/datasets/cifar100-20_scatsimclr.py',
    './_base_/schedules/adam_100e.py', './_base_/scatsimclr_runtime.py'
]

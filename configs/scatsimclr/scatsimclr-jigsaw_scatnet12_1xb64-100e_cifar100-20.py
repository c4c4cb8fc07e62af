# ScatSimCLR-12 + jigsaw regulariser on CIFAR-100-20 (32 px), 100 epochs (the Table 3 recipe; see README.md).
_base_ = [
    './_base_/models/scatsimclr-jigsaw_scatnet.py', './_base_/datasets/cifar100-20_scatsimclr.py',
    './_base_/schedules/adam_100e.py', './_base_/scatsimclr_runtime.py'
]
model = dict(backbone=dict(depth=12, input_size=(32, 32)))
train_dataloader = dict(dataset=dict(pipeline={{_base_.jigsaw_train_pipeline}}))

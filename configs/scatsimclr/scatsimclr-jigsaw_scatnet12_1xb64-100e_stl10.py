# ScatSimCLR-12 + jigsaw regulariser on STL-10 (96 px), 100 epochs (paper Table 3; see README.md).
_base_ = [
    './_base_/models/scatsimclr-jigsaw_scatnet.py', './_base_/datasets/stl10_scatsimclr.py',
    './_base_/schedules/adam_100e.py', './_base_/scatsimclr_runtime.py'
]
model = dict(backbone=dict(depth=12, input_size=(96, 96)))
train_dataloader = dict(dataset=dict(pipeline={{_base_.jigsaw_train_pipeline}}))

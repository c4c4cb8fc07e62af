# SimCLR baseline of the reference (ResNet-18), + jigsaw regulariser, on STL-10 (paper Table 3, last row).
_base_ = [
    './_base_/models/simclr_resnet18.py', './_base_/datasets/stl10_scatsimclr.py', './_base_/schedules/adam_100e.py',
    './_base_/scatsimclr_runtime.py'
]
model = dict(pretext_head=dict(type='JigsawHead', in_channels=512), raw_pretext_inputs=True)
train_dataloader = dict(dataset=dict(pipeline={{_base_.jigsaw_train_pipeline}}))

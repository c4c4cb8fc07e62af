# ScatSimCLR data on STL-10 at 96 px: pre-training on train+unlabeled (105k images).
_base_ = ['./cifar10_scatsimclr.py']
input_size = 96
dataset_type = 'STL10'
data_root = 'data/stl10/'
data_preprocessor = dict(  # the reference normalises STL-10 with ImageNet statistics
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375])
# CIFAR-10's pipelines (cifar10_scatsimclr.py) at this input size: only the crop sizes and the jigsaw tile change.
view_pipeline = [dict(t, size=(input_size, input_size)) if 'size' in t else t for t in _base_.view_pipeline]
train_pipeline = [dict(_base_.train_pipeline[0], transforms=[view_pipeline]), *_base_.train_pipeline[1:]]
rotation_train_pipeline = [
    dict(_base_.rotation_train_pipeline[0], transforms=view_pipeline),
    dict(_base_.rotation_train_pipeline[1], transforms=[view_pipeline]),
    *_base_.rotation_train_pipeline[2:],
]
jigsaw_train_pipeline = [
    dict(_base_.jigsaw_train_pipeline[0], tile_size=input_size),
    dict(_base_.jigsaw_train_pipeline[1], transforms=[view_pipeline]),
    *_base_.jigsaw_train_pipeline[2:],
]
train_dataloader = dict(
    dataset=dict(
        pipeline=train_pipeline, dataset=dict(type=dataset_type, data_root=data_root, split='train+unlabeled')))

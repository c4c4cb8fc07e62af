# ScatSimCLR data on STL-10 at 96 px: pre-training on train+unlabeled (105k images).
_base_ = ['./cifar10_scatsimclr.py']
input_size = 96
dataset_type = 'STL10'
data_root = 'data/stl10/'
data_preprocessor = dict(  # the reference normalises STL-10 with ImageNet statistics
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375])
view_pipeline = [
    dict(type='torchvision/ToPILImage'),
    dict(type='torchvision/Resize', size=(input_size, input_size), interpolation='lanczos'),
    dict(type='torchvision/RandomResizedCrop', size=(input_size, input_size), interpolation='lanczos'),
    dict(type='torchvision/RandomHorizontalFlip'),
    dict(
        type='RandomApply',
        prob=0.8,
        transforms=[dict(type='torchvision/ColorJitter', brightness=0.8, contrast=0.8, saturation=0.8, hue=0.2)]),
    dict(type='torchvision/RandomGrayscale', p=0.2),
    dict(type='CV2GaussianBlur', prob=0.5),
]
train_pipeline = [
    dict(type='MultiView', num_views=2, transforms=[view_pipeline]),
    dict(type='PackInputs'),
]
rotation_train_pipeline = [
    dict(type='RotationPretext', transforms=view_pipeline),
    dict(type='MultiView', num_views=2, transforms=[view_pipeline]),
    dict(type='MergePretextViews'),
    dict(type='PackInputs', algorithm_keys=['pretext_label']),
]
jigsaw_train_pipeline = [
    dict(type='JigsawPretext', tile_size=input_size),
    dict(type='MultiView', num_views=2, transforms=[view_pipeline]),
    dict(type='MergePretextViews'),
    dict(type='PackInputs', algorithm_keys=['pretext_label']),
]
train_dataloader = dict(
    dataset=dict(
        pipeline=train_pipeline, dataset=dict(type=dataset_type, data_root=data_root, split='train+unlabeled')))

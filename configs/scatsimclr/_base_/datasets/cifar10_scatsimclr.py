# ScatSimCLR data on CIFAR-10 at 32 px (src/data/augmentor.py of vkinakh/scatsimclr). Images are RGB
# uint8 arrays; the view pipeline runs the reference's torchvision calls on PIL images.
input_size = 32
dataset_type = 'CIFAR10'
data_root = 'data/cifar10/'
data_preprocessor = dict(  # CIFAR_STATS of the reference (0.491, 0.482, 0.447) / (0.247, 0.243, 0.261)
    type='SelfSupDataPreprocessor',
    mean=[125.205, 122.91, 113.985],
    std=[62.985, 61.965, 66.555],
    to_rgb=False)

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
    dict(type='CV2GaussianBlur', prob=0.5),  # kernel 2 * int(0.05 * H) + 1, sigma in [0.1, 2]
]
train_pipeline = [
    dict(type='MultiView', num_views=2, transforms=[view_pipeline]),
    dict(type='PackInputs'),
]
# pretext regularisers (configs *-rotation_* / *-jigsaw_*): extra inputs after the two views
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

# The reference trains on 95 % of the training split (5 % held out for a validation loss, `valid_size:
# 0.05`); HoldOutSplit makes that split from a fixed seed. The pipeline sits on the wrapper: leaf configs
# replace `train_dataloader.dataset.pipeline`, the wrapped dataset's fields live in `.dataset.dataset`.
train_dataloader = dict(
    batch_size=64,  # config_pretext.yaml
    num_workers=4,
    persistent_workers=True,
    drop_last=True,  # NT-Xent over equal batches (and equal per-rank sizes for the gather)
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type='HoldOutSplit',
        ratio=0.05,
        seed=0,
        part='train',
        pipeline=train_pipeline,
        dataset=dict(type=dataset_type, data_root=data_root, split='train')))

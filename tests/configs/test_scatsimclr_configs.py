"""The ScatSimCLR reproduction configs: names, and the recipe values of every full-scale variant.

Values pinned here are the reference's (vkinakh/scatsimclr ``config.yaml`` / ``config_pretext.yaml``,
``src/trainer/*.py``, ``src/data/augmentor.py``, ``src/data/base_dataset_wrapper.py``) as listed in
``configs/scatsimclr/README.md``; a change to any of them in a base file fails here.
"""
import itertools
import re
from pathlib import Path

import pytest
from mmengine.config import Config

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = ROOT / 'configs' / 'scatsimclr'
# dataset field: (dataset type, split, input px, preprocessor mean, std)
CIFAR_STATS = ([125.205, 122.91, 113.985], [62.985, 61.965, 66.555])  # reference CIFAR_STATS x 255
IMAGENET_STATS = ([123.675, 116.28, 103.53], [58.395, 57.12, 57.375])
DATASETS = {
    'cifar10': ('CIFAR10', 'train', 32, *CIFAR_STATS),
    'cifar100-20': ('CIFAR100_20', 'train', 32, *CIFAR_STATS),
    'stl10': ('STL10', 'train+unlabeled', 96, *IMAGENET_STATS)
}
PRETEXTS = {'': None, '-rotation': 'RotationHead', '-jigsaw': 'JigsawHead'}
DEPTHS = (8, 12, 16, 30)
# every full-scale config: name -> (backbone, depth or None, pretext head or None, dataset field)
EXPECTED = {
    f'scatsimclr{p}_scatnet{d}_1xb64-100e_{ds}.py': ('ScatNet', d, head, ds)
    for d, (p, head), ds in itertools.product(DEPTHS, PRETEXTS.items(), DATASETS)
}
EXPECTED.update({f'simclr_resnet18_1xb64-100e_{ds}.py': ('ResNet', None, None, ds) for ds in DATASETS})
EXPECTED.update({
    f'simclr{p}_resnet18_1xb64-100e_stl10.py': ('ResNet', None, head, 'stl10')
    for p, head in PRETEXTS.items() if head
})
NAME = re.compile(r'^(scatsimclr|simclr)(-rotation|-jigsaw)?_(scatnet\d+|resnet18)_1xb64-(100e|cpu)_'
                  r'(cifar10|cifar100-20|stl10|cifar10-subset)\.py$')


def test_every_variant_exists_under_the_mmpretrain_name_scheme():
    full_scale = {p.name for p in CONFIGS.glob('*.py') if '-cpu_' not in p.name}
    assert full_scale == set(EXPECTED)
    assert len(EXPECTED) == 41  # 4 depths x 3 pretexts x 3 datasets + 3 SimCLR + 2 SimCLR+pretext
    assert all(NAME.match(name) for name in EXPECTED)
    assert not list(CONFIGS.glob('scatsimclr[0-9]*_1xb64-100e_*.py'))  # the old names are gone


@pytest.mark.parametrize('name', sorted(EXPECTED))
def test_recipe_values(name):
    backbone, depth, head, ds = EXPECTED[name]
    ds_type, split, size, mean, std = DATASETS[ds]
    cfg = Config.fromfile(str(CONFIGS / name))
    model = cfg.model
    # optimisation: Adam 3e-4, wd 10e-6, constant lr, 100 epochs, batch 64 not scaled
    assert cfg.optim_wrapper.optimizer == dict(type='Adam', lr=3e-4, weight_decay=1e-5)
    assert [s.type for s in cfg.param_scheduler] == ['ConstantLR'] and cfg.param_scheduler[0].factor == 1.0
    assert cfg.train_cfg == dict(type='EpochBasedTrainLoop', max_epochs=100)
    assert cfg.auto_scale_lr.base_batch_size == 64
    loader = cfg.train_dataloader
    assert (loader.batch_size, loader.drop_last, loader.sampler.shuffle) == (64, True, True)
    # data: 95 % of the training split (seeded hold-out), the reference's statistics and augmentation
    data = loader.dataset
    assert (data.type, data.ratio, data.seed, data.part) == ('HoldOutSplit', 0.05, 0, 'train')
    assert (data.dataset.type, data.dataset.split) == (ds_type, split) and 'pipeline' not in data.dataset
    assert (cfg.data_preprocessor.mean, cfg.data_preprocessor.std) == (mean, std)
    assert cfg.data_preprocessor.to_rgb is False
    view = cfg.view_pipeline
    assert [t.type for t in view] == [
        'torchvision/ToPILImage', 'torchvision/Resize', 'torchvision/RandomResizedCrop',
        'torchvision/RandomHorizontalFlip', 'RandomApply', 'torchvision/RandomGrayscale', 'CV2GaussianBlur'
    ]
    assert view[2].size == (size, size) and view[2].interpolation == 'lanczos'
    assert view[4].prob == 0.8 and view[4].transforms[0] == dict(
        type='torchvision/ColorJitter', brightness=0.8, contrast=0.8, saturation=0.8, hue=0.2)
    assert view[5].p == 0.2 and view[6].prob == 0.5
    first = data.pipeline[0]
    if head is None:
        assert first.type == 'MultiView' and first.num_views == 2 and first.transforms == [view]
    elif head == 'RotationHead':
        assert first.type == 'RotationPretext' and first.transforms == view
    else:
        assert first.type == 'JigsawPretext' and first.tile_size == size and 'permutations_file' not in first
    # model: NT-Xent T = 0.5, lambda = 0.3 from the start (code), reference defaults for BN / views
    assert model.type == 'ScatSimCLR' and model.loss == dict(type='NTXentLoss', temperature=0.5)
    assert (model.pretext_weight, model.pretext_start) == (0.3, 0)
    assert 'scat_norm' not in model.backbone and 'batched_views' not in model  # the reference defaults
    assert model.backbone.type == backbone
    if backbone == 'ScatNet':
        assert (model.backbone.depth, model.backbone.J, model.backbone.L) == (depth, 2, 16)
        assert tuple(model.backbone.input_size) == (size, size)
        assert (model.neck.in_channels, model.neck.hid_channels, model.neck.out_channels) == (2048, 2048, 128)
        assert model.neck.with_avg_pool is False
    else:
        assert model.backbone.depth == 18 and model.backbone.zero_init_residual is False
        assert (model.neck.in_channels, model.neck.hid_channels, model.neck.out_channels) == (512, 512, 128)
        assert model.neck.with_avg_pool is True
    if head is None:
        assert 'pretext_head' not in model
    else:
        assert model.pretext_head.type == head
        assert model.pretext_head.get('in_channels', 2048) == (2048 if backbone == 'ScatNet' else 512)
        assert model.get('raw_pretext_inputs', False) is (head == 'JigsawHead')
    assert cfg.custom_hooks == [dict(type='ScatSimCLRPretextScheduleHook')]
    assert cfg.default_hooks.checkpoint.interval == 10

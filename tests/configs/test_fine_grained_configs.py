"""Fine-grained classification configs (linear probe and fine-tune, ResNet-50 and ViT-S/16, five datasets).

The fast tests check every config's dataset, class count and protocol; the slow test trains two of them for one
iteration in a real Runner on a Flowers-102-layout copy of ``../shared/data/flowers128`` (5 classes), overriding
only the data root, the class count and the schedule length.
"""
from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmpretrain.registry import DATASETS, MODELS

import mmspatial  # noqa: F401

ROOT = Path(__file__).resolve().parents[2]
FG = ROOT / 'configs' / 'benchmarks' / 'classification' / 'fine-grained'
IN1K = ROOT / 'configs' / 'benchmarks' / 'classification'
# dataset suffix: (mmpretrain type, classes, train split, test split)
DATASETS_EXPECTED = {
    'cub': ('CUB', 200, 'train', 'test'),
    'stanford-cars': ('StanfordCars', 196, 'train', 'test'),
    'fgvc-aircraft': ('FGVCAircraft', 100, 'trainval', 'test'),
    'flowers102': ('Flowers102', 102, 'trainval', 'test'),
    'oxford-iiit-pet': ('OxfordIIITPet', 37, 'trainval', 'test'),
}
# protocol stem: (backbone type, frozen, optimizer, lr, head type)
PROTOCOLS = {
    'resnet50_linear-8xb32-coslr-100e': ('ResNet', True, 'SGD', 0.3, 'LinearClsHead'),
    'vit-small-p16_linear-8xb128-coslr-100e': ('ViTLastBlocks', True, 'SGD', 0.004, 'LinearClsHead'),
    'resnet50_fine-tune-8xb8-coslr-100e': ('ResNet', False, 'SGD', 0.01, 'LinearClsHead'),
    'vit-small-p16_fine-tune-8xb8-coslr-100e': ('VisionTransformer', False, 'AdamW', 1e-4, 'VisionTransformerClsHead'),
}
NAMES = [f'{p}_{d}.py' for p in PROTOCOLS for d in DATASETS_EXPECTED]


def test_every_config_exists_and_nothing_else():
    assert sorted(p.name for p in FG.glob('*.py')) == sorted(NAMES)


@pytest.mark.parametrize('name', NAMES)
def test_dataset_and_protocol(name):
    stem, suffix = name[:-3].rsplit('_', 1)
    ds_type, num_classes, train_split, test_split = DATASETS_EXPECTED[suffix]
    backbone, frozen, optim, lr, head = PROTOCOLS[stem]
    cfg = Config.fromfile(str(FG / name))
    assert cfg.model.head.type == head and cfg.model.head.num_classes == num_classes
    assert cfg.data_preprocessor.num_classes == num_classes
    assert cfg.model.backbone.type == backbone
    assert cfg.model.backbone.init_cfg.type == 'Pretrained'
    assert cfg.model.backbone.init_cfg.prefix.endswith('backbone.')
    assert (cfg.model.backbone.get('frozen_stages', -1) > 0) == frozen
    for loader, split in ((cfg.train_dataloader, train_split), (cfg.val_dataloader, test_split), (cfg.test_dataloader,
                                                                                                  test_split)):
        assert loader.dataset.type == ds_type and loader.dataset.split == split
        assert set(loader.dataset) == {'type', 'data_root', 'split', 'pipeline'}
    # 224-px protocol: random-resized crop for training, resize 256 + centre crop 224 for testing
    assert cfg.train_dataloader.dataset.pipeline[1].type == 'RandomResizedCrop'
    assert cfg.train_dataloader.dataset.pipeline[1].scale == 224
    crop = cfg.val_dataloader.dataset.pipeline[2]
    assert crop.type == 'CenterCrop' and crop.crop_size == 224
    assert cfg.optim_wrapper.optimizer.type == optim
    assert cfg.optim_wrapper.optimizer.lr == pytest.approx(lr)
    assert {'type': 'CheckpointCoverageHook'} in cfg.custom_hooks
    if frozen:  # the linear probes are the ImageNet linear protocol with other data, nothing else
        base = Config.fromfile(str(IN1K / f'{stem}_in1k.py'))
        assert cfg.optim_wrapper == base.optim_wrapper and cfg.param_scheduler == base.param_scheduler
        for split in ('train_dataloader', 'val_dataloader'):
            assert _unscoped(cfg[split].dataset.pipeline) == _unscoped(base[split].dataset.pipeline)


def _unscoped(pipeline) -> list:
    # mmengine tags transforms inherited across packages with _scope_; compare the transforms only
    return [{k: v for k, v in t.items() if k != '_scope_'} for t in pipeline]


@pytest.mark.parametrize('suffix', ['cub', 'stanford-cars', 'fgvc-aircraft', 'oxford-iiit-pet'])
def test_class_counts_match_mmpretrain_class_names(suffix):
    ds_type, num_classes, _, _ = DATASETS_EXPECTED[suffix]
    assert len(DATASETS.get(ds_type).METAINFO['classes']) == num_classes


def _flowers102_layout(src: Path, dst: Path, per_class_train: int = 2, per_class_test: int = 1) -> int:
    """A Flowers-102-layout copy (jpg/image_%05d.jpg, imagelabels.mat, setid.mat) of a class-folder set."""
    import scipy.io
    (dst / 'jpg').mkdir(parents=True)
    classes = sorted(p.name for p in src.iterdir() if p.is_dir())
    labels, train_ids, test_ids = [], [], []
    for label, cls in enumerate(classes):
        files = sorted((src / cls).glob('*.jpg'))[:per_class_train + per_class_test]
        for i, f in enumerate(files):
            labels.append(label + 1)  # 1-based, as in the official imagelabels.mat
            image_id = len(labels)
            (dst / 'jpg' / f'image_{image_id:05d}.jpg').symlink_to(f.resolve())
            (train_ids if i < per_class_train else test_ids).append(image_id)
    scipy.io.savemat(dst / 'imagelabels.mat', dict(labels=np.array([labels], dtype=np.uint8)))
    # trainval = trnid + valid (two ids in valid: mat4py reads a 1-element vector as a scalar)
    scipy.io.savemat(
        dst / 'setid.mat',
        dict(
            trnid=np.array([train_ids[2:]], dtype=np.uint16),
            valid=np.array([train_ids[:2]], dtype=np.uint16),
            tstid=np.array([test_ids], dtype=np.uint16)))
    return len(classes)


def _pretraining_checkpoint(cfg: Config, path: Path) -> dict:
    """The config's backbone, seeded, saved under its init_cfg prefix beside an unrelated key."""
    torch.manual_seed(1)
    backbone = MODELS.build(dict(cfg.model.backbone, init_cfg=None))
    prefix = cfg.model.backbone.init_cfg.prefix
    state = {prefix + k: v.clone() for k, v in backbone.state_dict().items()}
    state['neck.fc.weight'] = torch.zeros(2, 2)
    torch.save(dict(state_dict=state, meta=dict()), path)
    return backbone.state_dict()


@pytest.mark.slow
@pytest.mark.parametrize(
    'name', ['resnet50_linear-8xb32-coslr-100e_flowers102.py', 'vit-small-p16_fine-tune-8xb8-coslr-100e_flowers102.py'])
def test_runs_on_flowers128_through_the_config(name, tmp_path, shared_data):
    """Override data root, class count and length; train 1 iteration, validate, get an accuracy."""
    from mmengine.runner import Runner

    num_classes = _flowers102_layout(shared_data / 'flowers128', tmp_path / 'Flowers102')
    assert num_classes == 5
    cfg = Config.fromfile(str(FG / name))
    expected = _pretraining_checkpoint(cfg, tmp_path / 'pretrain.pth')
    frozen = 'linear' in name
    cfg.merge_from_dict({  # what --cfg-options would give
        'model.backbone.init_cfg.checkpoint': str(tmp_path / 'pretrain.pth'),
        'model.head.num_classes': num_classes,
        'data_preprocessor.num_classes': num_classes,
        'train_dataloader.dataset.data_root': str(tmp_path / 'Flowers102'),
        'val_dataloader.dataset.data_root': str(tmp_path / 'Flowers102'),
        'test_dataloader.dataset.data_root': str(tmp_path / 'Flowers102'),
        'train_dataloader.batch_size': 5,
        'train_dataloader.num_workers': 0,
        'val_dataloader.batch_size': 5,
        'val_dataloader.num_workers': 0,
        'train_cfg': dict(_delete_=True, type='IterBasedTrainLoop', max_iters=1, val_interval=1),
        'param_scheduler': [],
        'work_dir': str(tmp_path / 'work'),
        'visualizer.vis_backends': [dict(type='LocalVisBackend')],
        'default_hooks.checkpoint': dict(type='CheckpointHook', interval=10)
    })
    cfg.val_dataloader.persistent_workers = cfg.train_dataloader.persistent_workers = False
    cfg.test_dataloader = cfg.test_cfg = cfg.test_evaluator = None
    runner = Runner.from_cfg(cfg)
    assert len(runner.train_dataloader.dataset) == 10 and len(runner.val_dataloader.dataset) == 5
    runner.train()
    metrics = runner.val_loop.run()
    assert 0. <= metrics['accuracy/top1'] <= 100.
    backbone = runner.model.backbone.state_dict()
    unchanged = [torch.equal(v, expected[k]) for k, v in backbone.items()]
    if frozen:  # linear probe: backbone bit-identical to the checkpoint (BN statistics included)
        assert all(unchanged)
    else:  # fine-tune: loaded (coverage hook passed) and then trained
        assert not all(unchanged)

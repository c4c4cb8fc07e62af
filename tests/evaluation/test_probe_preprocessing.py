"""A model trained a few steps and every probe see the same inputs (issue 14): channel order and
normalisation are decided by the data and its config, once.

The online kNN monitor and the learning protocol extract features through the model's own data
preprocessor (``extract_features``); the offline tools load the checkpoint into a ``FrozenBackbone`` and
normalise arrays themselves (``embed``), told the arrays' channel order by ``dataset_channel_order``. Both
paths must give the same features; a swapped channel order or a missing normalisation must not.
"""
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner

from mmspatial.evaluation.features import extract_features
from mmspatial.evaluation.spatial_reasoning.common import (FrozenBackbone, backbone_channel_order,
                                                           dataset_channel_order, load_frozen_backbone,
                                                           preprocessor_norm)

# A tiny SimCLR (mmpretrain's) whose first conv sees colour: the probe comparison is exact up to float error.
CONFIG = """
default_scope = 'mmpretrain'
custom_imports = dict(imports=['mmspatial'], allow_failed_imports=False)
model = dict(
    type='SimCLR',
    backbone=dict(type='ResNet_CIFAR', depth=18, stem_channels=8, base_channels=8),
    neck=dict(type='NonLinearNeck', in_channels=64, hid_channels=32, out_channels=16, num_layers=2,
              with_avg_pool=True),
    head=dict(type='ContrastiveHead', loss=dict(type='CrossEntropyLoss'), temperature=0.2))
view = [dict(type='RandomResizedCropWithBox', scale=32, crop_ratio_range=(0.5, 1.), backend='pillow'),
        dict(type='RandomFlipWithFlag', prob=0.5)]
train_dataloader = dict(
    batch_size=8, num_workers=0, drop_last=True, sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(DATASET, pipeline=[
        dict(type='MultiViewWithGeometry', num_views=[1, 1], transforms=[view, view]),
        dict(type='PackInputs', algorithm_keys=['view_bboxes', 'view_flips', 'view_shapes',
                                                'ori_img_shape'])]))
optim_wrapper = dict(type='OptimWrapper', optimizer=dict(type='SGD', lr=0.5, momentum=0.9))
train_cfg = dict(type='IterBasedTrainLoop', max_iters=3)
default_hooks = dict(checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=3),
                     logger=dict(type='LoggerHook', interval=1))
log_level = 'WARNING'
randomness = dict(seed=0)
"""
# RGB arrays (.npz): no conversion; mean/std in RGB order
NPZ = ("dict(type='NpzImageDataset', ann_file='{npz}', split='train', with_label=True)",
       "data_preprocessor = dict(type='SelfSupDataPreprocessor', mean=[125.3, 123.0, 113.9], "
       "std=[63.0, 62.1, 66.7], to_rgb=False)")
# BGR scenes (as LoadImageFromFile gives files): converted to RGB by the preprocessor
SCENES = ("dict(type='SyntheticScenes', num_images=16, img_size=(32, 32), seed=0)",
          "data_preprocessor = dict(type='SelfSupDataPreprocessor', mean=[123.675, 116.28, 103.53], "
          "std=[58.395, 57.12, 57.375], to_rgb=True)")


def _images(cfg, n=16):
    """The raw arrays the dataset yields, in the dataset's own channel order, and their labels."""
    from mmpretrain.registry import DATASETS
    ds = DATASETS.build(dict(cfg.train_dataloader.dataset, pipeline=[]))
    infos = [ds.get_data_info(i) for i in range(n)]
    return np.stack([i['img'] for i in infos]), np.array([int(i['gt_label']) for i in infos])


def rel_err(a: torch.Tensor, b: torch.Tensor) -> float:
    """Relative Frobenius error: element-wise tolerances fail on features of ~1e6 whose float32 sums differ
    by a few ulps between batch sizes / thread counts (seen in the full suite)."""
    return float((a.double() - b.double()).norm() / b.double().norm())


@pytest.fixture(params=['npz', 'scenes'])
def trained(request, tmp_path):
    rng = np.random.default_rng(0)
    imgs = rng.integers(0, 256, (16, 32, 32, 3), dtype=np.uint8)
    imgs[:8, ..., 0] = 250  # strongly coloured halves, so a channel swap changes the features
    np.savez(tmp_path / 'tiny.npz', train_images=imgs, train_labels=np.arange(16) % 2)
    dataset, pre = NPZ if request.param == 'npz' else SCENES
    text = CONFIG.replace('DATASET', dataset.format(npz=tmp_path / 'tiny.npz')) + pre + '\n'
    (tmp_path / 'cfg.py').write_text(text)
    cfg = Config.fromfile(str(tmp_path / 'cfg.py'))
    cfg.work_dir = str(tmp_path / 'work')
    runner = Runner.from_cfg(cfg)
    runner.train()
    return request.param, cfg, runner, str(tmp_path / 'cfg.py'), str(tmp_path / 'work' / 'iter_3.pth')


def test_channel_order_is_a_property_of_the_data(trained):
    kind, cfg, _, _, _ = trained
    data_order = dataset_channel_order(cfg.train_dataloader.dataset)
    assert data_order == ('rgb' if kind == 'npz' else 'bgr')
    assert backbone_channel_order(cfg) == 'rgb'  # both models saw RGB, one by conversion


def test_probe_and_training_preprocess_alike(trained):
    kind, cfg, runner, cfg_path, ckpt = trained
    model = runner.model
    # the monitor / protocol path: the dataset class and the model's data preprocessor, no augmentation
    loader = runner.build_dataloader(
        dict(
            batch_size=8,
            num_workers=0,
            sampler=dict(type='DefaultSampler', shuffle=False),
            collate_fn=dict(type='default_collate'),
            dataset=dict(cfg.train_dataloader.dataset, pipeline=[dict(type='PackInputs')])))
    feats, _ = extract_features(model.backbone, loader, model.data_preprocessor)
    # the offline-tool path: the checkpoint in a FrozenBackbone, arrays with their declared order
    frozen = load_frozen_backbone(cfg_path, ckpt)
    imgs, _ = _images(cfg)
    order = dataset_channel_order(cfg.train_dataloader.dataset)
    probe = torch.from_numpy(frozen.embed(imgs, channel_order=order)).float()
    assert rel_err(probe, feats) < 1e-5
    # the same weights fed swapped channels or un-normalised inputs give other features: the check above
    # would catch a probe that disagrees with training
    swapped = torch.from_numpy(frozen.embed(imgs, channel_order='bgr' if order == 'rgb' else 'rgb')).float()
    assert rel_err(swapped, feats) > 1e-2
    raw = FrozenBackbone('raw', frozen.backbone, mean=(0., 0., 0.), std=(1., 1., 1.), to_rgb=frozen.to_rgb)
    assert rel_err(torch.from_numpy(raw.embed(imgs, channel_order=order)).float(), feats) > 1e-2
    # the preprocessor's own mean/std are what the offline probe uses
    mean, std, converts = preprocessor_norm(model.data_preprocessor)
    assert np.allclose(mean, frozen.mean) and np.allclose(std, frozen.std)
    assert converts is (kind == 'scenes')


def test_linear_eval_tool_passes_the_data_order(trained, tmp_path):
    """tools/analysis/scatsimclr_linear_eval.py (the issue-14 bug: RGB arrays embedded as if BGR)."""
    kind, cfg, runner, cfg_path, ckpt = trained
    if kind != 'npz':
        pytest.skip('the tool reads .npz / array datasets')
    import importlib.util
    from pathlib import Path
    path = Path(__file__).resolve().parents[2] / 'tools' / 'analysis' / 'scatsimclr_linear_eval.py'
    spec = importlib.util.spec_from_file_location('scatsimclr_linear_eval', path)
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    npz = cfg.train_dataloader.dataset.ann_file
    data = np.load(npz)
    np.savez(
        tmp_path / 'split.npz',
        train_images=data['train_images'],
        train_labels=data['train_labels'],
        val_images=data['train_images'],
        val_labels=data['train_labels'])

    class Args:
        data, train_split, test_split = str(tmp_path / 'split.npz'), None, None

    loaded = tool.load_data(Args)
    assert loaded['channel_order'] == 'rgb'
    frozen = load_frozen_backbone(cfg_path, ckpt)
    loader = runner.build_dataloader(
        dict(
            batch_size=8,
            num_workers=0,
            sampler=dict(type='DefaultSampler', shuffle=False),
            collate_fn=dict(type='default_collate'),
            dataset=dict(cfg.train_dataloader.dataset, pipeline=[dict(type='PackInputs')])))
    feats, _ = extract_features(runner.model.backbone, loader, runner.model.data_preprocessor)
    probe = frozen.embed(loaded['train_images'], channel_order=loaded['channel_order'])
    assert rel_err(torch.from_numpy(probe).float(), feats) < 1e-5

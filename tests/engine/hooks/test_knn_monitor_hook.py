"""KNNMonitorHook in a real mmengine Runner (BYOL ResNet-18, 32 px, 2 iterations) and its backbone lookup."""
import json

import pytest
from mmengine.runner import Runner
from mmpretrain.registry import HOOKS, MODELS
from torch import nn

import mmspatial  # noqa: F401  (registers KNNMonitorHook, SyntheticScenes, *WithBox)
from mmspatial.engine.hooks.knn_monitor_hook import KNNMonitorHook, resolve_backbone

SIZE = 32
VIEW = [
    dict(type='RandomResizedCropWithBox', scale=SIZE, crop_ratio_range=(0.2, 1.)),
    dict(type='RandomFlipWithFlag', prob=0.5)
]
KNN_PIPELINE = [dict(type='ResizeWithBox', scale=SIZE), dict(type='PackInputs')]
PREPROCESSOR = dict(
    type='SelfSupDataPreprocessor', mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], to_rgb=True)


def byol_model():
    return dict(
        type='BYOL',
        base_momentum=0.01,
        data_preprocessor=PREPROCESSOR,
        backbone=dict(type='ResNet', depth=18),
        neck=dict(
            type='NonLinearNeck',
            in_channels=512,
            hid_channels=64,
            out_channels=32,
            num_layers=2,
            with_bias=True,
            with_last_bn=False,
            with_avg_pool=True),
        head=dict(
            type='LatentPredictHead',
            loss=dict(type='CosineSimilarityLoss'),
            predictor=dict(
                type='NonLinearNeck',
                in_channels=32,
                hid_channels=64,
                out_channels=32,
                num_layers=2,
                with_bias=True,
                with_last_bn=False,
                with_avg_pool=False)))


def knn_loader(seed, num_images):
    return dict(
        batch_size=4,
        dataset=dict(
            type='SyntheticScenes', num_images=num_images, img_size=(48, 64), seed=seed, pipeline=KNN_PIPELINE))


def build_runner(tmp_path, hook):
    train_pipeline = [
        dict(type='MultiViewWithGeometry', num_views=[1, 1], transforms=[VIEW, VIEW]),
        dict(type='PackInputs', algorithm_keys=['view_bboxes', 'view_flips', 'view_shapes', 'ori_img_shape'])
    ]
    return Runner(
        model=byol_model(),
        work_dir=str(tmp_path),
        default_scope='mmpretrain',
        train_dataloader=dict(
            batch_size=2,
            num_workers=0,
            sampler=dict(type='DefaultSampler', shuffle=True),
            collate_fn=dict(type='default_collate'),
            dataset=dict(type='SyntheticScenes', num_images=4, img_size=(48, 64), seed=0, pipeline=train_pipeline)),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01, momentum=0.9)),
        train_cfg=dict(type='IterBasedTrainLoop', max_iters=2),
        default_hooks=dict(
            logger=dict(type='LoggerHook', interval=1), checkpoint=dict(type='CheckpointHook', interval=1000)),
        custom_hooks=[hook],
        visualizer=dict(type='UniversalVisualizer', vis_backends=[dict(type='LocalVisBackend')]),
        log_level='WARNING')


def read_scalars(tmp_path):
    files = list(tmp_path.glob('*/vis_data/scalars.json'))
    assert len(files) == 1, files
    return [json.loads(line) for line in files[0].read_text().splitlines() if line.strip()]


@pytest.mark.parametrize('branch', ['online', 'target'])
def test_hook_runs_in_runner_and_writes_scalars(tmp_path, branch):
    hook = dict(
        type='KNNMonitorHook',
        interval=1,
        by_epoch=False,
        before_train=True,
        k=3,
        branch=branch,
        train_dataloader=knn_loader(1, 8),
        val_dataloader=knn_loader(2, 6))
    runner = build_runner(tmp_path, hook)
    runner.train()
    knn = [r for r in read_scalars(tmp_path) if 'knn/top1' in r]
    # before training (step 0), after iteration 1 and after iteration 2
    assert [r['step'] for r in knn] == [0, 1, 2]
    for r in knn:
        assert 0 <= r['knn/top1'] <= 100 and r['knn/top5'] == 100.0  # 4 classes: top-5 always hits
        assert r['knn/time'] > 0
        # 6 queries: every accuracy is a multiple of 100 / 6
        assert abs(r['knn/top1'] * 6 / 100 - round(r['knn/top1'] * 6 / 100)) < 1e-6
    assert runner.message_hub.get_scalar('knn/top1').current() == knn[-1]['knn/top1']
    # the hook must hand the model back in train mode
    assert runner.model.training and runner.model.backbone.training
    [monitor] = [h for h in runner.hooks if isinstance(h, KNNMonitorHook)]
    assert len(monitor.history) == 3
    assert monitor.history_when == ['before training', 'iter 1', 'iter 2']
    # the closing line shows the logged numbers: first and last with their SE, the middle one plain
    top1, se = [r['knn/top1'] for r in knn], [r['knn/top1_se'] for r in knn]
    assert monitor.curve_summary().startswith(
        f'knn top-1 (k=3, 6 queries, bank 8, ±SE): {top1[0]:.1f}±{se[0]:.1f} (before training) → {top1[1]:.1f} '
        f'(iter 1) → {top1[2]:.1f}±{se[2]:.1f} (iter 2); {top1[2] - top1[0]:+.1f}±')


def test_curve_summary_on_hand_computed_values():
    """SE = 100 sqrt(p (1 - p) / n); the change's SE = sqrt(se_0^2 + se_last^2)."""
    hook = KNNMonitorHook(train_dataloader=knn_loader(1, 8), val_dataloader=knn_loader(2, 8))
    assert hook.curve_summary() == ''
    hook.num_bank, hook.num_queries = 512, 1024
    se25, se40 = 100 * (0.25 * 0.75 / 1024)**0.5, 100 * (0.4 * 0.6 / 1024)**0.5  # 1.353, 1.531
    for step, (top1, se, when) in enumerate([(25.0, se25, 'before training'), (31.25, 1.45, 'epoch 3'),
                                             (40.0, se40, 'epoch 6')]):
        hook.history.append((step, {'knn/top1': top1, 'knn/top1_se': se}))
        hook.history_when.append(when)
    assert hook.curve_summary() == ('knn top-1 (k=20, 1024 queries, bank 512, ±SE): 25.0±1.4 (before training) → '
                                    '31.2 (epoch 3) → 40.0±1.5 (epoch 6); +15.0±2.0 points (7.3 SE)')


def test_resolve_backbone_byol_paths(tmp_path):
    """'online' is model.backbone, 'target' the EMA copy inside CosineEMA(Sequential(...))."""
    runner = build_runner(
        tmp_path, dict(type='KNNMonitorHook', train_dataloader=knn_loader(1, 8), val_dataloader=knn_loader(2, 8)))
    model = runner.model
    assert resolve_backbone(model, 'online') is model.backbone
    assert resolve_backbone(model, 'target') is model.target_net.module[0]
    assert resolve_backbone(model, 'online', 'target_net.module.0') is model.target_net.module[0]
    with pytest.raises(AttributeError, match='backbone_path'):
        resolve_backbone(model, 'online', 'target_net.module.7')
    with pytest.raises(ValueError, match='branch'):
        KNNMonitorHook(train_dataloader=knn_loader(1, 8), val_dataloader=knn_loader(2, 8), branch='ema')


def test_resolve_backbone_dino_style_teacher():

    class Teacherish(nn.Module):

        def __init__(self):
            super().__init__()
            self.backbone = nn.Linear(2, 2)
            self.teacher = nn.ModuleDict(dict(backbone=nn.Linear(2, 3), neck=nn.Identity()))

    model = Teacherish()
    assert resolve_backbone(model, 'target') is model.teacher['backbone']
    with pytest.raises(AttributeError, match='no target'):
        resolve_backbone(nn.Module(), 'target')


def test_registered():
    assert HOOKS.get('KNNMonitorHook') is KNNMonitorHook
    assert MODELS.get('BYOL') is not None
    with pytest.raises(TypeError, match='train_dataloader'):
        KNNMonitorHook(train_dataloader=None, val_dataloader=knn_loader(2, 8))

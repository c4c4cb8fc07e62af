"""NYU-Depth-v2 configs (``configs/benchmarks/mmseg/depth/``): mmseg's DepthEstimator / NYUDataset / SiLogLoss /
DepthMetric with our DepthFPNHead, run end to end on the synthetic scenes exported in NYU's layout in a real mmseg
Runner; the metric path scores a perfect prediction d1 = 1, AbsRel = 0; a checkpoint that does not cover the
backbone stops the run with the coverage error."""
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope

import mmspatial  # noqa: F401
from mmspatial.datasets.synthetic_depth import export_nyu_depth
from mmspatial.datasets.synthetic_scenes import SyntheticScenes

ROOT = Path(__file__).resolve().parents[2]
DEPTH = ROOT / 'configs' / 'benchmarks' / 'mmseg' / 'depth'
NYU_CONFIGS = ['fpn_r50_4xb8-25k_nyu-480x480.py', 'fpn_vit-s16_4xb8-25k_nyu-480x480.py']
SYNTHETIC = 'fpn_r18_1xb8-cpu-10e_synthetic-nyu-128x160.py'
METRIC_KEYS = {'d1', 'd2', 'd3', 'abs_rel', 'sq_rel', 'rmse', 'rmse_log', 'log10', 'silog'}


@pytest.mark.parametrize('name', NYU_CONFIGS)
def test_nyu_config(name):
    cfg = Config.fromfile(str(DEPTH / name))
    assert cfg.default_scope == 'mmseg' and cfg.model.type == 'DepthEstimator'
    head = cfg.model.decode_head
    assert head.type == 'DepthFPNHead' and head.loss_decode.type == 'SiLogLoss' and head.max_depth == 10
    assert cfg.model.data_preprocessor.seg_pad_val == 0  # padding is invalid depth, not 255 m
    assert cfg.model.backbone.init_cfg.type == 'Pretrained'
    assert {'type': 'CheckpointCoverageHook'} in cfg.custom_hooks
    # mmseg's VPD NYU recipe: 480 crops, 4 x 8 images, 25k iterations, slide-flip test, NYU eval crop
    assert cfg.train_dataloader.dataset.type == 'NYUDataset' and cfg.train_dataloader.batch_size == 8
    assert cfg.train_dataloader.dataset.pipeline[4] == dict(type='RandomCrop', crop_size=(480, 480))
    assert cfg.train_cfg.max_iters == 25000 and cfg.model.test_cfg.mode == 'slide_flip'
    assert cfg.val_evaluator == dict(
        type='DepthMetric', min_depth_eval=0.001, max_depth_eval=10.0, crop_type='nyu_crop', _scope_='mmseg')


def test_vit_config_builds_a_stride_4_pyramid():
    cfg = Config.fromfile(str(DEPTH / NYU_CONFIGS[1]))
    cfg.model.backbone.update(
        arch=dict(embed_dims=32, num_layers=12, num_heads=2, feedforward_channels=64), img_size=64, init_cfg=None)
    assert cfg.model.neck[0].norm_cfg == dict(type='SyncBN', requires_grad=True)
    cfg.model.neck[0].update(in_channels=32, norm_cfg=dict(type='BN'))
    cfg.model.neck[1].update(in_channels=[32] * 4, out_channels=16)
    cfg.model.decode_head.update(in_channels=[16] * 4, channels=8, norm_cfg=dict(type='BN'))
    from mmseg.registry import MODELS
    with DefaultScope.overwrite_default_scope('mmseg'):
        model = MODELS.build(cfg.model)
    model.eval()
    with torch.no_grad():
        feats = model.extract_feat(torch.rand(1, 3, 64, 64))
        depth = model.decode_head(feats)
    assert [f.shape[-1] for f in feats] == [16, 8, 4, 2]  # strides 4, 8, 16, 32
    assert depth.shape == (1, 1, 16, 16) and 0 < depth.min() and depth.max() < 10


def _runner_cfg(tmp_path, checkpoint, iters_per_epoch=2, epochs=1):
    """The synthetic config on 16 + 8 exported scenes, overridden as --cfg-options would."""
    root = tmp_path / 'synthetic_nyu'
    export_nyu_depth(SyntheticScenes(num_images=8 * iters_per_epoch, seed=0), str(root), 'train')
    export_nyu_depth(SyntheticScenes(num_images=8, seed=1), str(root), 'test')
    cfg = Config.fromfile(str(DEPTH / SYNTHETIC))
    cfg.merge_from_dict({
        'model.backbone.init_cfg.checkpoint': str(checkpoint),
        'train_dataloader.dataset.data_root': str(root),
        'val_dataloader.dataset.data_root': str(root),
        'test_dataloader.dataset.data_root': str(root),
        'train_dataloader.num_workers': 0,
        'train_cfg.max_epochs': epochs,
        'train_cfg.val_interval': epochs,
        'param_scheduler': [],
        'work_dir': str(tmp_path / 'work'),
        'default_hooks.checkpoint.interval': 100,
        'visualizer.vis_backends': [dict(type='LocalVisBackend')],
    })
    return cfg


def _pretraining_checkpoint(path, drop=()):
    """A ResNet-18 saved as our pretraining checkpoints are (online backbone under 'backbone.')."""
    from mmseg.models.backbones import ResNet
    torch.manual_seed(0)
    state = {f'backbone.{k}': v for k, v in ResNet(depth=18).state_dict().items() if not k.startswith(drop)}
    state['neck.fc0.weight'] = torch.zeros(2, 2)
    torch.save(dict(state_dict=state, meta={}), path)


@pytest.mark.slow
def test_synthetic_depth_trains_and_the_metric_scores_a_perfect_prediction(tmp_path):
    from mmengine.runner import Runner
    _pretraining_checkpoint(tmp_path / 'pretrain.pth')
    runner = Runner.from_cfg(_runner_cfg(tmp_path, tmp_path / 'pretrain.pth'))
    runner.train()  # CheckpointCoverageHook passed: the backbone came from the checkpoint
    assert runner.iter == 2
    metrics = runner.val_loop.run()
    assert set(metrics) == METRIC_KEYS and all(torch.isfinite(torch.tensor(v)) for v in metrics.values())

    # Oracle: the true depth (and a 1.3x too far one) through the model's post-processing and the config's metric
    model, evaluator = runner.model, runner.val_evaluator
    model.eval()
    results = {}
    for scale in (1.0, 1.3):
        for batch in runner.val_dataloader:
            data = model.data_preprocessor(batch, False)
            gt = torch.stack([s.gt_depth_map.data for s in data['data_samples']])
            samples = model.postprocess_result(gt * scale, data['data_samples'])
            evaluator.process(data_samples=samples, data_batch=batch)
        results[scale] = evaluator.evaluate(len(runner.val_dataloader.dataset))
    assert results[1.0]['d1'] == 1.0 and results[1.0]['abs_rel'] == pytest.approx(0, abs=1e-7)
    assert results[1.0]['rmse'] == pytest.approx(0, abs=1e-6) and results[1.0]['silog'] == pytest.approx(0, abs=1e-3)
    # ratio 1.3 on every pixel: outside 1.25 (d1 = 0), inside 1.25^2 (d2 = 1), AbsRel = 0.3
    assert results[1.3]['d1'] == 0.0 and results[1.3]['d2'] == 1.0
    assert results[1.3]['abs_rel'] == pytest.approx(0.3, abs=1e-5)


def test_uncovered_backbone_stops_the_run(tmp_path):
    from mmengine.runner import Runner
    _pretraining_checkpoint(tmp_path / 'partial.pth', drop=('layer4', ))
    runner = Runner.from_cfg(_runner_cfg(tmp_path, tmp_path / 'partial.pth', iters_per_epoch=1))
    with pytest.raises(RuntimeError, match='does not cover the backbone') as err:
        runner.train()
    assert 'layer4.0.conv1.weight' in str(err.value)

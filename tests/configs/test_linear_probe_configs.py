"""The classification linear-probe configs load, build, load a backbone checkpoint and freeze it."""
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmpretrain.registry import MODELS

import mmspatial  # noqa: F401

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / 'configs' / 'benchmarks' / 'classification'
# config: (backbone type, head in_channels, optimizer lr, weight decay, epochs, per-GPU batch)
CONFIGS = {
    'resnet50_linear-8xb32-coslr-100e_in1k.py': ('ResNet', 2048, 0.3, 1e-6, 100, 32),
    'vit-small-p16_linear-8xb128-coslr-100e_in1k.py': ('ViTLastBlocks', 1536, 0.004, 0., 100, 128),
}


def test_every_config_is_listed():
    assert sorted(p.name for p in BENCH.glob('*.py')) == sorted(CONFIGS)
    readme = (ROOT / 'configs' / 'benchmarks' / 'README.md').read_text()
    assert all(name in readme for name in CONFIGS)


@pytest.mark.parametrize('name', sorted(CONFIGS))
def test_protocol_settings(name):
    backbone, in_channels, lr, wd, epochs, batch = CONFIGS[name]
    cfg = Config.fromfile(str(BENCH / name))
    assert cfg.model.type == 'ImageClassifier' and cfg.model.backbone.type == backbone
    assert cfg.model.head.in_channels == in_channels and cfg.model.head.num_classes == 1000
    init = cfg.model.backbone.init_cfg
    assert init.type == 'Pretrained' and init.prefix.endswith('backbone.')
    assert cfg.optim_wrapper.optimizer.type == 'SGD'
    assert cfg.optim_wrapper.optimizer.lr == pytest.approx(lr)
    assert cfg.optim_wrapper.optimizer.weight_decay == pytest.approx(wd)
    assert cfg.optim_wrapper.optimizer.momentum == 0.9
    assert cfg.train_cfg.max_epochs == epochs and cfg.param_scheduler[0].T_max == epochs
    assert cfg.train_dataloader.batch_size == batch
    assert cfg.train_dataloader.dataset.type == 'ImageNet'
    assert cfg.test_dataloader.dataset.split == 'val'
    assert {'type': 'CheckpointCoverageHook'} in cfg.custom_hooks


def _tiny_checkpoint(cfg: Config, path: Path, prefix: str) -> dict:
    """A pretraining-style checkpoint: the backbone under ``prefix`` plus unrelated keys."""
    torch.manual_seed(1)
    backbone = MODELS.build(dict(cfg.model.backbone, init_cfg=None))
    state = {prefix + k: v.clone() for k, v in backbone.state_dict().items()}
    state['neck.fc.weight'] = torch.zeros(2, 2)  # must be ignored
    torch.save(dict(state_dict=state, meta=dict()), path)
    return {k: v for k, v in backbone.state_dict().items()}


@pytest.mark.parametrize('name', sorted(CONFIGS))
def test_builds_loads_the_backbone_and_freezes_it(name, tmp_path):
    cfg = Config.fromfile(str(BENCH / name))
    # checkpoint unset (the placeholder): the model still builds
    assert 'MMSPATIAL_PRETRAINED' in cfg.model.backbone.init_cfg.checkpoint
    MODELS.build(cfg.model)

    ckpt = tmp_path / 'pretrain.pth'
    prefix = cfg.model.backbone.init_cfg.prefix
    expected = _tiny_checkpoint(cfg, ckpt, prefix)
    cfg.model.backbone.init_cfg.checkpoint = str(ckpt)
    torch.manual_seed(2)  # another init than the checkpoint's
    model = MODELS.build(dict(cfg.model, data_preprocessor=cfg.data_preprocessor))
    model.init_weights()
    for key, value in model.backbone.state_dict().items():
        assert torch.equal(value, expected[key]), key
    from mmspatial.engine.checkpoint_coverage import report_for_init_cfg
    report = report_for_init_cfg(model.backbone)
    assert report is not None and report.complete, report.not_loaded

    # linear probe: only the head learns; frozen BN / blocks stay in eval mode in train()
    model.train()
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable == {'head.fc.weight', 'head.fc.bias'}
    assert not any(m.training for m in model.backbone.modules() if isinstance(m, torch.nn.BatchNorm2d))

    # one forward at the protocol's input size gives 1000 logits
    model.eval()
    with torch.no_grad():
        feats = model.extract_feat(torch.randn(1, 3, 224, 224))
        logits = model.head(feats)
    assert feats[-1].shape == (1, CONFIGS[name][1]) and logits.shape == (1, 1000)


@pytest.mark.slow
@pytest.mark.parametrize('name', sorted(CONFIGS))
def test_two_iterations_in_a_runner_train_only_the_head(name, tmp_path):
    """The config trains in a real Runner: coverage check passes, the head learns, the backbone
    (weights and BN statistics) stays exactly the checkpoint's."""
    import cv2
    import numpy as np
    from mmengine.runner import Runner

    rng = np.random.RandomState(0)
    for label in ('a', 'b'):  # a tiny class-folder dataset instead of ImageNet
        (tmp_path / 'data' / label).mkdir(parents=True)
        for i in range(2):
            cv2.imwrite(str(tmp_path / 'data' / label / f'{i}.png'), rng.randint(0, 255, (64, 80, 3), dtype=np.uint8))
    cfg = Config.fromfile(str(BENCH / name))
    expected = _tiny_checkpoint(cfg, tmp_path / 'pretrain.pth', cfg.model.backbone.init_cfg.prefix)
    cfg.model.backbone.init_cfg.checkpoint = str(tmp_path / 'pretrain.pth')
    dataset = dict(type='CustomDataset', data_root=str(tmp_path / 'data'), with_label=True)
    cfg.train_dataloader = dict(
        batch_size=2,
        num_workers=0,
        sampler=dict(type='DefaultSampler', shuffle=True),
        dataset=dict(dataset, pipeline=cfg.train_dataloader.dataset.pipeline))
    cfg.val_dataloader = cfg.val_evaluator = cfg.val_cfg = None
    cfg.test_dataloader = cfg.test_evaluator = cfg.test_cfg = None
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=2)
    cfg.param_scheduler = None
    cfg.visualizer.vis_backends = [dict(type='LocalVisBackend')]
    cfg.work_dir = str(tmp_path / 'work')
    runner = Runner.from_cfg(cfg)
    head_before = {k: v.clone() for k, v in runner.model.head.state_dict().items()}
    runner.train()
    for key, value in runner.model.backbone.state_dict().items():
        assert torch.equal(value, expected[key]), key
    assert all(not torch.equal(v, head_before[k]) for k, v in runner.model.head.state_dict().items())

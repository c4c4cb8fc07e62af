"""Pretrain -> extract -> mmdet / mmseg fine-tuning with the benchmark configs (real libraries, CPU).

A tiny SCRL (``configs/scrl/scrl_resnet18_1xb32-coslr-3e_demo.py``, 1 iteration) is pretrained once per module;
its online and EMA backbones are extracted with ``tools/model_converters/extract_backbone.py``; the benchmark
configs of ``configs/benchmarks/`` are shrunk to ResNet-18 / ~128 px / 2 iterations by a child config
that only overrides sizes, data paths and the checkpoint, and trained + evaluated with real Runners
(COCO evaluation for mmdet, IoUMetric for mmseg). The backbone weights after initialisation are
compared with the extracted file by an independent snapshot hook, and CheckpointCoverageHook must
report full coverage; a mis-specified checkpoint must stop the run with the report.
"""
import json
import os
import runpy
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS

import mmspatial  # noqa: F401
from mmspatial.datasets.synthetic_scenes import SyntheticScenes

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / 'configs' / 'benchmarks'
COCO128 = (ROOT / '..' / 'shared' / 'data' / 'coco128').resolve()
SNAPSHOTS = []


@HOOKS.register_module(force=True)
class TransferTestSnapshotHook(Hook):
    """Records the backbone state dict when training starts (after weight initialisation)."""
    priority = 'VERY_LOW'

    def before_train(self, runner) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        SNAPSHOTS.append({k: v.detach().clone() for k, v in model.backbone.state_dict().items()})


@pytest.fixture(autouse=True)
def _fast_config_dump(monkeypatch):
    # The Runner yapf-formats every config it logs/dumps (seconds per Runner on 2 busy cores);
    # formatting does not change the config, so skip it in these tests.
    import mmengine.config.config as config_module
    monkeypatch.setattr(config_module, 'FormatCode', lambda text, **kwargs: (text, False))


def run(cmd, env=None, timeout=600):
    full_env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS='1', **(env or {}))
    proc = subprocess.run([str(c) for c in cmd],
                          cwd=ROOT,
                          env=full_env,
                          capture_output=True,
                          text=True,
                          timeout=timeout)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, f'{cmd} failed:\n{out[-6000:]}'
    return out


def run_tool(script, *args):
    """Run a CLI in-process (saves an interpreter start); returns its exit code."""
    argv = sys.argv
    sys.argv = [str(script)] + [str(a) for a in args]
    try:
        runpy.run_path(str(script), run_name='__main__')
        return 0
    except SystemExit as e:
        return e.code or 0
    finally:
        sys.argv = argv


# --------------------------------------------------------------------------------------------------
# pretraining + extraction (once per module)
@pytest.fixture(scope='module')
def pretrained(tmp_path_factory):
    from mmengine.runner import Runner
    tmp = tmp_path_factory.mktemp('pretrain')
    cfg = Config.fromfile(ROOT / 'configs' / 'scrl' / 'scrl_resnet18_1xb32-coslr-3e_demo.py')
    cfg.train_dataloader.update(batch_size=2, num_workers=0, persistent_workers=False)
    cfg.train_dataloader.dataset.num_images = 2
    cfg.train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=1)
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=1)
    cfg.visualizer.vis_backends = [dict(type='LocalVisBackend')]
    cfg.work_dir = str(tmp / 'work')
    cfg.log_level = 'WARNING'
    Runner.from_cfg(cfg).train()
    full = tmp / 'work' / 'epoch_1.pth'
    assert full.is_file()
    out = {'full': full}
    for branch in ('online', 'target'):
        out[branch] = tmp / f'scrl_r18_{branch}.pth'
        assert run_tool(ROOT / 'tools/model_converters/extract_backbone.py', full, out[branch], '--branch', branch) == 0
    return out


@pytest.mark.slow
def test_extracted_backbones_are_the_right_branches(pretrained):
    full = torch.load(pretrained['full'], map_location='cpu', weights_only=False)['state_dict']
    for branch, prefix in (('online', 'backbone.'), ('target', 'target_net.module.0.')):
        ckpt = torch.load(pretrained[branch], map_location='cpu', weights_only=False)
        assert set(ckpt) == {'state_dict', 'meta'}
        expected = {k[len(prefix):]: v for k, v in full.items() if k.startswith(prefix)}
        assert set(ckpt['state_dict']) == set(expected)
        assert all(torch.equal(ckpt['state_dict'][k], v) for k, v in expected.items())
        assert ckpt['meta']['mmspatial']['prefix'] == prefix
        assert ckpt['meta']['mmspatial']['arch'] == 'resnet'
    # After an EMA step the two branches differ, so the test above can tell them apart.
    online = torch.load(pretrained['online'], weights_only=False)['state_dict']['layer1.0.conv1.weight']
    target = torch.load(pretrained['target'], weights_only=False)['state_dict']['layer1.0.conv1.weight']
    assert not torch.equal(online, target)


# --------------------------------------------------------------------------------------------------
# tiny child configs of the benchmark configs
def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def coco_data(tmp: Path):
    """4 images of coco128 (real COCO annotations) or, without shared data, the demo's COCO export."""
    out = tmp / 'coco'
    out.mkdir(exist_ok=True)
    if COCO128.is_dir():
        src = json.loads((COCO128 / 'annotations' / 'instances_train2017.json').read_text())
        images = sorted(src['images'], key=lambda i: i['file_name'])[:4]
        ids = {i['id'] for i in images}
        sub = dict(src, images=images, annotations=[a for a in src['annotations'] if a['image_id'] in ids])
        ann = out / 'instances_4.json'
        ann.write_text(json.dumps(sub))
        return str(COCO128) + '/', str(ann), 'train2017/', None
    ann = SyntheticScenes(num_images=4, img_size=(96, 128), seed=0).export_coco(str(out))
    classes = tuple(SyntheticScenes.METAINFO['classes'])
    return str(out) + '/', ann, 'images/', classes


def mmdet_child(tmp: Path, ckpt: Path) -> Path:
    data_root, ann, img_dir, classes = coco_data(tmp)
    num_classes = len(classes) if classes else 80
    metainfo = f'dict(classes={classes!r})' if classes else 'None'
    return _write(
        tmp / 'mask_rcnn_r18_tiny.py', f"""
_base_ = '{BENCH}/mmdet/mask-rcnn_r50_fpn_syncbn-ms-1x_coco.py'
model = dict(
    backbone=dict(depth=18, init_cfg=dict(checkpoint='{ckpt}')),
    neck=dict(in_channels=[64, 128, 256, 512], out_channels=32),
    rpn_head=dict(in_channels=32, feat_channels=32),
    roi_head=dict(
        bbox_roi_extractor=dict(out_channels=32),
        bbox_head=dict(in_channels=32, conv_out_channels=32, fc_out_channels=64,
                       num_classes={num_classes}),
        mask_roi_extractor=dict(out_channels=32),
        mask_head=dict(in_channels=32, conv_out_channels=32, num_classes={num_classes})),
    train_cfg=dict(rpn=dict(sampler=dict(num=64)), rcnn=dict(sampler=dict(num=64))),
    # score_thr=0: after 2 iterations every score is low; COCO evaluation needs some detections.
    test_cfg=dict(rpn=dict(nms_pre=200, max_per_img=50), rcnn=dict(score_thr=0., max_per_img=20)))
tiny_train = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='Resize', scale=(128, 128), keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs')]
tiny_test = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(128, 128), keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='PackDetInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor'))]
tiny_data = dict(data_root='{data_root}', ann_file='{ann}', data_prefix=dict(img='{img_dir}'),
                 metainfo={metainfo})
train_dataloader = dict(batch_size=2, num_workers=0, persistent_workers=False,
                        dataset=dict(pipeline=tiny_train, **tiny_data))
val_dataloader = dict(batch_size=2, num_workers=0, persistent_workers=False,
                      dataset=dict(pipeline=tiny_test, **tiny_data))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file='{ann}', metric=['bbox', 'segm'])
test_evaluator = val_evaluator
optim_wrapper = dict(optimizer=dict(lr=0.002))
param_scheduler = [dict(type='ConstantLR', factor=1.0, by_epoch=False)]
train_cfg = dict(_delete_=True, type='IterBasedTrainLoop', max_iters=2, val_begin=1000)
default_hooks = dict(checkpoint=dict(by_epoch=False, interval=1000), logger=dict(interval=1))
log_processor = dict(by_epoch=False)
log_level = 'WARNING'
randomness = dict(seed=0)
""")


def mmseg_child(tmp: Path, ckpt: Path, layout: str) -> Path:
    root = tmp / layout
    scenes = SyntheticScenes(num_images=4, img_size=(96, 128), seed=1)
    if layout == 'ade20k':
        base, splits = 'fpn_r50_syncbn_4xb4-40k_ade20k-512x512.py', ('training', 'validation')
        model = """
    neck=dict(in_channels=[64, 128, 256, 512], out_channels=32),
    decode_head=dict(in_channels=[32, 32, 32, 32], channels=32))"""
        load_ann = "dict(type='LoadAnnotations', reduce_zero_label=True)"
        prefixes = [dict(img_path=f'images/{s}', seg_map_path=f'annotations/{s}') for s in splits]
    else:
        base, splits = 'fcn_r50-d8_syncbn_4xb2-40k_cityscapes-512x1024.py', ('train', 'val')
        model = """
    decode_head=dict(in_channels=512, channels=32),
    auxiliary_head=dict(in_channels=256, channels=16))"""
        load_ann = "dict(type='LoadAnnotations')"
        prefixes = [dict(img_path=f'leftImg8bit/{s}', seg_map_path=f'gtFine/{s}') for s in splits]
    for split in splits:
        scenes.export_semantic(str(root), layout=layout, split=split)
    return _write(
        tmp / f'seg_{layout}_tiny.py', f"""
_base_ = '{BENCH}/mmseg/{base}'
model = dict(
    data_preprocessor=dict(size=(96, 128)),
    backbone=dict(depth=18, init_cfg=dict(checkpoint='{ckpt}')),{model}
tiny_train = [dict(type='LoadImageFromFile'), {load_ann}, dict(type='RandomFlip', prob=0.5),
              dict(type='PackSegInputs')]
tiny_test = [dict(type='LoadImageFromFile'), {load_ann}, dict(type='PackSegInputs')]
train_dataloader = dict(batch_size=2, num_workers=0, persistent_workers=False,
                        dataset=dict(data_root='{root}', data_prefix={prefixes[0]!r},
                                     pipeline=tiny_train))
val_dataloader = dict(batch_size=1, num_workers=0, persistent_workers=False,
                      dataset=dict(data_root='{root}', data_prefix={prefixes[1]!r},
                                   pipeline=tiny_test))
test_dataloader = val_dataloader
param_scheduler = [dict(type='ConstantLR', factor=1.0, by_epoch=False)]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=2, val_begin=1000)
default_hooks = dict(checkpoint=dict(by_epoch=False, interval=1000), logger=dict(interval=1),
                     visualization=dict(draw=False))
log_level = 'WARNING'
randomness = dict(seed=0)
""")


def train_and_validate(config: Path):
    """Build a Runner from the file, train, validate; return (runner, metrics).

    The child configs set ``val_begin`` past the end of training, so validation runs once, here.
    """
    from mmengine.runner import Runner
    cfg = Config.fromfile(config)
    cfg.work_dir = str(config.parent / ('work_' + config.stem))
    cfg.custom_hooks = list(cfg.custom_hooks) + [dict(type='TransferTestSnapshotHook')]
    runner = Runner.from_cfg(cfg)
    SNAPSHOTS.clear()
    runner.train()
    metrics = runner.val()
    return runner, metrics


def assert_backbone_initialised_from(runner, ckpt: Path) -> None:
    expected = torch.load(ckpt, map_location='cpu', weights_only=False)['state_dict']
    assert len(SNAPSHOTS) == 1
    got = SNAPSHOTS[0]
    assert set(got) == set(expected)
    different = [k for k in expected if not torch.equal(got[k], expected[k])]
    assert not different, f'backbone entries not equal to the converted checkpoint: {different[:5]}'
    hook = next(h for h in runner._hooks if type(h).__name__ == 'CheckpointCoverageHook')
    report = hook.last_report
    assert report.complete and len(report.loaded) == len(expected) and not report.unused


# --------------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_mmdet_mask_rcnn_from_scrl_target_backbone(pretrained, tmp_path):
    runner, metrics = train_and_validate(mmdet_child(tmp_path, pretrained['target']))
    assert_backbone_initialised_from(runner, pretrained['target'])
    assert runner.iter == 2
    for key in ('coco/bbox_mAP', 'coco/segm_mAP'):
        assert key in metrics and metrics[key] >= 0  # 2 iterations: the value itself is noise


@pytest.mark.slow
@pytest.mark.parametrize('layout,branch', [('ade20k', 'online'), ('cityscapes', 'target')])
def test_mmseg_from_scrl_backbone(pretrained, tmp_path, layout, branch):
    runner, metrics = train_and_validate(mmseg_child(tmp_path, pretrained[branch], layout))
    assert_backbone_initialised_from(runner, pretrained[branch])
    assert runner.iter == 2
    assert {'aAcc', 'mIoU', 'mAcc'} <= set(metrics)
    assert 0 <= metrics['aAcc'] <= 100


@pytest.mark.slow
def test_full_checkpoint_without_prefix_stops_with_the_report(pretrained, tmp_path):
    """The classic mistake: a pretraining checkpoint given as if it were a backbone."""

    from mmspatial.engine.runner import SpatialRunner
    cfg = Config.fromfile(mmseg_child(tmp_path, pretrained['full'], 'ade20k'))
    cfg.work_dir = str(tmp_path / 'work_bad')
    # A full training checkpoint pickles mmengine's HistoryBuffer etc.: mmengine's Runner (torch >= 2.6,
    # weights_only) refuses it; SpatialRunner loads it with mmspatial's allow-list (docs/safety.md).
    runner = SpatialRunner.from_cfg(cfg)
    with pytest.raises(RuntimeError) as err:
        runner.train()
    msg = str(err.value)
    assert 'INCOMPLETE' in msg and 'NOT LOADED - missing from the checkpoint' in msg
    assert 'loaded from the checkpoint: 0/' in msg
    assert 'extract_backbone.py' in msg and "init_cfg.prefix='backbone.'" in msg
    assert runner.iter == 0  # stopped before the first iteration

    # The same checkpoint with the prefix the report suggests is fully covered.
    cfg = Config.fromfile(mmseg_child(tmp_path, pretrained['full'], 'ade20k'))
    cfg.work_dir = str(tmp_path / 'work_prefix')
    cfg.model.backbone.init_cfg.prefix = 'backbone.'
    cfg.train_cfg.max_iters = 1
    runner = SpatialRunner.from_cfg(cfg)
    runner.train()
    assert runner.iter == 1


@pytest.mark.slow
def test_check_coverage_cli(pretrained, tmp_path, capsys):
    config = BENCH / 'mmseg' / 'fpn_r50_syncbn_4xb4-40k_ade20k-512x512.py'
    opts = ['--cfg-options', 'model.backbone.depth=18', 'model.neck.in_channels=[64,128,256,512]']
    tool = ROOT / 'tools/model_converters/check_coverage.py'
    assert run_tool(tool, pretrained['online'], config, *opts) == 0
    assert 'COMPLETE' in capsys.readouterr().out

    # drop layer4 from the checkpoint: exit status 1 and the missing keys listed
    ckpt = torch.load(pretrained['online'], weights_only=False)
    ckpt['state_dict'] = {k: v for k, v in ckpt['state_dict'].items() if not k.startswith('layer4.')}
    partial = tmp_path / 'partial.pth'
    torch.save(ckpt, partial)
    assert run_tool(tool, partial, config, *opts) == 1
    out = capsys.readouterr().out
    assert 'INCOMPLETE' in out and 'layer4.0.conv1.weight' in out

    # a full pretraining checkpoint with --prefix target_net.module.0.
    assert run_tool(tool, pretrained['full'], config, '--prefix', 'target_net.module.0.', *opts) == 0


def test_benchmark_configs_take_the_checkpoint_from_the_environment(monkeypatch):
    monkeypatch.setenv('MMSPATIAL_PRETRAINED', '/ckpt/from_env.pth')
    configs = sorted(BENCH.glob('mm*/*.py'))
    assert len(configs) >= 9
    for path in configs:
        cfg = Config.fromfile(path)
        assert cfg.default_scope in ('mmdet', 'mmseg')
        assert cfg.custom_imports['imports'] == ['mmspatial']
        init = cfg.model.backbone.init_cfg
        assert init['type'] == 'Pretrained' and init['checkpoint'] == '/ckpt/from_env.pth', path
        assert 'prefix' not in init, path
        assert dict(type='CheckpointCoverageHook') in cfg.custom_hooks, path
        assert cfg.model.get('pretrained', None) is None, path
        for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
            assert cfg[loader].collate_fn['type'] == 'pseudo_collate', path
        if cfg.model.backbone.type == 'ResNet':
            assert cfg.model.backbone.norm_cfg['type'] == 'SyncBN', path
            assert cfg.model.backbone.norm_eval is False, path
            assert cfg.model.backbone.get('frozen_stages', -1) == -1, path
            assert cfg.model.backbone.get('deep_stem', False) is False, path


@pytest.mark.slow
def test_mmdet_own_train_tool_with_benchmark_config(pretrained, tmp_path):
    """mmdet's unmodified tools/train.py runs the config (custom_imports is the only hook-up)."""
    import mmdet
    train_py = Path(mmdet.__file__).parent / '.mim' / 'tools' / 'train.py'
    child = mmdet_child(tmp_path, pretrained['online'])
    out = run([
        sys.executable, train_py, child, '--work-dir', tmp_path / 'work_mmdet_tool', '--cfg-options', 'log_level=INFO'
    ])
    assert "checkpoint coverage of `backbone`" in out and ': COMPLETE' in out
    assert 'Iter(train) [2/2]' in out


@pytest.mark.slow
def test_mmseg_launcher_two_cpu_processes(pretrained, tmp_path):
    """tools/benchmarks/mmseg_train.sh CFG PRETRAIN 2 on a machine without CUDA (gloo, our train.py)."""
    child = mmseg_child(tmp_path, Path('/nonexistent/overridden-by-the-launcher.pth'), 'ade20k')
    work = tmp_path / 'work_launcher'
    out = run([
        'bash', ROOT / 'tools/benchmarks/mmseg_train.sh', child, pretrained['target'], '2', '--cfg-options',
        'log_level=INFO'
    ],
              env=dict(PYTHON=sys.executable, WORK_DIR=str(work), PORT=str(29600 + os.getpid() % 1000)))
    assert 'distributed training on the CPU with gloo' in out
    assert str(pretrained['target']) in out and ': COMPLETE' in out
    assert 'Iter(train) [2/2]' in out


def test_slurm_launcher_builds_the_srun_line(tmp_path):
    fake = tmp_path / 'bin'
    fake.mkdir()
    record = tmp_path / 'srun.json'
    (fake / 'srun').write_text('#!/usr/bin/env python3\nimport json, sys\n'
                               f'json.dump(sys.argv[1:], open({str(record)!r}, "w"))\n')
    (fake / 'srun').chmod(0o755)
    env = dict(
        os.environ,
        PATH=f'{fake}:{os.environ["PATH"]}',
        GPUS='16',
        GPUS_PER_NODE='8',
        PREFIX='backbone.',
        SRUN_ARGS='--time=10')
    subprocess.run([
        'bash',
        str(ROOT / 'tools/benchmarks/mmseg_slurm_train.sh'), 'part', 'job', 'cfg.py', '/ckpt/full.pth', '--amp'
    ],
                   cwd=tmp_path,
                   env=env,
                   check=True,
                   capture_output=True)
    argv = json.loads(record.read_text())
    assert argv[:2] == ['-p', 'part'] and '--ntasks=16' in argv and '--time=10' in argv
    entry = argv.index(str(ROOT / 'tools/benchmarks/train_transfer.py'))
    assert argv[entry + 1:entry + 3] == ['mmseg', 'cfg.py']
    assert '--launcher=slurm' in argv and '--work-dir=work_dirs/benchmarks/cfg/full' in argv
    opts = argv[argv.index('--cfg-options') + 1:]
    assert opts == [
        'model.backbone.init_cfg.checkpoint=/ckpt/full.pth', 'model.backbone.init_cfg.prefix=backbone.',
        'model.pretrained=None', '--amp'
    ]

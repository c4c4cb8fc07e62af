"""Config keys that do not exist: --cfg-options typos and unknown model arguments give errors naming them."""
import importlib.util
import sys

import pytest
from mmengine.config import Config, ConfigDict
from mmpretrain.registry import MODELS

from mmspatial.engine.config_check import UnknownConfigKeyError, check_cfg_options
from mmspatial.engine.launch import merge_train_args

CFG = ConfigDict(
    model=dict(type='BYOL', backbone=dict(type='ResNet', depth=18), neck=None),
    optim_wrapper=dict(optimizer=dict(type='LARS', lr=0.3)),
    train_dataloader=dict(batch_size=32, dataset=dict(pipeline=[dict(type='A'), dict(type='B')])),
    randomness=dict(seed=0))


@pytest.mark.parametrize('key, expected', [
    ('train_dataloder.batch_size', "there is no key 'train_dataloder' at the top level.*"
     "Did you mean 'train_dataloader'"),
    ('optim_wrapper.optimizer.lrr', "'optim_wrapper.optimizer.lrr' does not exist.*"
     "Did you mean 'optim_wrapper.optimizer.lr'"),
    ('model.backbone.dpeth', "Did you mean 'model.backbone.depth'"),
    ('model.bakcbone.depth', "no key 'bakcbone' under 'model'.*Did you mean 'model.backbone'"),
    ('model.backbone.depth.x', "'model.backbone.depth' is int \\(18\\), not a dict"),
    ('model.neck.in_channels', "'model.neck' is NoneType"),
    ('train_dataloader.dataset.pipeline.2.type', "list of 2 items; '2' is not a valid index"),
    ('randomnes.seed', "Did you mean 'randomness'"),
])
def test_bad_keys_are_named(key, expected):
    with pytest.raises(UnknownConfigKeyError, match=expected) as err:
        check_cfg_options(CFG, {key: 1})
    assert f'--cfg-options {key}:' in str(err.value)


@pytest.mark.parametrize(
    'key',
    [
        'optim_wrapper.optimizer.lr',  # existing leaf
        'model.backbone.frozen_stages',  # new constructor argument, no close sibling
        'train_dataloader.dataset.pipeline.1.type',  # list index
        'model.neck',  # replace None by a dict
        'work_dir',  # new top-level key
    ])
def test_good_keys_pass(key):
    check_cfg_options(CFG, {key: 1})


def test_all_bad_keys_reported_together():
    with pytest.raises(UnknownConfigKeyError) as err:
        check_cfg_options(CFG, {'a.b': 1, 'optim_wrapper.optimizer.lrr': 2, 'randomness.seed': 1})
    msg = str(err.value)
    assert "'a'" in msg and 'lrr' in msg and 'randomness.seed' not in msg
    assert '--no-strict-cfg-options' in msg


def test_merge_train_args_strict_by_default_with_escape_hatch(project_root):
    path = str(project_root / 'configs' / 'byol' / 'byol_resnet18_1xb32-coslr-8e_demo.py')
    with pytest.raises(UnknownConfigKeyError, match="Did you mean 'train_dataloader.batch_size'"):
        merge_train_args(Config.fromfile(path), config_path=path, cfg_options={'train_dataloader.batch_sise': 4})
    cfg = merge_train_args(
        Config.fromfile(path),
        config_path=path,
        strict_cfg_options=False,
        cfg_options={
            'train_dataloader.batch_sise': 4,
            'my_section.x': 1
        })
    assert cfg.train_dataloader.batch_sise == 4 and cfg.my_section.x == 1
    cfg = merge_train_args(
        Config.fromfile(path),
        config_path=path,
        cfg_options={
            'train_dataloader.batch_size': 4,
            'visualizer.vis_backends.1.type': 'LocalVisBackend'
        })
    assert cfg.train_dataloader.batch_size == 4


def test_train_help_documents_escape_hatch(project_root, monkeypatch, capsys):
    spec = importlib.util.spec_from_file_location('train_tool', project_root / 'tools' / 'train.py')
    train_tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(train_tool)
    monkeypatch.setattr(sys, 'argv', ['train.py', '--help'])
    with pytest.raises(SystemExit):
        train_tool.parse_args()
    assert '--no-strict-cfg-options' in capsys.readouterr().out
    monkeypatch.setattr(sys, 'argv', ['train.py', 'cfg.py', '--no-strict-cfg-options'])
    assert train_tool.parse_args().strict_cfg_options is False
    monkeypatch.setattr(sys, 'argv', ['train.py', 'cfg.py'])
    assert train_tool.parse_args().strict_cfg_options is True


def test_unknown_model_argument_error_names_the_key():
    """mmengine already raises TypeError for a constructor argument the class does not accept."""
    cfg = dict(
        type='BYOL',
        backbone=dict(type='ResNet', depth=18, frozen_stage=1),
        neck=dict(type='NonLinearNeck', in_channels=512, hid_channels=8, out_channels=8),
        head=dict(
            type='LatentPredictHead',
            loss=dict(type='CosineSimilarityLoss'),
            predictor=dict(type='NonLinearNeck', in_channels=8, hid_channels=8, out_channels=8, with_avg_pool=False)))
    with pytest.raises(TypeError, match="ResNet.*unexpected keyword argument 'frozen_stage'"):
        MODELS.build(cfg)
    cfg['backbone'].pop('frozen_stage')
    cfg['neck']['hid_chanels'] = 8
    with pytest.raises(TypeError, match="NonLinearNeck.*unexpected keyword argument 'hid_chanels'"):
        MODELS.build(cfg)

"""CheckpointCoverageHook on a stand-in runner: raise / log / skip, and registry reach."""
from types import SimpleNamespace

import pytest
import torch
from torch import nn

import mmspatial  # noqa: F401
from mmspatial.engine.hooks.checkpoint_coverage_hook import CheckpointCoverageHook


class Backbone(nn.Module):

    def __init__(self, init_cfg=None):
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 1)
        self.norm = nn.BatchNorm2d(2)
        self.init_cfg = init_cfg


class Model(nn.Module):

    def __init__(self, init_cfg=None):
        super().__init__()
        self.backbone = Backbone(init_cfg)


def runner_with(model, load_from=None, resume=False):
    return SimpleNamespace(model=model, _load_from=load_from, _resume=resume)


def saved(tmp_path, state, name='ckpt.pth'):
    path = tmp_path / name
    torch.save(dict(state_dict=state, meta={}), path)
    return str(path)


def test_complete_coverage_passes(tmp_path):
    model = Model()
    path = saved(tmp_path, {f'backbone.{k}': v for k, v in model.backbone.state_dict().items()})
    model.backbone.init_cfg = dict(type='Pretrained', checkpoint=path, prefix='backbone.')
    hook = CheckpointCoverageHook()
    hook.before_train(runner_with(model))
    assert hook.last_report.complete and len(hook.last_report.loaded) == 7


def test_missing_keys_raise_with_the_report(tmp_path):
    model = Model()
    state = {k: v for k, v in model.backbone.state_dict().items() if not k.startswith('norm.')}
    model.backbone.init_cfg = dict(type='Pretrained', checkpoint=saved(tmp_path, state))
    with pytest.raises(RuntimeError, match='random weights') as err:
        CheckpointCoverageHook().before_train(runner_with(model))
    assert 'NOT LOADED - missing from the checkpoint: 5' in str(err.value)
    assert 'norm.running_mean' in str(err.value)
    # tolerated when declared new, or only logged with strict=False
    hook = CheckpointCoverageHook(allow_missing=['norm.*'])
    hook.before_train(runner_with(model))
    assert hook.last_report.complete and len(hook.last_report.tolerated) == 5
    hook = CheckpointCoverageHook(strict=False)
    hook.before_train(runner_with(model))
    assert not hook.last_report.complete


def test_values_changed_after_loading_are_caught(tmp_path):
    model = Model()
    path = saved(tmp_path, model.backbone.state_dict())
    model.backbone.init_cfg = dict(type='Pretrained', checkpoint=path)
    with torch.no_grad():
        model.backbone.conv.weight.add_(1.)  # as if re-initialised after loading
    with pytest.raises(RuntimeError, match='present but the weights differ after init: 1'):
        CheckpointCoverageHook().before_train(runner_with(model))
    CheckpointCoverageHook(check_values=False).before_train(runner_with(model))


def test_no_pretrained_init_cfg(tmp_path):
    model = Model(init_cfg=dict(type='Kaiming', layer='Conv2d'))
    with pytest.raises(RuntimeError, match='MMSPATIAL_PRETRAINED'):
        CheckpointCoverageHook().before_train(runner_with(model))
    CheckpointCoverageHook(require_checkpoint=False).before_train(runner_with(model))


def test_load_from_and_resume_skip_the_check(tmp_path):
    model = Model(init_cfg=dict(type='Pretrained', checkpoint=str(tmp_path / 'absent.pth')))
    hook = CheckpointCoverageHook()
    hook.before_train(runner_with(model, load_from='some.pth'))
    hook.before_train(runner_with(model, resume=True))
    assert hook.last_report is None
    with pytest.raises(FileNotFoundError):
        hook.before_train(runner_with(model))


def test_bad_module_path():
    with pytest.raises(AttributeError, match="no submodule 'encoder'"):
        CheckpointCoverageHook(module='encoder').before_train(runner_with(Model()))


@pytest.mark.parametrize('scope', ['mmdet', 'mmseg', 'mmpretrain'])
def test_found_from_every_scope(scope):
    from mmengine.registry import HOOKS, DefaultScope
    with DefaultScope.overwrite_default_scope(scope):
        hook = HOOKS.build(dict(type='CheckpointCoverageHook', allow_missing=['x']))
    assert isinstance(hook, CheckpointCoverageHook) and hook.allow_missing == ('x', )

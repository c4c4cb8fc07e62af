"""DINO schedule hooks: teacher temperature, teacher momentum, last-layer freezing, per-parameter
clipping, and the weight-decay cosine made with mmengine's scheduler (bare and wrapped models)."""
import math
from types import SimpleNamespace

import pytest
import torch
import torch.nn as nn
from mmengine.logging import MessageHub
from mmengine.optim import CosineAnnealingParamScheduler, OptimWrapper

import mmspatial  # noqa: F401
from mmspatial.engine.hooks.dino_hooks import (DINOFreezeLastLayerHook, DINOTeacherMomentumHook, DINOTeacherTempHook,
                                               PerParamGradClipHook, teacher_momentum_at, teacher_temp_at)
from mmspatial.engine.optimizers.dino_param_groups import dino_param_groups
from mmspatial.models.losses.dino_loss import DINOLoss
from mmspatial.models.losses.selfpatch_loss import SelfPatchLoss


def runner_stub(model, it=0, iters_per_epoch=4, max_iters=100, optimizer=None):
    return SimpleNamespace(
        model=model,
        iter=it,
        max_iters=max_iters,
        train_dataloader=[None] * iters_per_epoch,
        message_hub=MessageHub.get_instance('test_dino_hooks'),
        optim_wrapper=OptimWrapper(optimizer) if optimizer else None)


def test_teacher_temp_schedule_values():
    # np.linspace(0.04, 0.07, 3) = [0.04, 0.055, 0.07], then 0.07
    assert [teacher_temp_at(e, 3, 0.04, 0.07) for e in range(5)] == pytest.approx([0.04, 0.055, 0.07, 0.07, 0.07])
    assert teacher_temp_at(0, 0, 0.04, 0.07) == 0.07  # no warm-up
    assert teacher_temp_at(0, 1, 0.04, 0.07) == 0.04  # linspace(a, b, 1) == [a]


class TwoLosses(nn.Module):

    def __init__(self):
        super().__init__()
        self.image = DINOLoss(4)
        self.patch = SelfPatchLoss(4)


@pytest.mark.parametrize('wrap', [False, True])
def test_teacher_temp_hook_sets_every_loss(wrap):
    model = TwoLosses()
    wrapped = nn.DataParallel(model) if wrap else model  # a registered model wrapper on CPU
    hook = DINOTeacherTempHook(warmup_teacher_temp=0.04, teacher_temp=0.07, warmup_epochs=3)
    runner = runner_stub(wrapped, iters_per_epoch=4)
    hook.before_train(runner)
    for it, expected in [(0, 0.04), (3, 0.04), (4, 0.055), (8, 0.07), (50, 0.07)]:
        runner.iter = it
        hook.before_train_iter(runner, it)
        assert model.image.teacher_temp == pytest.approx(expected)
        assert model.patch.teacher_temp == pytest.approx(expected)
    hook = DINOTeacherTempHook(0.02, 0.06, warmup_iters=5)
    runner.iter = 2
    hook.before_train_iter(runner, 2)
    assert model.image.teacher_temp == pytest.approx(0.04)
    with pytest.raises(RuntimeError, match='no DINO-style loss'):
        DINOTeacherTempHook().before_train(runner_stub(nn.Linear(2, 2)))


def test_teacher_momentum_schedule_and_hook():
    assert teacher_momentum_at(0, 100, 0.996) == pytest.approx(0.996)
    assert teacher_momentum_at(50, 100, 0.996) == pytest.approx(0.998)
    assert teacher_momentum_at(25, 100, 0.996) == pytest.approx(1 - 0.002 * (1 + math.cos(math.pi / 4)))

    class Recorder(nn.Module):

        def __init__(self):
            super().__init__()
            self.calls = []

        def momentum_update(self, m):
            self.calls.append(m)

    model = Recorder()
    hook = DINOTeacherMomentumHook(0.99, 1.0)
    runner = runner_stub(nn.DataParallel(model), max_iters=10)
    hook.before_train(runner)
    for it in range(3):
        runner.iter = it
        hook.after_train_iter(runner, it)
    assert model.calls == pytest.approx([teacher_momentum_at(i, 10, 0.99) for i in range(3)])
    with pytest.raises(TypeError, match='momentum_update'):
        hook.before_train(runner_stub(nn.Linear(2, 2)))


class Head(nn.Module):

    def __init__(self):
        super().__init__()
        self.mlp = nn.Linear(3, 3)
        self.last_layer = nn.Linear(3, 2, bias=False)
        self.frozen_teacher = nn.Linear(3, 2)  # not trainable: must be ignored
        self.frozen_teacher.requires_grad_(False)

    def forward(self, x):
        return self.last_layer(self.mlp(x)).sum() + self.frozen_teacher(x).sum()


@pytest.mark.parametrize('wrap', [False, True])
def test_last_layer_frozen_during_first_epoch(wrap):
    torch.manual_seed(0)
    model = Head()
    optimizer = torch.optim.AdamW(dino_param_groups(model), lr=0.1, weight_decay=0.5)
    runner = runner_stub(nn.DataParallel(model) if wrap else model, iters_per_epoch=2, optimizer=optimizer)
    hook = DINOFreezeLastLayerHook(freeze_epochs=1)
    hook.before_train(runner)
    assert hook._params == [model.last_layer.weight]
    x = torch.randn(4, 3)
    for it in range(2):  # epoch 0: iterations 0, 1
        runner.iter = it
        hook.before_train_iter(runner, it)
        last, mlp = model.last_layer.weight.clone(), model.mlp.weight.clone()
        runner.optim_wrapper.update_params(model(x))
        assert torch.equal(model.last_layer.weight, last)  # untouched, weight decay included
        assert not torch.equal(model.mlp.weight, mlp)
    assert model.last_layer.weight not in optimizer.state  # no Adam state either
    runner.iter = 2  # epoch 1
    hook.before_train_iter(runner, 2)
    last = model.last_layer.weight.clone()
    runner.optim_wrapper.update_params(model(x))
    assert not torch.equal(model.last_layer.weight, last)
    hook.after_train(runner)
    with pytest.raises(RuntimeError, match='last_layer'):
        DINOFreezeLastLayerHook().before_train(
            runner_stub(nn.Linear(2, 2), optimizer=torch.optim.SGD(nn.Linear(2, 2).parameters(), 0.1)))


def test_freeze_by_iterations():
    model = Head()
    runner = runner_stub(model, iters_per_epoch=100, optimizer=torch.optim.SGD(model.parameters(), lr=0.1))
    hook = DINOFreezeLastLayerHook(freeze_iters=3)
    hook.before_train(runner)
    frozen = []
    for it in range(5):
        runner.iter = it
        hook.before_train_iter(runner, it)
        frozen.append(hook.frozen)
    assert frozen == [True, True, True, False, False]


def test_per_parameter_clipping():
    a = nn.Parameter(torch.zeros(2))
    b = nn.Parameter(torch.zeros(2))
    optimizer = torch.optim.SGD([a, b], lr=1.)
    runner = runner_stub(nn.Linear(1, 1), optimizer=optimizer)
    hook = PerParamGradClipHook(max_norm=3.)
    hook.before_train(runner)
    a.grad = torch.tensor([6., 8.])  # norm 10 -> rescaled to norm 3 on its own
    b.grad = torch.tensor([1., 0.])  # norm 1 -> unchanged (a global-norm clip would shrink it)
    optimizer.step()
    scale = 3. / (10. + 1e-6)
    assert torch.allclose(a, -torch.tensor([6., 8.]) * scale)
    assert torch.allclose(b, -torch.tensor([1., 0.]))
    hook.after_train(runner)


def test_param_groups_and_weight_decay_cosine_match_the_reference():
    model = nn.Sequential(nn.Linear(3, 4), nn.LayerNorm(4), nn.Linear(4, 2, bias=False))
    model[2].requires_grad_(False)
    groups = dino_param_groups(model)
    assert [len(g['params']) for g in groups] == [1, 3]  # W0 | b0, LN weight, LN bias
    assert groups[1]['weight_decay'] == 0.
    optimizer = torch.optim.AdamW(groups, lr=1e-3, weight_decay=0.04)
    total = 20
    sched = CosineAnnealingParamScheduler(
        optimizer, param_name='weight_decay', eta_min_ratio=10., begin=0, end=total, by_epoch=False)
    for it in range(total):
        # utils.cosine_scheduler(0.04, 0.4, epochs, niter)[it]
        ref = 0.4 + 0.5 * (0.04 - 0.4) * (1 + math.cos(math.pi * it / total))
        assert optimizer.param_groups[0]['weight_decay'] == pytest.approx(ref, rel=1e-9)
        assert optimizer.param_groups[1]['weight_decay'] == 0.
        sched.step()

"""DINO: multi-crop grouping, teacher set-up, the teacher-update check, and two training iterations
through a real Runner with the exact EMA update checked after each step."""
from pathlib import Path

import pytest
import torch
from dino_test_utils import EMACheckHook, dino_model, runner_cfg, snapshot
from mmengine.config import Config
from mmengine.runner import Runner
from mmpretrain.registry import MODELS

import mmspatial  # noqa: F401
from mmspatial.models.algorithms.dino import group_by_resolution

ROOT = Path(__file__).resolve().parents[3]


def test_group_by_resolution():
    crops = [torch.zeros(1, 3, s, s) for s in (32, 32, 16, 16, 16, 32)]
    assert group_by_resolution(crops) == [(0, 2), (2, 5), (5, 6)]


def test_teacher_is_a_frozen_copy_without_drop_path():
    model = MODELS.build(dino_model())
    model.init_weights()
    assert all(not p.requires_grad for p in model.teacher.parameters())
    assert all(torch.equal(t, s) for t, s in model._param_pairs())
    probs = {float(m.drop_prob) for m in model.teacher.modules() if type(m).__name__ == 'DropPath'}
    assert probs == {0.}
    assert max(float(m.drop_prob) for m in model.backbone.modules()
               if type(m).__name__ == 'DropPath') == pytest.approx(0.1)
    model.momentum_update(0.5)  # still equal: teacher and student start equal
    assert all(torch.equal(t, s) for t, s in model._param_pairs())


def test_grouped_forward_equals_per_crop_forward():
    model = MODELS.build(dino_model())
    model.init_weights()
    model.eval()
    torch.manual_seed(0)
    crops = [torch.randn(2, 3, 32, 32), torch.randn(2, 3, 32, 32), torch.randn(2, 3, 16, 16)]
    grouped = model.encode(model.student_modules(), crops)
    single = [model.neck(model.backbone_features(model.backbone, c)) for c in crops]
    for g, s in zip(grouped, single):
        assert torch.allclose(g, s, atol=1e-5)


def test_bad_inputs():
    model = MODELS.build(dino_model())
    with pytest.raises(ValueError, match='list of >= 2 crops'):
        model.loss(torch.zeros(2, 3, 32, 32), None)
    with pytest.raises(ValueError, match='num_global_crops'):
        MODELS.build(dict(dino_model(), num_global_crops=0))


@pytest.mark.slow
def test_dino_trains_through_runner(tmp_path):
    checker = EMACheckHook()
    runner = Runner(**runner_cfg(dino_model(), tmp_path, [checker]))
    runner.train()
    model = runner.model
    assert checker.first_iter_teacher_equals_student and checker.checked == 2
    # last layer frozen during epoch 0 (2 iterations = one pass over 8 images in batches of 4)
    student, teacher = snapshot(model.neck), snapshot(model.teacher.neck)
    # (teacher = m t + (1 - m) s with t == s: equal up to rounding; one AdamW step would move ~1e-3)
    assert torch.allclose(student['last_layer.weight_v'], teacher['last_layer.weight_v'], rtol=1e-6, atol=0)
    assert not torch.equal(student['mlp.0.weight'], teacher['mlp.0.weight'])
    # the optimiser never holds the teacher
    opt_params = {id(p) for g in runner.optim_wrapper.param_groups for p in g['params']}
    assert not opt_params & {id(p) for p in model.teacher.parameters()}
    assert model._teacher_updater is None  # the hook withdrew after training
    assert model.dino_loss.teacher_temp == pytest.approx(0.07)  # warm-up 0.04 -> 0.07 over 2 iters
    assert model.dino_loss.center.abs().sum() > 0
    scalars = runner.message_hub.log_scalars
    assert torch.isfinite(torch.tensor(scalars['train/loss'].current()))


def test_training_loss_needs_a_teacher_updater():
    """A training step with nothing registered to update the teacher, or before the previous step's
    update, is an error; evaluation-mode losses are not training steps."""
    model = MODELS.build(dino_model())
    model.init_weights()
    torch.manual_seed(0)
    crops = [torch.randn(2, 3, 32, 32), torch.randn(2, 3, 32, 32), torch.randn(2, 3, 16, 16)]
    with pytest.raises(RuntimeError, match=r"nothing updates the teacher.*DINOTeacherMomentumHook"):
        model.loss(crops, None)
    model.eval()
    model.loss(crops, None)
    model.train()
    model.register_teacher_updater('test loop')
    model.loss(crops, None)
    with pytest.raises(RuntimeError, match=r'not updated after the previous training step \(updater: test loop\)'):
        model.loss(crops, None)
    model.momentum_update(0.9)
    model.loss(crops, None)


@pytest.mark.slow
@pytest.mark.parametrize('config', [
    'dino/dino_vit-tiny-p8_1xb32-coslr-10e_demo.py', 'selfpatch/selfpatch_vit-tiny-p8_1xb32-coslr-10e_demo.py',
    'sp/dino_sp_vit-tiny-p8_1xb32-coslr-10e_demo.py'
])
def test_runner_without_the_momentum_hook_fails_at_the_first_step(tmp_path, config):
    """A demo config (DINO, SelfPatch, DINO+SP) whose custom_hooks lost DINOTeacherMomentumHook stops at
    the first iteration, before any optimiser step, naming the hook."""
    cfg = Config.fromfile(str(ROOT / 'configs' / config))
    cfg.custom_hooks = [h for h in cfg.custom_hooks if h.type not in ('DINOTeacherMomentumHook', 'KNNMonitorHook')]
    assert {h.type for h in cfg.custom_hooks} >= {'DINOTeacherTempHook', 'DINOFreezeLastLayerHook'}
    cfg.train_dataloader.update(batch_size=2, num_workers=0, persistent_workers=False)
    cfg.train_dataloader.dataset.num_images = 2
    cfg.work_dir = str(tmp_path)
    cfg.log_level = 'WARNING'
    cfg.visualizer = dict(type='UniversalVisualizer', vis_backends=[dict(type='LocalVisBackend')])
    runner = Runner.from_cfg(cfg)
    with pytest.raises(RuntimeError, match=r"nothing updates the teacher.*DINOTeacherMomentumHook"):
        runner.train()
    assert runner.iter == 0 and not runner.optim_wrapper.optimizer.state  # no step was taken

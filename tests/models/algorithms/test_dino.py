"""DINO: multi-crop grouping, teacher set-up, and two training iterations through a real Runner with
the exact EMA update checked after each step."""
import pytest
import torch
from mmengine.runner import Runner
from mmpretrain.registry import MODELS

import mmspatial  # noqa: F401
from mmspatial.models.algorithms.dino import group_by_resolution

from dino_test_utils import EMACheckHook, dino_model, runner_cfg, snapshot


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
    assert torch.allclose(student['last_layer.weight_v'], teacher['last_layer.weight_v'], rtol=1e-6,
                          atol=0)
    assert not torch.equal(student['mlp.0.weight'], teacher['mlp.0.weight'])
    # the optimiser never holds the teacher
    opt_params = {id(p) for g in runner.optim_wrapper.param_groups for p in g['params']}
    assert not opt_params & {id(p) for p in model.teacher.parameters()}
    assert model.dino_loss.teacher_temp == pytest.approx(0.07)  # warm-up 0.04 -> 0.07 over 2 iters
    assert model.dino_loss.center.abs().sum() > 0
    scalars = runner.message_hub.log_scalars
    assert torch.isfinite(torch.tensor(scalars['train/loss'].current()))

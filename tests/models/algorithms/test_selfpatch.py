"""SelfPatch: teacher-side matching and aggregation, loss composition, centring options, any grid
size, and two training iterations through a real Runner with the EMA update checked."""
import copy

import pytest
import torch
from mmengine.runner import Runner
from mmpretrain.registry import MODELS

import mmspatial  # noqa: F401
from mmspatial.models.utils.patch_neighbours import match_top_k_neighbours, patch_neighbour_index

from dino_test_utils import EMACheckHook, runner_cfg, selfpatch_model


def build(**kwargs):
    torch.manual_seed(0)
    model = MODELS.build(selfpatch_model(**kwargs))
    model.init_weights()
    return model


def crops(*sizes, batch=2):
    torch.manual_seed(1)
    return [torch.randn(batch, 3, *s) for s in sizes]


@pytest.mark.parametrize('wrap', [True, False])
def test_teacher_patch_logits_are_aggregated_neighbours(wrap):
    model = build(wrap_neighbours=wrap).eval()
    views = crops((32, 32), (32, 32), (16, 16))
    _, t_patch = model.encode_tokens(model.teacher, views, teacher=True)
    _, s_patch = model.encode_tokens(model.student_modules(), views, teacher=False)
    t = model.teacher
    for v, x in enumerate(views):
        tokens, (h, w) = model.patch_tokens(t['backbone'], x)
        index, valid = patch_neighbour_index(h, w, wrap=wrap)
        nb, ok = match_top_k_neighbours(tokens, index, valid, 4)
        assert not (nb == torch.arange(h * w)[None, :, None]).logical_and(ok).any()  # never itself
        _, y = t['aggregator'].forward_neighbours(tokens, nb, ok)
        assert torch.allclose(t_patch[v], t['patch_neck'](y), atol=1e-5)
        # the student's patch logits are those of its own (normalised) tokens
        s_tokens, _ = model.patch_tokens(model.backbone, x)
        assert torch.allclose(s_patch[v], model.patch_neck(model.aggregator.norm(s_tokens)), atol=1e-5)
    assert [p.shape for p in t_patch] == [(2, 16, 64), (2, 16, 64), (2, 4, 64)]


def test_any_grid_size():
    model = build(wrap_neighbours=False).eval()
    views = crops((24, 40), (24, 40), (8, 24), (8, 8))  # 3x5, 1x3 and 1x1 patch grids
    out = model.loss(views, None)
    assert torch.isfinite(out['loss_image']) and torch.isfinite(out['loss_patch'])


@pytest.mark.parametrize('all_crops', [True, False])
def test_loss_composition_and_centres(all_crops):
    model = build(center_on_all_crops=all_crops, patch_loss_weight=0.3).eval()
    views = crops((32, 32), (32, 32), (16, 16), (16, 16))
    image_loss, patch_loss = copy.deepcopy(model.dino_loss), copy.deepcopy(model.patch_loss)
    with torch.no_grad():
        s_img, s_patch = model.encode_tokens(model.student_modules(), views, teacher=False)
        t_img, t_patch = model.encode_tokens(model.teacher, views, teacher=True)
        out = model.loss(views, None)
    # image loss: teacher global crops vs student crops of other views; patch loss weighted
    assert torch.allclose(out['loss_image'], image_loss(s_img, t_img[:2], update_center=False))
    assert torch.allclose(out['loss_patch'], 0.3 * patch_loss(s_patch, t_patch), atol=1e-6)
    used = t_img if all_crops else t_img[:2]
    expected_centre = 0.1 * torch.cat(used).mean(0, keepdim=True)
    assert torch.allclose(model.dino_loss.center, expected_centre, atol=1e-6)
    tokens = torch.cat([p.reshape(-1, p.shape[-1]) for p in t_patch])
    assert torch.allclose(model.patch_loss.center, 0.1 * tokens.mean(0, keepdim=True), atol=1e-6)


def test_teacher_covers_all_selfpatch_modules():
    model = build()
    assert set(model.teacher.keys()) == {'backbone', 'aggregator', 'neck', 'patch_neck'}
    assert not any(p.requires_grad for p in model.teacher.parameters())
    assert all(torch.equal(t, s) for t, s in model._param_pairs())
    with pytest.raises(ValueError, match='featmap'):
        m = build()
        m.patch_tokens(MODELS.build(dict(selfpatch_model()['backbone'], out_type='raw')),
                       torch.zeros(1, 3, 32, 32))


@pytest.mark.slow
def test_selfpatch_trains_through_runner(tmp_path):
    checker = EMACheckHook()
    runner = Runner(**runner_cfg(selfpatch_model(), tmp_path, [checker]))
    runner.train()
    assert checker.first_iter_teacher_equals_student and checker.checked == 2
    model = runner.model
    for name in ('neck', 'patch_neck'):  # both heads' last layers frozen in epoch 0
        s = getattr(model, name).last_layer.weight_v
        assert torch.allclose(s, model.teacher[name].last_layer.weight_v, rtol=1e-6, atol=0)
    scalars = runner.message_hub.log_scalars
    for key in ('train/loss', 'train/loss_image', 'train/loss_patch'):
        assert torch.isfinite(torch.tensor(scalars[key].current())), key
    assert model.patch_loss.teacher_temp == pytest.approx(0.07)
    assert model.patch_loss.center.abs().sum() > 0

"""SelfPatch: teacher-side matching and aggregation, loss composition, centring options, any grid
size, and two training iterations through a real Runner with the EMA update checked."""
import copy

import pytest
import torch
from dino_test_utils import EMACheckHook, runner_cfg, selfpatch_model
from mmengine.runner import Runner
from mmpretrain.registry import MODELS

import mmspatial  # noqa: F401
from mmspatial.models.utils.patch_neighbours import match_top_k_neighbours, patch_neighbour_index


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


def naive_class_attention(aggregator, context):
    """The aggregator's class token after its blocks, attending over ``[cls, context]`` (``(L, C)``),
    written out one token at a time (no shared keys, no gathering, no masks), then its final LN."""
    cls = aggregator.cls_token[0]
    for blk in aggregator.blocks:
        tokens = blk.norm1(torch.cat([cls[None], context]))  # (1 + L, C)
        q, k, v = blk.q(tokens[0]), blk.k(tokens), blk.v(tokens)
        d = q.shape[0] // blk.num_heads
        heads = []
        for h in range(blk.num_heads):
            sl = slice(h * d, (h + 1) * d)
            weights = torch.softmax(torch.stack([q[sl] @ k[j, sl] for j in range(len(tokens))]) * d**-0.5, 0)
            heads.append(sum(w * v[j, sl] for j, w in enumerate(weights)))
        cls = cls + blk.proj(torch.cat(heads))
        cls = cls + blk.mlp(blk.norm2(cls))
    return aggregator.norm(cls)


def naive_matched_neighbours(tokens, h, w, wrap, k=4):
    """For each patch of a row-major ``h x w`` grid: its ``k`` most cosine-similar 8-neighbours."""
    out = []
    for p in range(h * w):
        row, col = divmod(p, w)
        found = set()
        for dy in (-1, 0, 1):
            for dx in (-1, 0, 1):
                r, c = row + dy, col + dx
                if wrap:
                    r, c = r % h, c % w
                elif not (0 <= r < h and 0 <= c < w):
                    continue
                if r * w + c != p:
                    found.add(r * w + c)
        sims = {q: float(torch.nn.functional.cosine_similarity(tokens[p], tokens[q], dim=0)) for q in found}
        out.append(sorted(found, key=lambda q: -sims[q])[:k])
    return out


@pytest.mark.parametrize('wrap', [True, False])
def test_any_grid_size(wrap):
    """3x5, 1x3 and 1x1 patch grids (the reference allows only 14x14 and 6x6): both losses equal the ones of
    logits computed naively (python loops over patches for the matching and the class attention)."""
    model = build(wrap_neighbours=wrap).eval()
    views = crops((24, 40), (24, 40), (8, 24), (8, 8))
    grids = [(3, 5), (3, 5), (1, 3), (1, 1)]
    image_loss, patch_loss = copy.deepcopy(model.dino_loss), copy.deepcopy(model.patch_loss)
    t = model.teacher
    s_img, s_patch, t_img, t_patch = [], [], [], []
    with torch.no_grad():
        for x, (h, w) in zip(views, grids):
            rows = {key: [] for key in ('s_img', 's_patch', 't_img', 't_patch')}
            for img in x:
                t_tokens = t['backbone'](img[None])[-1][0].flatten(1).T  # (h*w, C), row-major
                s_tokens = model.backbone(img[None])[-1][0].flatten(1).T
                assert t_tokens.shape[0] == h * w
                rows['t_img'].append(t['neck'](naive_class_attention(t['aggregator'], t_tokens)[None])[0])
                rows['s_img'].append(model.neck(naive_class_attention(model.aggregator, s_tokens)[None])[0])
                matched = naive_matched_neighbours(t_tokens, h, w, wrap)
                if (h, w) == (1, 1):
                    assert matched == [[]]  # no neighbour: the copy of the class token attends to itself only
                y = torch.stack([naive_class_attention(t['aggregator'], t_tokens[nb]) for nb in matched])
                rows['t_patch'].append(t['patch_neck'](y))
                rows['s_patch'].append(model.patch_neck(model.aggregator.norm(s_tokens)))
            for key, dest in (('s_img', s_img), ('s_patch', s_patch), ('t_img', t_img), ('t_patch', t_patch)):
                dest.append(torch.stack(rows[key]))
        out = model.loss(views, None)
        got_t_img, got_t_patch = model.encode_tokens(t, views, teacher=True)
    for got, expected in zip(got_t_patch + got_t_img, t_patch + t_img):
        assert torch.allclose(got, expected, atol=1e-5)
    expected_image = image_loss(s_img, t_img[:2], update_center=False)
    assert torch.allclose(out['loss_image'], expected_image, atol=1e-5)
    assert torch.allclose(out['loss_patch'], 0.1 * patch_loss(s_patch, t_patch), atol=1e-5)


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
        m.patch_tokens(MODELS.build(dict(selfpatch_model()['backbone'], out_type='raw')), torch.zeros(1, 3, 32, 32))


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

"""TorchLARS and its parameter groups: torchlars + kakaobrain/scrl CustomLARS on hand-computable inputs."""
import pytest
import torch
import torch.nn as nn
import torchvision
from mmengine.optim import build_optim_wrapper
from mmpretrain.engine.optimizers import LARS as MMPretrainLARS
from mmpretrain.registry import MODELS

import mmspatial  # noqa: F401
from mmspatial.engine.optimizers.torch_lars import TorchLARS, bisect_params_by_name

# ours -> kakaobrain/scrl's module names where they differ in containing 'bn' (configs/scrl/_base_)
RENAME = {'backbone.bn1.': 'encoder.1.', 'neck.bn0.': 'projector.net.1.', 'head.predictor.bn0.': 'net.1.'}


def toy(**kwargs):
    """Two parameters: ``a`` LARS-adapted with weight decay, ``b`` excluded (scrl's bn/bias group)."""
    a = nn.Parameter(torch.tensor([3., 4.]))
    b = nn.Parameter(torch.tensor([1., -1.]))
    opt = TorchLARS([dict(params=[a]), dict(params=[b], lars_adaptation=False, weight_decay=0.)],
                    lr=2.,
                    momentum=0.9,
                    weight_decay=0.1,
                    trust_coef=0.5,
                    eps=0.,
                    **kwargs)
    return a, b, opt


def test_two_parameter_toy_hand_computed():
    a, b, opt = toy()
    a.grad, b.grad = torch.tensor([0.6, 0.8]), torch.tensor([0.5, 0.25])
    opt.step()
    # a: |a| = 5, |g| = 1, trust = 5 / (1 + 0.1 * 5) * 0.5 = 5/3; u = 5/3 * (g + 0.1 a) = 5/3 * [0.9, 1.2]
    #    = [1.5, 2.0]; buf = u; a -= lr * buf = [3, 4] - 2 * [1.5, 2] = [0, 0]
    assert torch.allclose(a, torch.tensor([0., 0.]), atol=1e-6)
    # b: u = lr * g = [1, 0.5] (torchlars quirk); b -= lr * u -> step lr^2 * g = 4 * g
    assert torch.allclose(b, torch.tensor([-1., -2.]))
    assert torch.allclose(a.grad, torch.tensor([1.5, 2.])) and torch.allclose(b.grad, torch.tensor([1., .5]))
    opt.param_groups[0]['lr'] = opt.param_groups[1]['lr'] = 1.  # a scheduler changes lr
    a.grad, b.grad = torch.tensor([0.6, 0.8]), torch.tensor([0.5, 0.25])  # same gradients again
    opt.step()
    # a: |a| = 0 -> trust 1 (torchlars); u = g + 0.1 * 0 = [0.6, 0.8]; buf = 0.9 [1.5, 2] + u = [1.95, 2.6]
    #    a -= 1 * buf
    assert torch.allclose(a, torch.tensor([-1.95, -2.6]), atol=1e-6)
    # b: u = 1 * g = [0.5, 0.25]; buf = 0.9 [1, 0.5] + u = [1.4, 0.7]; b -= 1 * buf
    assert torch.allclose(b, torch.tensor([-2.4, -2.7]), atol=1e-6)


def test_excluded_lr_linear_is_a_plain_sgd_step():
    _, b, opt = toy(excluded_lr='linear')
    b.grad = torch.tensor([0.5, 0.25])
    opt.step()
    assert torch.allclose(b, torch.tensor([1., -1.]) - 2. * torch.tensor([0.5, 0.25]))
    with pytest.raises(ValueError, match='excluded_lr'):
        toy(excluded_lr='cubed')


def reference_step(optimizer: torch.optim.SGD, weight_decays, trust_coef=1e-3, eps=1e-8):
    """torchlars.LARS.step with scrl's CustomLARS.apply_adaptive_lrs (weight decay hidden from SGD)."""
    with torch.no_grad():
        for group, wd in zip(optimizer.param_groups, weight_decays):
            for p in group['params']:
                if group.get('lars_adaptation', True):
                    pn, gn = p.norm(), p.grad.norm()
                    lr = pn / (gn + wd * pn + eps) * trust_coef if pn > 0 and gn > 0 else 1.
                else:
                    lr = group['lr']
                p.grad.add_(p, alpha=wd)
                p.grad.mul_(lr)
    optimizer.step()


@pytest.mark.parametrize('nesterov', [False, True])
def test_matches_torchlars_over_sgd_with_a_changing_lr(nesterov):
    torch.manual_seed(0)
    shapes = [(8, 4), (8, ), (3, 3, 2), (5, )]
    init = [torch.randn(s) for s in shapes]
    init[3].zero_()  # zero norm: trust ratio 1
    ours = [nn.Parameter(t.clone()) for t in init]
    ref = [nn.Parameter(t.clone()) for t in init]
    wd = 1e-2
    opt = TorchLARS([dict(params=ours[:2] + ours[3:]),
                     dict(params=ours[2:3], lars_adaptation=False, weight_decay=0.)],
                    lr=0.5,
                    momentum=0.9,
                    weight_decay=wd,
                    nesterov=nesterov)
    sgd = torch.optim.SGD(
        [dict(params=ref[:2] + ref[3:]), dict(params=ref[2:3], lars_adaptation=False)],
        lr=0.5,
        momentum=0.9,
        nesterov=nesterov)
    for step, lr in enumerate([0.5, 1.5, 3., 0.7]):
        for g in opt.param_groups + sgd.param_groups:
            g['lr'] = lr
        grads = [torch.randn(s) for s in shapes]
        if step == 1:
            grads[1].zero_()  # zero gradient norm: trust ratio 1
        for p, q, g in zip(ours, ref, grads):
            p.grad, q.grad = g.clone(), g.clone()
        opt.step()
        reference_step(sgd, [wd, 0.])
        for p, q in zip(ours, ref):
            assert torch.allclose(p, q, rtol=1e-5, atol=1e-6), step
            assert torch.allclose(p.grad, q.grad, rtol=1e-5, atol=1e-6), step  # torchlars scales p.grad


def test_momentum_form_differs_from_mmpretrain_lars_only_when_lr_changes():
    """torchlars keeps momentum of the lr-free update; mmpretrain's LARS of lr * update."""

    def run(cls, lrs, **kw):
        p = nn.Parameter(torch.tensor([3., 4.]))
        opt = cls([p], lr=lrs[0], momentum=0.9, weight_decay=0., **kw)
        for lr in lrs:
            opt.param_groups[0]['lr'] = lr
            p.grad = torch.tensor([0.6, 0.8])
            opt.step()
        return p.detach()

    # constant lr: identical (trust ratio eta * |p| / |g| recomputed from the same p each step)
    assert torch.allclose(run(TorchLARS, [1., 1.], trust_coef=0.1), run(MMPretrainLARS, [1., 1.], eta=0.1))
    # lr 1 then 2, trust ratio 0.1 * 5 / 1 = 0.5 at step 1: u1 = 0.5 g, p1 = p0 - 0.5 g = [2.7, 3.6]
    # (|p1| = 4.5, ratio 0.45); torchlars: buf = 0.9 * 0.5 g + 0.45 g = 0.9 g, p2 = p1 - 2 * 0.9 g
    # mmpretrain: buf = 0.9 * (1 * 0.5 g) + 2 * 0.45 g = 1.35 g, p2 = p1 - 1.35 g
    g = torch.tensor([0.6, 0.8])
    assert torch.allclose(run(TorchLARS, [1., 2.], trust_coef=0.1), torch.tensor([2.7, 3.6]) - 1.8 * g)
    assert torch.allclose(run(MMPretrainLARS, [1., 2.], eta=0.1), torch.tensor([2.7, 3.6]) - 1.35 * g)


def test_mmpretrain_lars_exclude_key_and_bad_groups():
    p = nn.Parameter(torch.tensor([1., 1.]))
    opt = TorchLARS([dict(params=[p], lars_exclude=True)], lr=3., excluded_lr='squared')
    p.grad = torch.tensor([1., 0.])
    opt.step()
    assert torch.allclose(p, torch.tensor([1. - 9., 1.]))
    with pytest.raises(ValueError, match='lars_adaptation=True and lars_exclude=True'):
        TorchLARS([dict(params=[p], lars_exclude=True, lars_adaptation=True)], lr=1.)


def reference_resnet50_names():
    """kakaobrain/scrl models/backbone.py: Sequential(*list(torchvision resnet50.children())[:-1])."""
    encoder = nn.Sequential(*list(torchvision.models.resnet50().children())[:-1])
    return [(f'encoder.{n}', p.shape) for n, p in encoder.named_parameters()]


def scrl_r50(hid=16, out=8):
    return MODELS.build(
        dict(
            type='SCRL',
            backbone=dict(type='ResNet', depth=50, norm_cfg=dict(type='BN'), zero_init_residual=False),
            neck=dict(
                type='NonLinearNeck',
                in_channels=2048,
                hid_channels=hid,
                out_channels=out,
                with_bias=True,
                with_last_bn=False,
                norm_cfg=dict(type='BN1d')),
            head=dict(
                type='LatentPredictHead',
                loss=dict(type='CosineSimilarityLoss', shift_factor=2., scale_factor=2.),
                predictor=dict(
                    type='NonLinearNeck',
                    in_channels=out,
                    hid_channels=hid,
                    out_channels=out,
                    with_bias=True,
                    with_last_bn=False,
                    with_avg_pool=False,
                    norm_cfg=dict(type='BN1d')))))


def test_exclusions_follow_the_reference_names_of_a_resnet50_scrl():
    """Parameter by parameter, our exclusion equals scrl's 'bn'/'bias' test on the reference's name."""
    model = scrl_r50()
    adapted, excluded = bisect_params_by_name(model, ('bn', 'bias'), RENAME)
    excluded_ids = {id(p) for p in excluded}
    ours = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    assert len(adapted) + len(excluded) == len(ours)  # the target network is left out
    # reference: encoder (torchvision), projector.net.{0,1,3}, predictor net.{0,1,3} (its own module)
    heads = ['net.0.weight', 'net.0.bias', 'net.1.weight', 'net.1.bias', 'net.3.weight']
    reference = ([n for n, _ in reference_resnet50_names()] + [f'projector.{n}' for n in heads] + heads)
    backbone = [(n, p) for n, p in ours if n.startswith('backbone.')]
    assert [p.shape for _, p in backbone] == [s for _, s in reference_resnet50_names()]
    assert len(ours) == len(reference)
    for (name, p), ref_name in zip(ours, reference):
        assert (id(p) in excluded_ids) == any(k in ref_name for k in ('bn', 'bias')), (name, ref_name)
    named = dict(ours)
    # the stem BN weight is adapted and decayed (reference encoder.1.weight), its bias is not
    assert id(named['backbone.bn1.weight']) not in excluded_ids
    assert id(named['backbone.bn1.bias']) in excluded_ids
    assert id(named['backbone.layer1.0.bn1.weight']) in excluded_ids
    assert id(named['backbone.layer1.0.downsample.1.weight']) not in excluded_ids
    assert id(named['neck.bn0.weight']) not in excluded_ids and id(named['neck.bn0.bias']) in excluded_ids


def test_constructor_builds_the_two_reference_groups():
    model = scrl_r50()
    wrapper = build_optim_wrapper(
        model,
        dict(
            type='OptimWrapper',
            constructor='LARSParamGroupsConstructor',
            optimizer=dict(type='TorchLARS', lr=0.3, momentum=0.9, weight_decay=1e-6),
            paramwise_cfg=dict(exclude_keywords=('bn', 'bias'), rename=RENAME)))
    adapted, excluded = wrapper.optimizer.param_groups
    assert adapted['lars_adaptation'] and adapted['weight_decay'] == 1e-6
    assert not excluded['lars_adaptation'] and excluded['weight_decay'] == 0.
    expected = bisect_params_by_name(model, ('bn', 'bias'), RENAME)
    assert [id(p) for p in adapted['params']] == [id(p) for p in expected[0]]
    assert [id(p) for p in excluded['params']] == [id(p) for p in expected[1]]
    with pytest.raises(ValueError, match='custom_keys'):
        build_optim_wrapper(
            model,
            dict(
                type='OptimWrapper',
                constructor='LARSParamGroupsConstructor',
                optimizer=dict(type='TorchLARS', lr=0.3),
                paramwise_cfg=dict(custom_keys={'bn': dict(lr_mult=0.1)})))

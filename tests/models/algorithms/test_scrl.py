"""SCRL: loss formula, EMA schedule, empty box sets, and training through a real Runner."""
import copy
import math

import numpy as np
import pytest
import torch
import torch.nn as nn
from byol_test_utils import PREPROCESSOR, latent_predict_neck_head
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

import mmspatial  # noqa: F401  (registers SCRL, SCRLBoxGenerator, the transforms and datasets)


def scrl_cfg(**kwargs) -> dict:
    """ResNet-18 SCRL with small heads (the reference structure at reduced width)."""
    cfg = dict(
        type='SCRL',
        base_tau=0.97,
        data_preprocessor=PREPROCESSOR,
        backbone=dict(type='ResNet', depth=18, norm_cfg=dict(type='BN')),
        **latent_predict_neck_head(
            loss=dict(type='CosineSimilarityLoss', shift_factor=2., scale_factor=2.), norm_cfg=dict(type='BN1d')),
        box_generator=dict(min_size=16))
    cfg.update(kwargs)
    return cfg


def sample(crops, flips, size=64, image=(96., 128.)) -> DataSample:
    s = DataSample()
    s.set_field(np.asarray(crops, np.float32), 'view_bboxes')
    s.set_field(np.asarray(flips, bool), 'view_flips')
    s.set_field(np.asarray([[size, size]] * 2, np.float32), 'view_shapes')
    s.set_field(np.asarray(image, np.float32), 'ori_img_shape')
    return s


def sgd_steps(num_steps: int = 2, **model_kwargs):
    """A seeded SCRL (``scrl_cfg(**model_kwargs)``) trained for a few SGD steps on fixed views and boxes:
    the model and its losses, so that a speed option can be compared with the default computation."""
    torch.manual_seed(0)
    model = MODELS.build(scrl_cfg(**model_kwargs)).train()
    model.init_weights()
    model.set_target_schedule(100)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    gen = torch.Generator().manual_seed(1)
    views = [torch.randn(2, 3, 64, 64, generator=gen) for _ in range(2)]
    samples = [sample([[0, 0, 64, 64], [16, 8, 96, 88]], [False, True]) for _ in range(2)]
    losses = []
    for step in range(num_steps):
        torch.manual_seed(10 + step)  # the box sampler's draws
        loss = model.loss(views, samples)['loss']
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return model, losses


class PassThrough(nn.Module):

    def forward(self, x):
        return x


def test_symmetric_loss_hand_computed():
    model = MODELS.build(scrl_cfg())
    model.head.predictor = PassThrough()  # q = identity, so the loss is a function of the inputs
    # two boxes; rows are [view 1 box 0, view 1 box 1, view 2 box 0, view 2 box 1]
    online = torch.tensor([[1., 0.], [3., 4.], [0., 1.], [1., 0.]])
    target = torch.tensor([[1., 0.], [0., 2.], [5., 0.], [0., 1.]])
    # box 0: cos(o1, t2) = cos([1,0],[5,0]) = 1 -> 0;  cos(o2, t1) = cos([0,1],[1,0]) = 0 -> 2
    # box 1: cos([3,4],[0,1]) = 0.8 -> 0.4;             cos([1,0],[0,2]) = 0 -> 2
    # reference: mean over boxes of the two-direction sum = ((0 + 2) + (0.4 + 2)) / 2 = 2.2
    assert model.symmetric_loss(online, target).item() == pytest.approx(2.2, abs=1e-6)


def test_target_starts_from_its_own_random_init():
    """Reference trainer.py: _initialize_target_network(from_online=False); the EMA only pulls it along."""
    torch.manual_seed(0)
    model = MODELS.build(scrl_cfg())
    model.init_weights()
    online, target = model.backbone.conv1.weight, model.target_net.module[0].conv1.weight
    assert not torch.allclose(online, target)
    # initialised like the online network (Kaiming normal, fan_out, as torchvision): std sqrt(2 / (64*7*7))
    assert target.std().item() == pytest.approx(math.sqrt(2 / 3136), rel=0.05)
    assert online.std().item() == pytest.approx(math.sqrt(2 / 3136), rel=0.05)
    model.set_target_schedule(10)
    before = copy.deepcopy(model.target_net.module.state_dict())
    model.target_net.update_parameters(nn.Sequential(model.backbone, model.neck))  # first forward
    after = model.target_net.module.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # step 0 applies nothing
    assert int(model.target_net.steps) == 1


def test_target_init_online_copies_at_step_0():
    model = MODELS.build(scrl_cfg(target_init='online'))
    model.init_weights()
    model.set_target_schedule(10)
    online = nn.Sequential(model.backbone, model.neck)
    model.target_net.update_parameters(online)
    for (name, t), o in zip(model.target_net.module.state_dict().items(), online.state_dict().values()):
        assert torch.equal(t, o), name
    with pytest.raises(ValueError, match='target_init'):
        MODELS.build(scrl_cfg(target_init='copy'))


def test_ema_schedule_matches_the_reference():
    """trainer/base.py: after optimiser step k of K, tau_k = 1 - (1 - m_base)(cos(pi k / K) + 1) / 2.

    Our update runs at the start of forward s (after step s - 1), so call s applies tau_{s-1}.
    """
    model = MODELS.build(scrl_cfg(base_tau=0.97))
    online = nn.Sequential(model.backbone, model.neck)
    model.set_target_schedule(100)
    # call s -> k = s - 1 -> tau: k=0: 0.97; k=50: 1 - 0.03 * 0.5 = 0.985; k=100: 1
    for calls, tau in ((1, 0.97), (51, 0.985), (101, 1.)):
        for p in model.target_net.module.parameters():
            p.data.fill_(2.)
        for p in online.parameters():
            p.data.fill_(1.)
        model.target_net.steps.fill_(calls)
        model.target_net.update_parameters(online)
        got = next(model.target_net.module.parameters())
        # target <- tau * 2 + (1 - tau) * 1
        assert torch.allclose(got, torch.full_like(got, 1 + tau), atol=1e-6), calls
    with pytest.raises(ValueError, match='CosineEMA'):
        MODELS.build(scrl_cfg(base_tau=0.004))


def test_update_without_a_schedule_names_the_hook_and_the_config_key():
    """The model reads no runner state: without SCRLTargetMomentumHook the first update raises."""
    model = MODELS.build(scrl_cfg())
    online = nn.Sequential(model.backbone, model.neck)
    with pytest.raises(RuntimeError, match=r"SCRLTargetMomentumHook.*custom_hooks"):
        model.target_net.update_parameters(online)
    assert int(model.target_net.steps) == 0  # nothing happened
    for bad in (0, 2.5, True, None):
        with pytest.raises(ValueError, match='max_iters'):
            model.set_target_schedule(bad)
    model.set_target_schedule(3)
    model.target_net.update_parameters(online)
    assert int(model.target_net.steps) == 1


def test_target_keeps_its_own_bn_statistics():
    """The reference averages parameters only; the target's BN buffers come from its own forwards."""
    model = MODELS.build(scrl_cfg())
    model.set_target_schedule(10)
    online = nn.Sequential(model.backbone, model.neck)
    model.backbone.bn1.running_mean.fill_(5.)
    for _ in range(2):
        model.target_net.update_parameters(online)
    assert torch.equal(model.target_net.module[0].bn1.running_mean, torch.zeros(64))


def _batch(crop_pairs, flip_pairs, size=64):
    torch.manual_seed(0)
    inputs = [torch.randint(0, 255, (len(crop_pairs), 3, size, size), dtype=torch.uint8) for _ in range(2)]
    samples = [sample(c, f, size) for c, f in zip(crop_pairs, flip_pairs)]
    return dict(inputs=inputs, data_samples=samples)


def _assert_every_parameter_has_a_finite_grad(model):
    trainable = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    assert trainable
    for name, p in trainable:
        assert p.grad is not None, name
        assert torch.isfinite(p.grad).all(), name


def test_batch_without_overlap_trains_without_nan():
    model = MODELS.build(scrl_cfg())
    model.set_target_schedule(10)
    # the two views of each image are disjoint
    data = _batch([[[0., 0., 40., 40.], [50., 50., 120., 90.]], [[0., 0., 60., 96.], [60., 0., 128., 96.]]],
                  [[False, True], [True, False]])
    data = model.data_preprocessor(data, True)
    losses = model.loss(**data)
    assert losses['num_boxes'].item() == 0 and losses['valid_images'].item() == 0
    loss, log_vars = model.parse_losses(losses)
    assert loss.item() == 0. and 'num_boxes' in log_vars
    loss.backward()
    _assert_every_parameter_has_a_finite_grad(model)
    for buf in model.buffers():
        assert torch.isfinite(buf.float()).all()


def test_partly_overlapping_batch_counts_boxes_and_gives_grads():
    model = MODELS.build(scrl_cfg())
    model.set_target_schedule(10)
    data = _batch(
        [
            [[0., 0., 40., 40.], [50., 50., 120., 90.]],  # disjoint: no boxes
            [[0., 0., 100., 96.], [20., 0., 128., 90.]]
        ],  # overlapping
        [[False, True], [True, False]])
    data = model.data_preprocessor(data, True)
    losses = model.loss(**data)
    assert losses['num_boxes'].item() == 10 and losses['valid_images'].item() == 0.5
    assert 0 < losses['loss'].item() < 8
    losses['loss'].backward()
    _assert_every_parameter_has_a_finite_grad(model)


def test_image_level_term_is_the_symmetric_loss_on_pooled_features():
    model = MODELS.build(scrl_cfg(image_loss_weight=0.5))
    model.set_target_schedule(10)
    data = model.data_preprocessor(_batch([[[0., 0., 100., 96.], [20., 0., 128., 90.]]] * 2, [[False, True]] * 2), True)
    losses = model.loss(**data)
    assert set(losses) == {'loss_scrl', 'loss_byol', 'num_boxes', 'valid_images'}
    # naive: globally pooled stage-4 features of [v1; v2] (one backbone batch, as the model), projected,
    # predicted; 0.5 * mean over images of (2 - 2cos(q(z1), z2') + 2 - 2cos(q(z2), z1'))
    with torch.no_grad():
        views = torch.cat(data['inputs'])
        z = model.neck([model.backbone(views)[-1].mean(dim=(2, 3), keepdim=True)])[0]
        q = model.head.predictor([z])[0]
        target_backbone, target_neck = model.target_net.module
        t = target_neck([target_backbone(views)[-1].mean(dim=(2, 3), keepdim=True)])[0]
    q1, q2 = q.chunk(2)
    t1, t2 = t.chunk(2)
    cos = torch.nn.functional.cosine_similarity
    expected = 0.5 * ((2 - 2 * cos(q1, t2)) + (2 - 2 * cos(q2, t1))).mean()
    assert losses['loss_byol'].item() == pytest.approx(expected.item(), rel=1e-5)
    assert losses['loss_byol'].item() > 0.1  # not a degenerate 0 == 0
    with pytest.raises(KeyError, match='roi_align_cfg'):
        MODELS.build(scrl_cfg(roi_align_cfg=dict(pool_size=2)))


def view_pipeline(size):
    return [
        dict(
            type='RandomResizedCropWithBox',
            scale=size,
            crop_ratio_range=(0.2, 1.),
            interpolation='bicubic',
            backend='pillow'),
        dict(type='RandomFlipWithFlag', prob=0.5),
        dict(
            type='RandomApply',
            prob=0.8,
            transforms=[dict(type='SafeHueColorJitter', brightness=0.4, contrast=0.4, saturation=0.2, hue=0.1)]),
        dict(type='RandomGrayscale', prob=0.2, keep_channels=True, channel_weights=(0.114, 0.587, 0.2989)),
        dict(type='ResizeBlur', prob=0.5),
        dict(type='Solarize', thr=128, prob=0.2)
    ]


def runner_cfg(tmp_path, dataset, size=64, max_iters=2, batch_size=4):
    pipeline = [
        dict(type='MultiViewWithGeometry', num_views=[1, 1], transforms=[view_pipeline(size),
                                                                         view_pipeline(size)]),
        dict(type='PackInputs', algorithm_keys=['view_bboxes', 'view_flips', 'view_shapes', 'ori_img_shape'])
    ]
    dataset = dict(dataset, pipeline=dataset.get('pipeline', []) + pipeline)
    return dict(
        model=scrl_cfg(),
        custom_hooks=[dict(type='SCRLTargetMomentumHook')],
        work_dir=str(tmp_path),
        default_scope='mmpretrain',
        train_dataloader=dict(
            batch_size=batch_size,
            num_workers=0,
            sampler=dict(type='DefaultSampler', shuffle=True),
            collate_fn=dict(type='default_collate'),
            dataset=dataset),
        # the reference's optimiser (configs/scrl/_base_/scrl_lars_coslr.py) with a warm-up scheduler
        optim_wrapper=dict(
            type='OptimWrapper',
            constructor='LARSParamGroupsConstructor',
            optimizer=dict(type='TorchLARS', lr=0.1, weight_decay=1e-6, momentum=0.9),
            paramwise_cfg=dict(
                exclude_keywords=('bn', 'bias'),
                rename={
                    'backbone.bn1.': 'encoder.1.',
                    'neck.bn0.': 'projector.net.1.',
                    'head.predictor.bn0.': 'net.1.'
                })),
        param_scheduler=[dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=max_iters)],
        train_cfg=dict(type='IterBasedTrainLoop', max_iters=max_iters),
        default_hooks=dict(
            checkpoint=dict(type='CheckpointHook', interval=1000), logger=dict(type='LoggerHook', interval=1)),
        randomness=dict(seed=0),
        log_level='WARNING')


def _train(cfg):
    from mmengine.runner import Runner
    runner = Runner.from_cfg(cfg)
    before = copy.deepcopy(runner.model.backbone.state_dict())
    runner.train()
    scalars = runner.message_hub.log_scalars
    losses = scalars['train/loss'].data[0]
    assert len(losses) == cfg['train_cfg']['max_iters']
    assert np.isfinite(losses).all()
    assert 'train/num_boxes' in scalars
    after = runner.model.backbone.state_dict()
    assert any(not torch.equal(before[k], after[k]) for k in before if after[k].is_floating_point())
    groups = runner.optim_wrapper.optimizer.param_groups
    assert [g['lars_adaptation'] for g in groups] == [True, False]
    return runner, scalars


def test_resnet18_scrl_trains_through_runner(tmp_path):
    runner, scalars = _train(
        runner_cfg(tmp_path, dict(type='SyntheticScenes', num_images=8, img_size=(96, 128), seed=0), size=64))
    assert scalars['train/num_boxes'].data[0].sum() > 0
    # SCRLTargetMomentumHook gave the target the run's length; the target counted the steps itself
    assert runner.model.target_net.max_iters == runner.max_iters == 2
    assert int(runner.model.target_net.steps) == 2


def test_runner_without_the_schedule_hook_fails_at_the_first_step(tmp_path):
    from mmengine.runner import Runner
    cfg = runner_cfg(tmp_path, dict(type='SyntheticScenes', num_images=4, img_size=(96, 128), seed=0), size=64)
    cfg['custom_hooks'] = []
    runner = Runner.from_cfg(cfg)
    with pytest.raises(RuntimeError, match=r"dict\(type='SCRLTargetMomentumHook'\).*custom_hooks"):
        runner.train()
    assert runner.iter == 0 and int(runner.model.target_net.steps) == 0


@pytest.mark.slow
def test_scrl_on_coco128(tmp_path, shared_data):
    coco128 = shared_data / 'coco128'
    if not (coco128 / 'train2017').is_dir():
        pytest.skip(f'{coco128} not found')
    dataset = dict(
        type='UnlabeledImages',
        data_root=str(coco128),
        ann_file='annotations/instances_train2017.json',
        data_prefix='train2017',
        pipeline=[dict(type='LoadImageFromFile')])
    _, scalars = _train(runner_cfg(tmp_path, dataset, size=96, max_iters=3, batch_size=4))
    assert scalars['train/num_boxes'].data[0].sum() > 0


def _ddp_worker(rank: int, world_size: int, port: int, queue) -> None:
    """One rank of a 2-process CPU DDP run; rank 0's views never overlap (no boxes)."""
    import torch.distributed as dist
    from mmengine.model import MMDistributedDataParallel
    try:
        torch.set_num_threads(1)
        dist.init_process_group('gloo', init_method=f'tcp://127.0.0.1:{port}', rank=rank, world_size=world_size)
        torch.manual_seed(0)  # same initial weights on both ranks
        model = MODELS.build(scrl_cfg())
        model.set_target_schedule(10)
        ddp = MMDistributedDataParallel(model, find_unused_parameters=False)
        optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
        if rank == 0:
            crops = [[[0., 0., 40., 40.], [50., 50., 120., 90.]]] * 2
        else:
            crops = [[[0., 0., 100., 96.], [20., 0., 128., 90.]]] * 2
        num_boxes = []
        for _ in range(3):  # a missing gradient would make DDP fail at the next iteration
            data = model.data_preprocessor(_batch(crops, [[False, True]] * 2), True)
            losses = ddp(**data, mode='loss')
            loss, _ = model.parse_losses(losses)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            num_boxes.append(losses['num_boxes'].item())
            assert torch.isfinite(loss)
        first = next(model.backbone.parameters()).detach().clone()
        dist.all_reduce(first)
        queue.put((rank, num_boxes, bool(torch.allclose(first / 2, next(model.backbone.parameters())))))
    except Exception as e:  # report instead of hanging the other rank
        queue.put((rank, repr(e), False))
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()


@pytest.mark.slow
def test_ddp_rank_without_boxes_stays_in_step():
    import socket

    import torch.multiprocessing as mp
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
    ctx = mp.get_context('spawn')
    queue = ctx.Queue()
    procs = [ctx.Process(target=_ddp_worker, args=(r, 2, port, queue)) for r in range(2)]
    for p in procs:
        p.start()
    try:  # a hung collective shows up as a queue timeout
        results = {r: (boxes, same) for r, boxes, same in (queue.get(timeout=300) for _ in procs)}
    finally:
        for p in procs:
            p.join(timeout=30)
            if p.is_alive():
                p.terminate()
    assert results[0] == ([0., 0., 0.], True), results
    assert results[1] == ([20., 20., 20.], True), results  # weights identical on both ranks

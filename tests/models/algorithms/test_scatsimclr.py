"""ScatSimCLR: loss wiring, per-view forwards, the pretext schedule and its hook, training through real Runners."""
from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.logging import MessageHub
from mmengine.runner import Runner
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

import mmspatial  # noqa: F401
from mmspatial.models.losses.nt_xent import NTXentLoss

CONFIGS = Path(__file__).resolve().parents[3] / 'configs' / 'scatsimclr'
MEAN, STD = [125.205, 122.91, 113.985], [62.985, 61.965, 66.555]


def small_model(**kwargs):
    cfg = dict(
        type='ScatSimCLR',
        data_preprocessor=dict(type='SelfSupDataPreprocessor', mean=MEAN, std=STD, to_rgb=False),
        backbone=dict(type='ScatNet', depth=8, input_size=(16, 16), J=2, L=4),
        neck=dict(type='MoCoV2Neck', in_channels=2048, hid_channels=64, out_channels=16, with_avg_pool=False))
    cfg.update(kwargs)
    return MODELS.build(cfg)


def samples(labels):
    out = []
    for label in labels:
        ds = DataSample()
        ds.set_field(np.asarray(label), 'pretext_label')
        out.append(ds)
    return out


def test_contrastive_loss_is_nt_xent_of_per_view_projections():
    torch.manual_seed(0)
    model = small_model()
    v1, v2 = torch.randn(4, 3, 16, 16), torch.randn(4, 3, 16, 16)
    losses = model.loss([v1, v2], samples([0] * 4))
    z1, z2 = model.neck(model.backbone(v1))[0], model.neck(model.backbone(v2))[0]
    assert set(losses) == {'loss_contrastive'}
    assert losses['loss_contrastive'].item() == pytest.approx(NTXentLoss(0.5)(z1, z2).item(), rel=1e-5)


def _backbone_batches(model, inputs):
    sizes = []
    handle = model.backbone.register_forward_hook(lambda m, args, out: sizes.append(args[0].shape[0]))
    loss = model.loss(inputs, samples([[0, 1, 2, 3]] * inputs[0].shape[0]))
    handle.remove()
    return sizes, loss


def test_views_go_through_the_backbone_per_view_by_default():
    # reference trainers: model(img1), model(img2), then model(pretext inputs): BN statistics per view
    torch.manual_seed(0)
    head = dict(type='RotationHead', in_channels=2048, hid_channels=(8, ))
    views = [torch.randn(3, 3, 16, 16) for _ in range(6)]  # 2 views + 4 rotations of 3 images
    per_view = small_model(pretext_head=head)
    sizes, loss = _backbone_batches(per_view, views)
    assert sizes == [3, 3, 12]
    batched = small_model(pretext_head=head, batched_views=True)
    batched.load_state_dict(per_view.state_dict())
    sizes_b, loss_b = _backbone_batches(batched, views)
    assert sizes_b == [6, 12]
    z = batched.neck(batched.backbone(torch.cat(views[:2])))[0]
    assert loss_b['loss_contrastive'].item() == pytest.approx(NTXentLoss(0.5)(z[:3], z[3:]).item(), rel=1e-5)
    # train-mode BatchNorm over N vs 2N images: the two choices are different computations
    assert loss['loss_contrastive'].item() != pytest.approx(loss_b['loss_contrastive'].item(), rel=1e-4)
    per_view.eval(), batched.eval()  # with running statistics they agree
    assert _backbone_batches(per_view, views)[1]['loss_contrastive'].item() == pytest.approx(
        _backbone_batches(batched, views)[1]['loss_contrastive'].item(), rel=1e-5)


def test_pretext_schedule_and_inputs():
    model = small_model(pretext_head=dict(type='RotationHead', in_channels=2048, hid_channels=(8, )), pretext_start=40)
    views = [torch.randn(2, 3, 16, 16) for _ in range(6)]  # 2 views + 4 rotations
    data = samples([[0, 1, 2, 3]] * 2)
    with pytest.raises(RuntimeError, match='ScatSimCLRPretextScheduleHook'):
        model.loss(views, data)  # scheduled, but nobody told the model the progress
    MessageHub.get_current_instance().update_info('epoch', 100)
    with pytest.raises(RuntimeError, match='ScatSimCLRPretextScheduleHook'):
        model.loss(views, data)  # runner state in the message hub is not read
    model.set_pretext_progress(epoch=39, iteration=100000)
    assert model.current_pretext_weight() == 0
    before = model.loss(views, data)
    assert before['loss_pretext'].item() == 0 and 'acc_pretext' not in before  # no pretext forward
    before['loss_pretext'].backward()  # the head is still in the graph (for DDP)
    assert all(p.grad is not None for p in model.pretext_head.parameters())
    model.set_pretext_progress(epoch=40, iteration=0)
    assert model.current_pretext_weight() == 0.3
    after = model.loss(views, data)
    assert after['loss_pretext'].item() > 0 and 0 <= after['acc_pretext'].item() <= 1
    with pytest.raises(ValueError, match='no pretext inputs'):
        model.loss(views[:2], data)
    by_iter = small_model(
        pretext_head=dict(type='RotationHead', in_channels=2048, hid_channels=(8, )),
        pretext_start=5,
        pretext_start_by='iter')
    by_iter.set_pretext_progress(epoch=9, iteration=4)
    assert by_iter.current_pretext_weight() == 0
    by_iter.set_pretext_progress(epoch=0, iteration=5)
    assert by_iter.current_pretext_weight() == 0.3
    # without a schedule no hook is needed
    assert small_model(pretext_head=dict(type='RotationHead', in_channels=2048)).current_pretext_weight() == 0.3


def test_raw_pretext_inputs_undo_normalisation():
    model = small_model(raw_pretext_inputs=True)
    pixels = torch.tensor([0., 51., 255.]).view(1, 3, 1, 1).expand(1, 3, 2, 2)
    normed = (pixels - torch.tensor(MEAN).view(1, 3, 1, 1)) / torch.tensor(STD).view(1, 3, 1, 1)
    assert torch.allclose(model._to_raw(normed), pixels / 255., atol=1e-6)


def make_npz(path: Path, num: int = 16) -> str:
    rng = np.random.default_rng(0)
    imgs = rng.integers(0, 256, (num, 32, 32, 3), dtype=np.uint8)
    np.savez(path, train_images=imgs, train_labels=np.arange(num) % 10)
    return str(path)


def _tiny_full_scale_runner(tmp_path, config, num_images=4, batch=4, epochs=2):
    """The reproduction config with its HoldOutSplit over a tiny npz, small model, 1 step per epoch."""
    cfg = Config.fromfile(str(CONFIGS / config))
    cfg.work_dir = str(tmp_path / 'work')
    cfg.train_dataloader.update(batch_size=batch, num_workers=0, persistent_workers=False)
    cfg.train_dataloader.dataset.dataset = dict(
        type='NpzImageDataset', ann_file=make_npz(tmp_path / 'd.npz', num_images))
    cfg.model.backbone.L = 4  # 75 scattering maps instead of 867
    cfg.model.neck.update(hid_channels=64, out_channels=16)
    cfg.model.pretext_head.update(hid_channels=(8, ))
    cfg.train_cfg.max_epochs = epochs
    cfg.default_hooks.checkpoint.interval = epochs
    cfg.default_hooks.logger.interval = 1
    cfg.vis_backends = cfg.visualizer.vis_backends = [dict(type='LocalVisBackend')]
    cfg.log_level = 'WARNING'
    return cfg


@pytest.mark.slow
def test_schedule_hook_turns_the_pretext_loss_on(tmp_path):
    cfg = _tiny_full_scale_runner(tmp_path, 'scatsimclr-rotation_scatnet8_1xb64-100e_cifar10.py')
    assert cfg.custom_hooks == [dict(type='ScatSimCLRPretextScheduleHook')]
    cfg.model.pretext_start = 1  # lambda = 0 in epoch 0, 0.3 from epoch 1
    runner = Runner.from_cfg(cfg)
    assert len(runner.train_dataloader.dataset) == 4  # floor(0.05 * 4) = 0 held out
    runner.train()
    values, _ = runner.message_hub.log_scalars['train/loss_pretext'].data
    assert len(values) == 2 and values[0] == 0 and values[1] > 0  # epoch 0: lambda = 0; epoch 1: 0.3


@pytest.mark.slow
def test_scheduled_pretext_without_the_hook_fails_loudly(tmp_path):
    cfg = _tiny_full_scale_runner(tmp_path, 'scatsimclr-rotation_scatnet8_1xb64-100e_cifar10.py', epochs=1)
    cfg.model.pretext_start = 1
    cfg.custom_hooks = []
    with pytest.raises(RuntimeError, match='ScatSimCLRPretextScheduleHook'):
        Runner.from_cfg(cfg).train()


@pytest.mark.slow
@pytest.mark.parametrize('variant', ['scatsimclr8', 'scatsimclr8-rotation', 'scatsimclr8-jigsaw'])
def test_trains_through_the_runner(tmp_path, variant):
    name = {
        'scatsimclr8': 'scatsimclr',
        'scatsimclr8-rotation': 'scatsimclr-rotation',
        'scatsimclr8-jigsaw': 'scatsimclr-jigsaw'
    }[variant]
    cfg = Config.fromfile(str(CONFIGS / f'{name}_scatnet8_1xb64-cpu_cifar10-subset.py'))
    cfg.work_dir = str(tmp_path)
    cfg.train_dataloader.batch_size = 8
    cfg.train_dataloader.num_workers = 0
    cfg.train_dataloader.persistent_workers = False
    cfg.train_dataloader.dataset.ann_file = make_npz(tmp_path / 'tiny.npz')
    cfg.train_cfg.max_iters = 2
    cfg.default_hooks.checkpoint.interval = 2
    cfg.default_hooks.logger.interval = 1
    cfg.vis_backends = cfg.visualizer.vis_backends = [dict(type='LocalVisBackend')]
    cfg.log_level = 'WARNING'
    runner = Runner.from_cfg(cfg)
    runner.train()
    scalars = runner.message_hub.log_scalars
    assert np.isfinite(scalars['train/loss'].current())
    assert scalars['train/loss_contrastive'].current() > 0
    if variant != 'scatsimclr8':
        assert scalars['train/loss_pretext'].current() > 0
    ckpt = torch.load(tmp_path / 'iter_2.pth', map_location='cpu', weights_only=False)
    assert 'backbone.scattering.psi2_0_1' in ckpt['state_dict']  # filters travel with the checkpoint

"""ScatSimCLR: loss wiring, the pretext schedule, and training through a real Runner (32 px, batch 8)."""
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
    cfg = dict(type='ScatSimCLR',
               data_preprocessor=dict(type='SelfSupDataPreprocessor', mean=MEAN, std=STD, to_rgb=False),
               backbone=dict(type='ScatNet', depth=8, input_size=(16, 16), J=2, L=4),
               neck=dict(type='MoCoV2Neck', in_channels=2048, hid_channels=64, out_channels=16,
                         with_avg_pool=False))
    cfg.update(kwargs)
    return MODELS.build(cfg)


def samples(labels):
    out = []
    for label in labels:
        ds = DataSample()
        ds.set_field(np.asarray(label), 'pretext_label')
        out.append(ds)
    return out


def test_contrastive_loss_is_nt_xent_of_the_projections():
    torch.manual_seed(0)
    model = small_model()
    v1, v2 = torch.randn(4, 3, 16, 16), torch.randn(4, 3, 16, 16)
    losses = model.loss([v1, v2], samples([0] * 4))
    torch.manual_seed(0)
    z = model.neck(model.backbone(torch.cat([v1, v2])))[0]
    assert set(losses) == {'loss_contrastive'}
    assert losses['loss_contrastive'].item() == pytest.approx(NTXentLoss(0.5)(z[:4], z[4:]).item(), rel=1e-5)


def test_pretext_schedule_and_inputs():
    hub = MessageHub.get_instance('test_scatsimclr_schedule')
    model = small_model(pretext_head=dict(type='RotationHead', in_channels=2048, hid_channels=(8, )),
                        pretext_start=40)
    views = [torch.randn(2, 3, 16, 16) for _ in range(6)]  # 2 views + 4 rotations
    data = samples([[0, 1, 2, 3]] * 2)
    hub.update_info('epoch', 39)
    assert model.current_pretext_weight() == 0
    before = model.loss(views, data)
    assert before['loss_pretext'].item() == 0 and 'acc_pretext' not in before  # no pretext forward
    before['loss_pretext'].backward()  # the head is still in the graph (for DDP)
    assert all(p.grad is not None for p in model.pretext_head.parameters())
    hub.update_info('epoch', 40)
    assert model.current_pretext_weight() == 0.3
    after = model.loss(views, data)
    assert after['loss_pretext'].item() > 0 and 0 <= after['acc_pretext'].item() <= 1
    with pytest.raises(ValueError, match='no pretext inputs'):
        model.loss(views[:2], data)


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


@pytest.mark.slow
@pytest.mark.parametrize('variant', ['scatsimclr8', 'scatsimclr8-rotation', 'scatsimclr8-jigsaw'])
def test_trains_through_the_runner(tmp_path, variant):
    cfg = Config.fromfile(str(CONFIGS / f'{variant}_1xb64-cpu_cifar10-subset.py'))
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

"""The learning protocol's probes see what training saw (issue 14 section 4).

A protocol config (``benchmarks/learning``) is trained for a few steps on tiny stand-ins of its datasets
(an RGB ``.npz`` for cifar10_subset, BGR image files for flowers128); then

* the kNN / linear probes' loaders (``arm.probe_loaders``) passed through the model's own data
  preprocessor give the features of the images normalised by hand with the config's mean / std in the
  order the model was trained on, and
* the localisation probe (``arm.localisation_inputs``: arrays + ``FrozenBackbone``) embeds the same
  images to the same features,

while a swapped channel order or a missing normalisation gives other features (the checks can fail).
"""
import sys
from pathlib import Path

import mmcv
import numpy as np
import pytest
import torch
from mmengine.runner import Runner

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / 'benchmarks' / 'learning'))
import arm  # noqa: E402
from protocol import method_by_key, probe_spec  # noqa: E402

from mmspatial.compat import enable_numpy2_hue_fix  # noqa: E402
from mmspatial.evaluation.features import extract_features  # noqa: E402
from mmspatial.evaluation.spatial_reasoning.common import FrozenBackbone  # noqa: E402

METHODS = {'cifar10_subset': 'cifar10_subset:SimCLR (mmpretrain)', 'flowers128': 'flowers128:BYOL (mmpretrain)'}


def _coloured(n, size, seed):
    """uint8 images with a strong red/blue split, so a channel swap changes the features."""
    rng = np.random.default_rng(seed)
    imgs = rng.integers(0, 256, (n, size, size, 3), dtype=np.uint8)
    imgs[::2, ..., 0] = 250
    imgs[1::2, ..., 2] = 250
    return imgs


def _tiny_data(spec, tmp_path, monkeypatch):
    """A stand-in of the dataset with its storage format and channel order; returns the probe size."""
    if spec.name == 'cifar10_subset':  # RGB arrays in an .npz
        npz = tmp_path / 'cifar.npz'
        np.savez(
            npz,
            train_images=_coloured(40, 32, 0),
            train_labels=np.arange(40) % 10,
            val_images=_coloured(10, 32, 1),
            val_labels=np.arange(10) % 10)
        monkeypatch.setattr(arm, 'CIFAR_NPZ', str(npz))
        return 32
    # BGR files (LoadImageFromFile), one folder per class; at the probe size, so no resize differs
    size = spec.probe_size
    for i, img in enumerate(_coloured(25, size, 2)):
        folder = tmp_path / 'flowers' / f'class{i % 5}'
        folder.mkdir(parents=True, exist_ok=True)
        mmcv.imwrite(img, str(folder / f'{i:03d}.png'))
    monkeypatch.setattr(arm, 'FLOWERS', str(tmp_path / 'flowers'))
    return size


@pytest.fixture(params=list(METHODS), scope='function')
def trained(request, tmp_path, monkeypatch):
    dataset = request.param
    method = method_by_key(METHODS[dataset])
    spec = probe_spec(dataset, method.backbone)
    size = _tiny_data(spec, tmp_path, monkeypatch)
    cfg = arm.load_config(method, 0, str(tmp_path / 'work'), quick=True)
    cfg.train_dataloader.batch_size = 4
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=2)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # restored below: a leaked thread count changes other tests' float sums
    enable_numpy2_hue_fix()  # mmcv 2.1's hue jitter under numpy 2, undone below
    try:
        runner = Runner.from_cfg(cfg)
        runner.train()
    finally:
        enable_numpy2_hue_fix(False)
        torch.set_num_threads(threads)
    return dataset, spec, size, runner, arm.probe_loaders(spec, quick=True)


def _by_hand(backbone, imgs_rgb, mean, std):
    """What training feeds the backbone: RGB, (x - mean) / std, global-average-pooled last stage."""
    x = torch.from_numpy(imgs_rgb.copy()).permute(0, 3, 1, 2).float()
    x = (x - torch.tensor(mean).view(1, 3, 1, 1)) / torch.tensor(std).view(1, 3, 1, 1)
    backbone.eval()
    with torch.no_grad():
        return backbone(x)[-1].mean(dim=(2, 3)).double()


def test_protocol_probes_preprocess_as_training(trained):
    dataset, spec, size, runner, loaders = trained
    model = runner.model
    pre = model.data_preprocessor
    backbone = model.backbone
    mean, std = pre.mean.flatten().tolist(), pre.std.flatten().tolist()

    # 1. the kNN / linear probe path
    val = runner.build_dataloader(arm.loader(loaders['val']))
    feats, _ = extract_features(backbone, val, pre)
    ds = val.dataset
    raw = []
    for i in range(len(ds)):
        info = ds.get_data_info(i)
        raw.append(info['img'] if 'img' in info else mmcv.imread(info['img_path'], channel_order='bgr'))
    raw = np.stack(raw)
    stored_rgb = dataset == 'cifar10_subset'  # the .npz holds RGB, files load as BGR
    rgb = raw if stored_rgb else raw[..., ::-1]
    assert rgb.shape[1:3] == (size, size)
    want = _by_hand(backbone, rgb, mean, std)
    assert torch.allclose(feats.double(), want, atol=1e-4, rtol=1e-4)
    # the same check rejects a probe that swaps channels or skips the normalisation
    assert not torch.allclose(feats.double(), _by_hand(backbone, rgb[..., ::-1], mean, std), atol=1e-2, rtol=1e-2)
    assert not torch.allclose(feats.double(), _by_hand(backbone, rgb, [0.] * 3, [1.] * 3), atol=1e-2, rtol=1e-2)

    # 2. the localisation probe path: its arrays and frozen backbone embed the bank images as training would
    frozen, images = arm.localisation_inputs(backbone, pre, loaders, runner, spec, quick=True)
    bank = runner.build_dataloader(arm.loader(loaders['bank']))
    bank_feats, _ = extract_features(backbone, bank, pre)
    n = len(images[0])
    got = torch.from_numpy(frozen.embed(images[0]))  # BGR arrays, the probe's convention
    assert torch.allclose(got, bank_feats[:n].double(), atol=1e-4, rtol=1e-4)
    swapped = FrozenBackbone('swapped', backbone, mean=frozen.mean, std=frozen.std, to_rgb=not frozen.to_rgb)
    assert not torch.allclose(torch.from_numpy(swapped.embed(images[0])), bank_feats[:n].double(), atol=1e-2, rtol=1e-2)
    unnormalised = FrozenBackbone('raw', backbone, mean=(0., 0., 0.), std=(1., 1., 1.), to_rgb=frozen.to_rgb)
    assert not torch.allclose(
        torch.from_numpy(unnormalised.embed(images[0])), bank_feats[:n].double(), atol=1e-2, rtol=1e-2)

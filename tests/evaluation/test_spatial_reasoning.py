import json

import numpy as np
import pytest
import torch
from mmpretrain.registry import MODELS

from mmspatial.datasets.synthetic_scenes import SyntheticScenes
from mmspatial.evaluation.spatial_reasoning.common import (fit_ridge, load_frozen_backbone, predict_ridge, r2_score,
                                                           select_alpha)
from mmspatial.evaluation.spatial_reasoning.jigsaw import assemble, cut_tiles, hungarian_positions
from mmspatial.evaluation.spatial_reasoning.runners import jigsaw_main, position_scale_main

CONFIG = """
model = dict(type='SpatialPrediction', sp_head=dict(type='SpatialPredictionHead', in_channels=64),
             host=dict(type='BYOL', backbone=dict(type='ResNet', depth=18, base_channels=8,
                                                  stem_channels=8),
                       neck=dict(type='NonLinearNeck', in_channels=64, hid_channels=8, out_channels=8),
                       head=dict(type='LatentPredictHead', loss=dict(type='CosineSimilarityLoss'),
                                 predictor=dict(type='NonLinearNeck', in_channels=8, hid_channels=8,
                                                out_channels=8, with_avg_pool=False))))
"""


@pytest.fixture
def folder(tmp_path):
    SyntheticScenes(num_images=16, img_size=(64, 64), seed=0).export_images(str(tmp_path / 'imgs'))
    (tmp_path / 'cfg.py').write_text(CONFIG)
    return tmp_path


def test_ridge_and_r2():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(50, 3))
    y = x @ np.array([[1.], [-2.], [0.5]]) + 3
    pred = predict_ridge(x, fit_ridge(x, y, 1e-8))
    assert np.allclose(pred, y, atol=1e-6) and np.allclose(r2_score(y, pred), 1)
    wide = rng.normal(size=(5, 20))  # dual form (D > N) fits the training set too
    assert np.allclose(predict_ridge(wide, fit_ridge(wide, y[:5], 1e-8)), y[:5], atol=1e-4)
    assert np.allclose(r2_score(y, np.full_like(y, y.mean())), 0)
    alpha = select_alpha(x, y, np.arange(50) % 10, lambda a, b: -((a - b)**2).mean(), 0)
    assert alpha == 1e-2  # noiseless data: the weakest regularisation wins


def test_tiles_and_hungarian():
    imgs = np.random.default_rng(0).integers(0, 255, (2, 12, 12, 3), dtype=np.uint8)
    tiles = cut_tiles(imgs, 3)
    assert tiles.shape == (2, 9, 4, 4, 3) and np.array_equal(tiles[0, 5], imgs[0, 4:8, 8:12])
    perm = np.stack([np.random.default_rng(i).permutation(9) for i in range(2)])
    shuffled = tiles[np.arange(2)[:, None], perm]
    assert np.array_equal(assemble(shuffled, perm, 3), imgs)
    scores = np.eye(9)[perm] + 0.1  # tile k scores highest at its true position
    scores[:, 0, :] = 1.0  # a tie for tile 0: the assignment still uses each position once
    assert np.array_equal(hungarian_positions(scores), perm)


def test_load_backbone_prefixes(folder):
    model = MODELS.build(dict(type='SpatialPrediction', **{k: v for k, v in _cfg(folder).items() if k != 'type'}))
    torch.save(dict(state_dict=model.state_dict()), folder / 'sp.pth')
    torch.save(dict(state_dict={f'host.{k}': v for k, v in model.state_dict().items()}), folder / 'wrapped.pth')
    for ckpt in ('sp.pth', 'wrapped.pth'):
        fb = load_frozen_backbone(str(folder / 'cfg.py'), str(folder / ckpt))
        assert torch.equal(fb.backbone.conv1.weight, model.backbone.conv1.weight)
    torch.save(dict(state_dict={'foo.bar': torch.zeros(1)}), folder / 'bad.pth')
    with pytest.raises(KeyError, match='no key starts with'):
        load_frozen_backbone(str(folder / 'cfg.py'), str(folder / 'bad.pth'))


def test_partial_checkpoint_is_refused(folder):
    model = MODELS.build(dict(type='SpatialPrediction', **{k: v for k, v in _cfg(folder).items() if k != 'type'}))
    state = {k: v for k, v in model.state_dict().items() if not k.startswith('backbone.layer4.')}
    torch.save(dict(state_dict=state), folder / 'partial.pth')
    with pytest.raises(KeyError, match=r'does not match the backbone.*layer4'):
        load_frozen_backbone(str(folder / 'cfg.py'), str(folder / 'partial.pth'))


@pytest.mark.parametrize(
    'extra, expected',
    [
        ('', True),  # no preprocessor: mmpretrain's BGR files + to_rgb
        ("data_preprocessor = dict(to_rgb=True)", True),
        ("data_preprocessor = dict(to_rgb=False)", False),  # a model trained on BGR files
        # RGB arrays (mmpretrain CIFAR, our ScatSimCLR datasets): to_rgb=False, yet the model saw RGB
        ("data_preprocessor = dict(to_rgb=False)\n"
         "train_dataloader = dict(dataset=dict(type='RepeatDataset', dataset=dict(type='CIFAR10')))", True),
        ("data_preprocessor = dict(to_rgb=False)\n"
         "train_dataloader = dict(dataset=dict(type='mmpretrain.NpzImageDataset'))", True),
    ])
def test_channel_order_follows_what_training_saw(folder, extra, expected):
    (folder / 'rgb.py').write_text(CONFIG + extra + '\n')
    fb = load_frozen_backbone(str(folder / 'rgb.py'), 'random')
    assert fb.to_rgb is expected
    img = np.zeros((1, 32, 32, 3), np.uint8)
    img[..., 0] = 255  # pure blue in BGR
    fb.backbone = torch.nn.Flatten()  # look at what reaches the backbone: (1, 3 * 32 * 32)
    seen = fb.embed(img).reshape(3, 32, 32).mean(axis=(1, 2))
    assert bool(seen[0] > seen[2]) is (not expected)  # blue first = BGR kept


def _cfg(folder):
    from mmengine.config import Config
    return Config.fromfile(str(folder / 'cfg.py')).model.to_dict()


def test_position_scale_tool(folder):
    args = [
        str(folder / 'imgs'), '--checkpoints', 'random', 'random', '--config',
        str(folder / 'cfg.py'), '--names', 'a', 'b', '--pairs-per-image', '4', '--patch-size', '24', '--image-size',
        '64', '--test-fraction', '0.4', '--seed', '3', '--out-dir',
        str(folder / 'out')
    ]
    res = position_scale_main(args)
    saved = json.loads((folder / 'out' / 'position_scale.json').read_text())
    assert [r['name'] for r in saved['runs']] == ['a', 'b']
    assert '| mean-predictor |' in (folder / 'out' / 'position_scale.md').read_text()
    for run in res['runs']:
        for comp, m in run['metrics'].items():
            assert m['mae'] >= 0 and m['r2'] <= 1, comp
    again = position_scale_main(args[:3] + args[4:8] + args[9:])  # only 'random' named 'a'
    assert json.dumps(res['runs'][0]['metrics']) == json.dumps(again['runs'][0]['metrics'])


def test_jigsaw_tool(folder):
    args = [
        str(folder / 'imgs'), '--checkpoints', 'random', '--config',
        str(folder / 'cfg.py'), '--grid', '2', '--tile-size', '16', '--test-fraction', '0.4', '--seed', '1',
        '--out-dir',
        str(folder / 'out')
    ]
    res = jigsaw_main(args)
    run = res['runs'][0]
    for key in ('patch_accuracy', 'patch_accuracy_argmax', 'permutation_accuracy'):
        assert 0 <= run[key] <= 1
    assert run['permutation_accuracy'] <= run['patch_accuracy']
    rec = run['recognition']
    assert all(0 <= rec[k] <= 1 for k in ('intact', 'shuffled', 'reconstructed', 'chance'))
    assert jigsaw_main(args)['runs'][0]['patch_accuracy'] == run['patch_accuracy']
    assert (folder / 'out' / 'jigsaw.md').exists()

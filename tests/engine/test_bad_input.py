"""Bad input: unreadable / odd images, images smaller than the crop, checkpoints of another backbone."""
import glob
import json

import cv2
import numpy as np
import pytest
import torch
from mmcv.transforms import LoadImageFromFile
from mmengine.config import Config
from mmengine.dataset import Compose
from mmengine.runner import Runner
from PIL import Image
from reliability_utils import ToyModel, toy_runner_cfg

from mmspatial.datasets.transforms.safe_loading import CorruptImageError, LoadImageOrSkip
from mmspatial.engine.checkpoint_load_check import CheckpointMismatchError
from mmspatial.engine.hooks.skipped_samples_hook import find_skipping_loaders
from mmspatial.engine.runner import SpatialRunner


@pytest.fixture(scope='module')
def images(tmp_path_factory):
    d = tmp_path_factory.mktemp('images')
    Image.fromarray(np.full((10, 12), 100, np.uint8), 'L').save(d / 'gray.png')
    rgba = np.zeros((10, 12, 4), np.uint8)
    rgba[..., 0], rgba[..., 3] = 200, 128  # red, half transparent
    Image.fromarray(rgba, 'RGBA').save(d / 'rgba.png')
    cv2.imwrite(str(d / 'gray16.png'), np.full((10, 12), 40000, np.uint16))
    (d / 'corrupt.jpg').write_bytes(b'\xff\xd8\xff\xe0 not really a jpeg' * 8)
    full = (d / 'gray.png').read_bytes()
    (d / 'truncated.png').write_bytes(full[:len(full) // 2])
    (d / 'empty.png').write_bytes(b'')
    return d


@pytest.mark.parametrize('backend', ['cv2', 'pillow'])
@pytest.mark.parametrize('name, bgr', [('gray.png', (100, 100, 100)), ('rgba.png', (0, 0, 200))])
@pytest.mark.parametrize('loader', [LoadImageFromFile, LoadImageOrSkip])
def test_gray_and_rgba_become_3_channel_bgr(images, backend, name, bgr, loader):
    """mmcv's color_type='color' (the default) already converts; the alpha channel is dropped."""
    img = loader(imdecode_backend=backend)(dict(img_path=str(images / name)))['img']
    assert img.shape == (10, 12, 3) and img.dtype == np.uint8
    assert tuple(img[0, 0]) == bgr


def test_16bit_png_is_scaled_with_cv2_but_clipped_with_pillow(images):
    """Documented pitfall: pillow saturates 16-bit images (40000 -> 255); cv2 scales (-> 156)."""
    path = dict(img_path=str(images / 'gray16.png'))
    assert tuple(LoadImageOrSkip(imdecode_backend='cv2')(dict(path))['img'][0, 0]) == (156, 156, 156)
    assert tuple(LoadImageOrSkip(imdecode_backend='pillow')(dict(path))['img'][0, 0]) == (255, 255, 255)


@pytest.mark.parametrize('backend', ['cv2', 'pillow'])
@pytest.mark.parametrize('name, error, reason', [
    ('corrupt.jpg', CorruptImageError, 'cannot decode image'),
    ('truncated.png', CorruptImageError, 'cannot decode image'),
    ('empty.png', CorruptImageError, 'empty'),
    ('missing.png', FileNotFoundError, 'image file not found'),
])
def test_unreadable_image_error_names_the_file(images, backend, name, error, reason):
    path = str(images / name)
    with pytest.raises(error, match=reason) as err:
        LoadImageOrSkip(imdecode_backend=backend)(dict(img_path=path))
    assert path in str(err.value)


def test_skip_mode_counts_and_returns_none(images):
    t = LoadImageOrSkip(on_error='skip', max_skips=2)
    assert t(dict(img_path=str(images / 'corrupt.jpg'))) is None
    assert t(dict(img_path=str(images / 'missing.png'))) is None
    assert t(dict(img_path=str(images / 'gray.png')))['img'].shape == (10, 12, 3)
    assert t.num_skipped == 2
    with pytest.raises(RuntimeError, match='more than max_skips=2.*empty.png'):
        t(dict(img_path=str(images / 'empty.png')))


def test_bad_arguments_rejected():
    with pytest.raises(ValueError, match='on_error'):
        LoadImageOrSkip(on_error='ignore')
    with pytest.raises(ValueError, match="on_error='skip'"):
        LoadImageOrSkip(ignore_empty=True)


def _image_folder(root, n=8, corrupt=()):
    root.mkdir()
    for i in range(n):
        path = root / f'{i:02d}.png'
        if i in corrupt:
            path.write_bytes(b'not a png')
        else:
            cv2.imwrite(str(path), np.full((8, 8, 3), i * 10, np.uint8))
    return root


def _image_runner_cfg(work_dir, data_root, on_error, num_workers=0, **kwargs):
    cfg = toy_runner_cfg(work_dir, **kwargs)
    cfg['train_dataloader'].update(
        num_workers=num_workers,
        dataset=dict(
            type='CustomDataset',
            data_root=str(data_root),
            with_label=False,
            serialize_data=False,  # its gc.collect() costs seconds in a big test process
            pipeline=[dict(type='LoadImageOrSkip', on_error=on_error),
                      dict(type='PackInputs')]))
    cfg['custom_hooks'] = [dict(type='SkippedSamplesHook')]
    return cfg


@pytest.mark.slow
def test_skipped_samples_are_counted_across_workers_and_logged(tmp_path):
    data = _image_folder(tmp_path / 'data', corrupt=(1, 6))
    runner = Runner(**_image_runner_cfg(tmp_path / 'work', data, 'skip', num_workers=2, max_iters=4, ckpt_interval=4))
    runner.train()  # 8 images, batch 2: one pass over the data, both bad files are met
    (loader, ) = find_skipping_loaders(runner.train_dataloader.dataset)
    assert loader.num_skipped >= 2  # a random re-fetch may hit a bad file again
    scalars = [
        json.loads(line) for line in next((tmp_path / 'work').glob('*/vis_data/scalars.json')).read_text().splitlines()
    ]
    assert scalars[-1]['skipped_samples'] == loader.num_skipped
    log = next((tmp_path / 'work').glob('*/*.log')).read_text()
    assert '01.png' in log and '06.png' in log and 'skipped sample' in log
    assert (tmp_path / 'work' / 'iter_4.pth').is_file()


@pytest.mark.slow
def test_corrupt_image_stops_run_naming_file_and_keeps_checkpoint(tmp_path):
    data = _image_folder(tmp_path / 'data', corrupt=(5, ))  # no shuffle: met in iteration 3
    runner = Runner(**_image_runner_cfg(tmp_path / 'work', data, 'raise', max_iters=4, ckpt_interval=2))
    with pytest.raises(CorruptImageError, match='05.png'):
        runner.train()
    last = (tmp_path / 'work' / 'last_checkpoint').read_text().strip()
    assert last.endswith('iter_2.pth')
    assert torch.load(last, weights_only=False)['meta']['iter'] == 2


def _pipeline_configs(root):
    paths = sorted(glob.glob(str(root / 'configs' / '*' / '*demo*.py')))
    paths += sorted(glob.glob(str(root / 'configs' / 'scatsimclr' / 'scatsimclr*_scatnet8_*_cifar10.py')))
    return [p for p in paths if 'knn_monitor' not in p]


def test_image_smaller_than_crop_is_upscaled_by_every_demo_pipeline(project_root):
    configs = _pipeline_configs(project_root)
    assert configs
    for path in configs:
        cfg = Config.fromfile(path)
        pipeline = Compose(cfg.train_dataloader.dataset.pipeline)
        sizes = None
        for hw in [(96, 128), (6, 5), (1, 1)]:
            img = np.random.default_rng(0).integers(0, 255, (*hw, 3), dtype=np.uint8)
            out = pipeline(dict(img=img, img_path='tiny.png', ori_shape=hw, img_shape=hw, sample_idx=0, gt_label=0))
            views = out['inputs'] if isinstance(out['inputs'], list) else [out['inputs']]
            shapes = [tuple(v.shape) for v in views]
            assert sizes is None or shapes == sizes, (path, hw, shapes, sizes)  # same as a big image
            sizes = shapes


@pytest.mark.slow
def test_load_from_checkpoint_of_another_backbone_is_an_error(tmp_path):
    byol = dict(
        type='BYOL',
        backbone=dict(type='ResNet', depth=18),
        neck=dict(type='NonLinearNeck', in_channels=512, hid_channels=16, out_channels=8),
        head=dict(
            type='LatentPredictHead',
            loss=dict(type='CosineSimilarityLoss'),
            predictor=dict(type='NonLinearNeck', in_channels=8, hid_channels=16, out_channels=8, with_avg_pool=False)))
    runner = Runner(model=byol, work_dir=str(tmp_path / 'r18'), default_scope='mmpretrain', log_level='WARNING')
    ckpt = tmp_path / 'byol_r18.pth'
    torch.save(dict(state_dict=runner.model.state_dict(), meta=dict()), ckpt)
    before = ckpt.read_bytes()

    r34 = dict(byol, backbone=dict(type='ResNet', depth=34))
    runner = SpatialRunner(
        model=r34, work_dir=str(tmp_path / 'r34'), load_from=str(ckpt), default_scope='mmpretrain', log_level='WARNING')
    with pytest.raises(CheckpointMismatchError, match='byol_r18.pth does not match the model BYOL') as err:
        runner.load_or_resume()
    msg = str(err.value)
    assert 'missing in the checkpoint: backbone.layer1.2.conv1.weight' in msg
    assert 'load_from_strict=False' in msg
    assert ckpt.read_bytes() == before  # the checkpoint is untouched

    # A checkpoint of the same model loads; the escape hatch restores mmengine's partial load.
    SpatialRunner(
        model=byol, work_dir=str(tmp_path / 'ok'), load_from=str(ckpt), default_scope='mmpretrain',
        log_level='WARNING').load_or_resume()
    runner = SpatialRunner(
        model=r34,
        work_dir=str(tmp_path / 'loose'),
        load_from=str(ckpt),
        default_scope='mmpretrain',
        log_level='WARNING',
        cfg=dict(load_from_strict=False))
    runner.load_or_resume()
    assert torch.equal(runner.model.backbone.conv1.weight,
                       torch.load(ckpt, weights_only=True)['state_dict']['backbone.conv1.weight'])
    # mmengine's own Runner is not modified: it still half-loads silently.
    Runner(
        model=r34,
        work_dir=str(tmp_path / 'plain'),
        load_from=str(ckpt),
        default_scope='mmpretrain',
        log_level='WARNING').load_or_resume()


def test_shape_mismatch_is_named(tmp_path):
    runner = SpatialRunner(
        model=ToyModel(in_features=4), work_dir=str(tmp_path), default_scope='mmpretrain', log_level='WARNING')
    ckpt = tmp_path / 'other.pth'
    torch.save(dict(state_dict=ToyModel(in_features=3).state_dict()), ckpt)
    with pytest.raises(CheckpointMismatchError, match=r'linear.weight \(1, 3\) vs \(1, 4\)'):
        runner.load_checkpoint(str(ckpt))

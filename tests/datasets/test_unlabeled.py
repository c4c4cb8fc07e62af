import json

import cv2
import numpy as np
import pytest
from mmpretrain.registry import DATASETS


def write_images(folder, names):
    folder.mkdir(parents=True, exist_ok=True)
    for i, n in enumerate(names):
        cv2.imwrite(str(folder / n), np.full((8, 8, 3), i * 20, np.uint8))


def test_folder_txt_and_coco(tmp_path):
    write_images(tmp_path / 'imgs' / 'sub', ['b.png', 'a.jpg'])
    write_images(tmp_path / 'imgs', ['c.png'])
    (tmp_path / 'imgs' / 'notes.txt').write_text('not an image')
    ds = DATASETS.build(dict(type='UnlabeledImages', data_root=str(tmp_path), data_prefix='imgs'))
    assert [ds.get_data_info(i)['img_path'].split('imgs/')[1]
            for i in range(len(ds))] == ['c.png', 'sub/a.jpg', 'sub/b.png']

    (tmp_path / 'list.txt').write_text('sub/b.png\nc.png\n')
    ds = DATASETS.build(dict(type='UnlabeledImages', data_root=str(tmp_path), data_prefix='imgs', ann_file='list.txt'))
    assert len(ds) == 2

    coco = dict(
        images=[dict(id=1, file_name='c.png'), dict(id=2, file_name='sub/a.jpg')], annotations=[], categories=[])
    (tmp_path / 'ann.json').write_text(json.dumps(coco))
    ds = DATASETS.build(
        dict(
            type='UnlabeledImages',
            data_root=str(tmp_path),
            data_prefix='imgs',
            ann_file='ann.json',
            pipeline=[dict(type='LoadImageFromFile'), dict(type='PackInputs')]))
    assert len(ds) == 2 and tuple(ds[0]['inputs'].shape) == (3, 8, 8)


def test_missing_data_says_where_and_how_to_run_demo(tmp_path):
    with pytest.raises(FileNotFoundError) as e:
        DATASETS.build(
            dict(
                type='UnlabeledImages',
                data_root=str(tmp_path / 'coco'),
                data_prefix='train2017',
                ann_file='annotations/instances_train2017.json'))
    assert 'train2017' in str(e.value) and 'make demo' in str(e.value)


def test_corrupt_image_error_names_file(tmp_path):
    write_images(tmp_path, ['good.png'])
    (tmp_path / 'bad.jpg').write_bytes(b'\xff\xd8 this is not a jpeg')
    ds = DATASETS.build(
        dict(
            type='UnlabeledImages',
            data_root=str(tmp_path),
            pipeline=[dict(type='LoadImageFromFile'), dict(type='PackInputs')]))
    bad = [i for i in range(len(ds)) if ds.get_data_info(i)['img_path'].endswith('bad.jpg')][0]
    with pytest.raises(Exception, match='bad.jpg'):
        ds[bad]

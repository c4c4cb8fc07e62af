"""tools/dataset_converters/flowers102_layout.py: a class-folder set becomes a layout mmpretrain's Flowers102
reads, with the requested images per class in trainval and test and the right labels."""
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / 'tools' / 'dataset_converters'))
from flowers102_layout import write_flowers102_layout  # noqa: E402

sys.path.pop(0)


def test_layout_is_read_by_mmpretrain(tmp_path):
    from mmpretrain.datasets import Flowers102
    src = tmp_path / 'src'
    for c, cls in enumerate(['b_rose', 'a_daisy']):
        (src / cls).mkdir(parents=True)
        for i in range(4):
            cv2.imwrite(str(src / cls / f'{i}.jpg'), np.full((8, 8, 3), 50 * c + i, np.uint8))
    classes, num = write_flowers102_layout(str(src), str(tmp_path / 'f102'), train_per_class=2, test_per_class=1)
    assert classes == ['a_daisy', 'b_rose'] and num == 6
    train = Flowers102(data_root=str(tmp_path / 'f102'), split='trainval')
    test = Flowers102(data_root=str(tmp_path / 'f102'), split='test')
    assert sorted(train.get_gt_labels().tolist()) == [0, 0, 1, 1] and sorted(test.get_gt_labels().tolist()) == [0, 1]
    for ds in (train, test):  # each image keeps its class: label 0 = a_daisy (grey 50..53), 1 = b_rose (0..3)
        for i in range(len(ds)):
            info = ds.get_data_info(i)
            value = cv2.imread(info['img_path'])[0, 0, 0]
            assert (value >= 50) == (info['gt_label'] == 0)
    with pytest.raises(ValueError, match='fewer than'):
        write_flowers102_layout(str(src), str(tmp_path / 'f102b'), train_per_class=4, test_per_class=1)

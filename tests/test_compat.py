"""The compatibility fixes in mmspatial/compat.py."""
import mmcv
import numpy as np
import pytest
import torch
from mmengine.logging import HistoryBuffer
from mmengine.runner.checkpoint import _load_checkpoint


def test_mmengine_checkpoint_with_pickled_objects_loads(tmp_path):
    # What mmengine's resume files hold: plain tensors plus pickled objects (message hub history).
    path = tmp_path / 'ckpt.pth'
    torch.save(dict(state_dict=dict(w=torch.ones(2)), message_hub=dict(h=HistoryBuffer()),
                    meta=dict(arr=np.arange(3))), path)
    with pytest.raises(Exception, match='Weights only load failed'):
        torch.load(path)  # torch >= 2.6 default: the failure users hit
    ckpt = _load_checkpoint(str(path), map_location='cpu')
    assert torch.equal(ckpt['state_dict']['w'], torch.ones(2))
    assert isinstance(ckpt['message_hub']['h'], HistoryBuffer)


def test_adjust_hue_negative_factor_wraps_like_numpy1():
    import cv2
    img = np.random.default_rng(0).integers(0, 256, (8, 8, 3), dtype=np.uint8)
    out = mmcv.adjust_hue(img, -0.2, backend='cv2')  # mmcv 2.1.0 + numpy 2: OverflowError
    # numpy 1 semantics: int(-0.2 * 255) = -51 -> shift 205 on the 0..255 hue circle.
    hsv = cv2.cvtColor(img, cv2.COLOR_BGR2HSV_FULL)
    hsv[..., 0] = (hsv[..., 0].astype(int) + 205) % 256
    assert np.array_equal(out, cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR_FULL))
    assert mmcv.adjust_hue(img, -0.2, backend='pillow').shape == img.shape

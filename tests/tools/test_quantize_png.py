"""tools/visualization/quantize_png.py: smaller palette PNGs that keep the picture."""
import cv2
import numpy as np
import pytest
from tool_loading import load_tool


def test_quantize_keeps_size_and_boxes_and_shrinks(tmp_path):
    tool = load_tool('tools/visualization/quantize_png.py')
    rng = np.random.RandomState(0)
    # a smooth "photo" with noise, and a pure red box outline on it
    yy, xx = np.mgrid[0:120, 0:160]
    img = np.stack([xx * 1.5, yy * 2, (xx + yy)], -1) + rng.normal(0, 6, (120, 160, 3))
    img = np.clip(img, 0, 255).astype(np.uint8)
    cv2.rectangle(img, (20, 20), (80, 70), (0, 0, 255), 2)
    path = tmp_path / 'fig.png'
    cv2.imwrite(str(path), img)
    before = path.stat().st_size
    tool.main([str(path)])
    out = cv2.imread(str(path))
    assert out.shape == img.shape and path.stat().st_size < before
    assert np.abs(out.astype(int) - img).mean() < 6  # still the same picture
    assert (out[20, 30] == (0, 0, 255)).all()  # the box colour survives exactly
    with pytest.raises(ValueError, match='colours'):
        tool.quantize_png(str(path), colours=1000)

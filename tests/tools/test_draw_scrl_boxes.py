"""tools/visualization/draw_scrl_boxes.py writes a PNG of the box pairs on both views."""
from pathlib import Path

import cv2

from tool_loading import load_tool

ROOT = Path(__file__).resolve().parents[2]


def test_draw_scrl_boxes_on_a_synthetic_scene(tmp_path, capsys):
    tool = load_tool('tools/visualization/draw_scrl_boxes.py')
    out = tmp_path / 'boxes.png'
    tool.main(['--synthetic', '2', '--size', '96', '--scale', '1', '--out', str(out)])
    img = cv2.imread(str(out))
    # the 128 x 160 scene scaled to the view height (96 x 120) | gap | view 1 | gap | view 2
    assert img is not None and img.shape[0] == 96
    assert img.shape[1] == 120 + 8 + 96 + 8 + 96
    assert 'box pairs' in capsys.readouterr().out


def test_draw_scrl_boxes_with_a_config(tmp_path):
    tool = load_tool('tools/visualization/draw_scrl_boxes.py')
    image = tmp_path / 'img.png'
    cv2.imwrite(str(image), (cv2.randu(cv2.UMat(120, 160, cv2.CV_8UC3), 0, 255)).get())
    out = tmp_path / 'boxes.png'
    # photometric transforms come from the config; seed 1 avoids a negative hue (mmcv 2.1 + numpy 2)
    tool.main([str(image), '--config', str(ROOT / 'configs' / 'scrl' / 'scrl_r18_demo.py'),
               '--seed', '1', '--out', str(out)])
    assert cv2.imread(str(out)).shape[0] == 2 * 96

"""tools/visualization/draw_scrl_boxes.py draws the generator's box pairs on both views."""
from pathlib import Path

import cv2
import numpy as np
import torch
from tool_loading import load_tool

from mmspatial.geometry import ViewGeometry

ROOT = Path(__file__).resolve().parents[2]
GRAY = (90, 90, 90)  # a colour none of the drawing uses


def perimeter(box, scale):
    """Pixels of the 1-px outline the tool's rectangle covers: (x1, y1)..(x2 - 1, y2 - 1) after scaling."""
    x1, y1, x2, y2 = (np.asarray(box) * scale).round().astype(int)
    x2, y2 = x2 - 1, y2 - 1
    xs, ys = np.arange(x1, x2 + 1), np.arange(y1, y2 + 1)
    return ({(x, y1) for x in xs} | {(x, y2) for x in xs} | {(x1, y) for y in ys} | {(x2, y) for y in ys})


def check_panel(panel, boxes, palette):
    """Every outline pixel of box i shows colour i or that of a box drawn after it; nothing else is drawn."""
    h, w = panel.shape[:2]
    allowed = np.zeros((h, w), bool)
    for i, box in enumerate(boxes):
        later = {tuple(c) for c in palette[i:]}
        outline = [(x, y) for x, y in perimeter(box, 1.) if 0 <= x < w and 0 <= y < h]
        assert len(outline) > 8
        own = sum(tuple(panel[y, x]) == tuple(palette[i]) for x, y in outline)
        assert own > 0, i  # later boxes may paint over part of it
        assert all(tuple(panel[y, x]) in later for x, y in outline), i
        for x, y in outline:  # thickness 2: one pixel either side of the outline
            allowed[max(y - 1, 0):y + 2, max(x - 1, 0):x + 2] = True
    drawn = (panel != np.array(GRAY, np.uint8)).any(axis=2)
    assert drawn.any() and not (drawn & ~allowed).any()


def test_drawn_boxes_are_the_generators_pairs(tmp_path, capsys):
    tool = load_tool('tools/visualization/draw_scrl_boxes.py')
    image = tmp_path / 'gray.png'
    cv2.imwrite(str(image), np.full((120, 160, 3), GRAY, np.uint8))
    out = tmp_path / 'boxes.png'
    argv = [str(image), '--size', '96', '--scale', '1', '--seed', '3', '--out', str(out)]
    tool.main(argv)
    assert 'box pairs' in capsys.readouterr().out
    _, result, boxes = tool.sample_pairs(tool.parse_args(argv))  # same seed: the pairs the tool drew
    valid = boxes.valid[0]
    assert valid.sum() >= 5
    b1, b2 = boxes.boxes1[0][valid].numpy(), boxes.boxes2[0][valid].numpy()
    # the pairs cover the same region of the image (through each view's crop and flip)
    geo = [
        ViewGeometry(*(torch.as_tensor(result[k][v]) for k in ('view_bboxes', 'view_flips', 'view_shapes')),
                     torch.as_tensor(result['ori_img_shape'])) for v in range(2)
    ]
    in_image = [g.view_to_image(torch.as_tensor(b)).numpy() for g, b in zip(geo, (b1, b2))]
    assert np.allclose(in_image[0], in_image[1], atol=0.5)

    canvas = cv2.imread(str(out))
    # original scaled to the view height (96 x 128) | 8 | view 1 (96) | 8 | view 2 (96)
    assert canvas.shape == (96, 128 + 8 + 96 + 8 + 96, 3)
    palette = [c for c, v in zip(tool.colours(len(valid)), valid.tolist()) if v]
    check_panel(canvas[:, 136:232], b1, palette)
    check_panel(canvas[:, 240:336], b2, palette)
    left = canvas[:, :128]
    for box, colour in zip(in_image[0], palette):  # each box's colour appears on its outline in the image
        outline = [(x, y) for x, y in perimeter(box, 0.8) if 0 <= x < 128 and 0 <= y < 96]
        assert any(tuple(left[y, x]) == tuple(colour) for x, y in outline)


def test_draw_scrl_boxes_with_a_config(tmp_path):
    tool = load_tool('tools/visualization/draw_scrl_boxes.py')
    image = tmp_path / 'img.png'
    cv2.imwrite(str(image), (cv2.randu(cv2.UMat(120, 160, cv2.CV_8UC3), 0, 255)).get())
    out = tmp_path / 'boxes.png'
    # the demo config's photometric transforms (mmpretrain ColorJitter, hue 0.1; seed 0 draws a negative
    # hue shift, which mmcv 2.1 cannot do under numpy 2 without the tool's scoped fix)
    tool.main([
        str(image), '--config',
        str(ROOT / 'configs' / 'scrl' / 'scrl_resnet18_1xb32-coslr-3e_demo.py'), '--seed', '0', '--out',
        str(out)
    ])
    assert cv2.imread(str(out)).shape[0] == 2 * 64  # two 64-px views of the demo config
    import mmcv

    from mmspatial import compat
    assert mmcv.adjust_hue is not compat.adjust_hue  # the fix does not outlive the call

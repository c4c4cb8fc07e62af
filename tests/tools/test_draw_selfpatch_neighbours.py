"""tools/visualization/draw_selfpatch_neighbours.py: drawing and the command line."""
from pathlib import Path

import cv2
import numpy as np
import torch
from tool_loading import load_tool

from mmspatial.models.utils.patch_neighbours import patch_neighbour_index

ROOT = Path(__file__).resolve().parents[2]


def test_draw_marks_patch_candidates_and_matches():
    tool = load_tool('tools/visualization/draw_selfpatch_neighbours.py')
    img = np.zeros((40, 40, 3), np.uint8)  # 4 x 4 grid of 10-px patches
    cand, cand_ok = patch_neighbour_index(4, 4, wrap=False)
    matched = torch.tensor([[6, 1]] * 16)
    canvas = tool.draw_neighbours(
        img, (4, 4), [5], cand, cand_ok, matched, torch.ones(16, 2, dtype=torch.bool), scale=3)
    assert canvas.shape == (120, 126, 3)

    def colour_in(p, colour):
        x1, y1, x2, y2 = tool.patch_box(p, 4, 30)
        return (canvas[y1:y2, x1:x2] == colour).all(-1).any()

    assert colour_in(5, tool.RED)
    assert colour_in(6, tool.GREEN) and colour_in(1, tool.GREEN)
    assert colour_in(0, tool.YELLOW) and not colour_in(0, tool.GREEN)
    assert not colour_in(15, tool.YELLOW)  # outside the 3x3 window of patch 5


def test_command_line_on_the_demo_config(tmp_path, capsys):
    tool = load_tool('tools/visualization/draw_selfpatch_neighbours.py')
    out = tmp_path / 'nb.png'
    config = ROOT / 'configs' / 'selfpatch' / 'selfpatch_vit-tiny-p8_1xb32-coslr-10e_demo.py'
    tool.main([str(config), '--synthetic', '0', '--size', '32', '--patches', '0', '5', '--out', str(out)])
    img = cv2.imread(str(out))
    assert img is not None and img.shape == (96, 2 * (96 + 6), 3)  # 4x4 grid, 2 panels
    assert '4x4 grid' in capsys.readouterr().out

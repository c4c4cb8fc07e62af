"""tools/visualization/draw_selfpatch_neighbours.py: drawing and the command line."""
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from pickle_attack import WritesMarker
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


def test_checkpoint_is_loaded_weights_only_and_strictly(tmp_path):
    from mmengine.config import Config
    from mmengine.logging import HistoryBuffer

    from mmspatial.engine.safe_load import UntrustedCheckpointError
    tool = load_tool('tools/visualization/draw_selfpatch_neighbours.py')
    config = ROOT / 'configs' / 'selfpatch' / 'selfpatch_vit-tiny-p8_1xb32-coslr-10e_demo.py'
    cfg = Config.fromfile(str(config))
    state = tool.load_model(cfg, None).state_dict()
    hub = HistoryBuffer()
    hub.update(1.0)
    good = tmp_path / 'good.pth'  # what an mmengine training checkpoint pickles besides tensors
    state = {k: v + 1 if v.is_floating_point() else v for k, v in state.items()}
    torch.save(dict(state_dict=state, message_hub=dict(h=hub), meta=dict(seed=np.int64(0))), good)
    key = next(k for k, v in state.items() if v.is_floating_point())
    assert torch.equal(tool.load_model(cfg, str(good)).state_dict()[key], state[key])
    partial = tmp_path / 'partial.pth'  # mmengine's load_checkpoint would only warn
    torch.save(dict(state_dict={k: v for k, v in state.items() if k != key}), partial)
    with pytest.raises(RuntimeError, match='[Mm]issing'):
        tool.load_model(cfg, str(partial))
    marker = tmp_path / 'pwned'
    evil = tmp_path / 'evil.pth'
    torch.save(dict(state_dict=state, meta=dict(x=WritesMarker(marker))), evil)
    args = [
        str(config), '--synthetic', '0', '--size', '32', '--checkpoint',
        str(evil), '--out',
        str(tmp_path / 'x.png')
    ]
    with pytest.raises(UntrustedCheckpointError, match='posix.system'):
        tool.main(args)
    assert not marker.exists() and not (tmp_path / 'x.png').exists()
    tool.main(args + ['--trust-checkpoint'])  # explicit trust: unpickled in full (so the refusal was real)
    assert marker.exists() and (tmp_path / 'x.png').exists()

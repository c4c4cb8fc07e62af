"""tools/visualization/draw_sp_boxes.py: box inversion, prediction, drawing and the command line."""
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from pickle_attack import WritesMarker
from tool_loading import load_tool

from mmspatial.models.losses.sp_loss import spatial_prediction_targets

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / 'configs' / 'sp' / 'byol_sp_resnet18_1xb32-coslr-8e_demo.py'


def test_draw_pairs_marks_the_three_boxes():
    tool = load_tool('tools/visualization/draw_sp_boxes.py')
    img = np.full((100, 200, 3), 128, np.uint8)
    views = [np.zeros((32, 32, 3), np.uint8)] * 2
    b1, b2, bp = (torch.tensor([[10., 10., 60., 60.]]), torch.tensor([[120., 30., 180.,
                                                                       90.]]), torch.tensor([[70., 40., 110., 80.]]))
    result = dict(boxes1=b1, boxes2=b2, pred_boxes2=bp, target=torch.zeros(1, 4), pred=torch.ones(1, 4))
    canvas = tool.draw_pairs(img, views, result, height=100)
    # row: 40 px title + 100 px image; image 200 px wide, gap, views (100 - 8) // 2 = 46 px
    assert canvas.shape == (tool.HEADER + 100, 200 + tool.GAP + 46, 3)

    def has(colour, box):  # the colour on the box's top edge, in image pixels (scale 1)
        x1, y1, x2, _ = [int(v) for v in box[0]]
        edge = canvas[tool.HEADER + y1 - 1:tool.HEADER + y1 + 2, x1 + 15:x2 - 15]
        return (np.abs(edge.astype(int) - colour).sum(-1) < 60).any()

    assert has(tool.BLUE, b1) and has(tool.GREEN, b2) and has(tool.RED, bp)
    assert not has(tool.RED, b2)


def test_predict_pairs_uses_the_head(monkeypatch):
    """With a head that outputs the true target, the implied box is the true view-2 box."""
    tool = load_tool('tools/visualization/draw_sp_boxes.py')
    from mmengine.config import Config
    cfg = Config.fromfile(str(CONFIG))
    model = tool.load_model(cfg, None)
    views = [np.random.RandomState(i).randint(0, 255, (64, 64, 3), dtype=np.uint8) for i in range(4)]
    boxes = np.array([[0, 0, 40, 40], [30, 10, 90, 50], [5, 5, 25, 45], [50, 50, 100, 90]], np.float32)
    size = np.array([100., 120.], np.float32)
    target = spatial_prediction_targets(
        torch.from_numpy(boxes[0::2]), torch.from_numpy(boxes[1::2]),
        torch.from_numpy(size).expand(2, 2))
    monkeypatch.setattr(model.sp_head, 'forward', lambda e1, e2: target.clone())
    out = tool.predict_pairs(model, views, boxes, size)
    torch.testing.assert_close(out['pred_boxes2'], torch.from_numpy(boxes[1::2]))
    torch.testing.assert_close(out['target'], target)


def test_command_line_random_and_checkpoint(tmp_path, capsys):
    tool = load_tool('tools/visualization/draw_sp_boxes.py')
    out = tmp_path / 'sp.png'
    tool.main([str(CONFIG), '--synthetic', '0', '--pairs', '2', '--height', '128', '--out', str(out)])
    img = cv2.imread(str(out))
    # 2 rows of (40 + 128) px with an 8 px gap; the 128 x 160 scene shown 128 px tall, then the
    # gap and the 64 x 64 views at (128 - 8) // 2 = 60 px
    assert img is not None and img.shape == (2 * (40 + 128) + 8, 160 + 8 + 60, 3)
    assert img.std() > 10  # not blank
    printed = capsys.readouterr().out
    assert 'random weights' in printed and 'pair 2' in printed

    # a saved SP checkpoint is loaded: its (perturbed) head changes the prediction
    from mmengine.config import Config
    model = tool.load_model(Config.fromfile(str(CONFIG)), None)
    with torch.no_grad():
        model.sp_head.mlp[-1].bias.add_(torch.tensor([0.5, -0.5, 0.3, 0.3]))
    ckpt = tmp_path / 'sp.pth'
    torch.save(dict(state_dict=model.state_dict()), ckpt)
    tool.main([
        str(CONFIG), '--synthetic', '0', '--pairs', '2', '--checkpoint',
        str(ckpt), '--out',
        str(tmp_path / 'sp2.png')
    ])
    lines = capsys.readouterr().out.splitlines()
    preds = [line.split('pred')[1] for line in printed.splitlines() + lines if line.startswith('pair 1')]
    assert len(preds) == 2 and preds[0] != preds[1]

    # a plain host checkpoint (no sp_head.*) is refused rather than drawn with a random head
    host = tmp_path / 'host.pth'
    torch.save(dict(state_dict={k: v for k, v in model.state_dict().items() if not k.startswith('sp_head.')}), host)
    with pytest.raises(KeyError, match='sp_head'):
        tool.main([str(CONFIG), '--synthetic', '0', '--checkpoint', str(host), '--out', str(tmp_path / 'x.png')])


def test_checkpoint_is_loaded_weights_only(tmp_path):
    from mmengine.config import Config
    from mmengine.logging import HistoryBuffer

    from mmspatial.engine.safe_load import UntrustedCheckpointError
    tool = load_tool('tools/visualization/draw_sp_boxes.py')
    cfg = Config.fromfile(str(CONFIG))
    state = tool.load_model(cfg, None).state_dict()
    hub = HistoryBuffer()
    hub.update(1.0)
    good = tmp_path / 'good.pth'  # what an mmengine training checkpoint pickles besides tensors
    torch.save(dict(state_dict=state, message_hub=dict(h=hub), meta=dict(seed=np.int64(0))), good)
    assert torch.equal(
        tool.load_model(cfg, str(good)).state_dict()['sp_head.mlp.0.weight'], state['sp_head.mlp.0.weight'])
    marker = tmp_path / 'pwned'
    evil = tmp_path / 'evil.pth'
    torch.save(dict(state_dict=state, meta=dict(x=WritesMarker(marker))), evil)
    args = [
        str(CONFIG), '--synthetic', '0', '--pairs', '1', '--checkpoint',
        str(evil), '--out',
        str(tmp_path / 'x.png')
    ]
    with pytest.raises(UntrustedCheckpointError, match='posix.system'):
        tool.main(args)
    assert not marker.exists() and not (tmp_path / 'x.png').exists()
    tool.main(args + ['--trust-checkpoint'])  # explicit trust: unpickled in full (so the refusal was real)
    assert marker.exists() and (tmp_path / 'x.png').exists()

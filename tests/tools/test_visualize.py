"""tools/visualize.py: the ``views`` figure and the sub-command dispatch."""
from pathlib import Path

import cv2
import numpy as np
import pytest
from tool_loading import load_tool

ROOT = Path(__file__).resolve().parents[2]


def test_views_layout_keeps_relative_sizes():
    tool = load_tool('tools/visualize.py')
    # original 100 x 200 shown 50 px tall; views 64 and 32 px: one scale, the larger 50 px tall
    h, w, orig_scale, view_scale = tool.views_layout((100, 200), [(64, 64), (32, 32)], 50)
    assert (h, orig_scale, view_scale) == (tool.HEADER + 50, 0.5, 50 / 64)
    assert w == 100 + tool.GAP + 50 + tool.GAP + 25


def test_views_of_the_byol_demo_on_a_synthetic_scene(tmp_path, capsys):
    tool = load_tool('tools/visualize.py')
    out = tmp_path / 'views.png'
    tool.main([
        'views', '--synthetic', '0', '--config',
        str(ROOT / 'configs' / 'byol' / 'byol_resnet18_1xb32-coslr-8e_demo.py'), '--height', '128', '--seed', '1',
        '--out',
        str(out)
    ])
    img = cv2.imread(str(out))
    # title strip + 128 px; the 128 x 160 scene at scale 1, then two 64-px views shown 128 px wide
    assert img is not None and img.shape == (tool.HEADER + 128, 160 + 2 * (tool.GAP + 128), 3)
    panel = img[tool.HEADER:, 160 + tool.GAP:]
    assert panel.std() > 10  # the views were drawn, not left white
    assert '2 views v1: box' in capsys.readouterr().out


def test_views_of_sp_pairs_are_collected():
    """SP configs record their pairs as ``sp_boxes``: they become views sp1, sp2 next to v1, v2."""
    tool = load_tool('tools/visualize.py')
    from mmengine.config import Config

    import mmspatial  # noqa: F401
    img = np.random.RandomState(0).randint(0, 255, (120, 160, 3), dtype=np.uint8)
    cfg = Config.fromfile(str(ROOT / 'configs' / 'sp' / 'byol_sp_resnet18_1xb32-coslr-8e_demo.py'))
    results = tool.run_view_pipeline(img, tool.find_pipeline(cfg), seed=1)
    names = [v['name'] for v in tool.collect_groups(results)]
    assert names == ['v1', 'v2', 'sp1', 'sp2']


def test_dispatch_to_the_visualisation_scripts(tmp_path):
    tool = load_tool('tools/visualize.py')
    assert set(tool.DELEGATES) == {'scrl-boxes', 'selfpatch-neighbours', 'sp-boxes'}
    for script in tool.DELEGATES.values():
        assert (ROOT / 'tools' / 'visualization' / script).is_file(), script
    out = tmp_path / 'sp.png'
    assert tool.main([
        'sp-boxes',
        str(ROOT / 'configs' / 'sp' / 'byol_sp_resnet18_1xb32-coslr-8e_demo.py'), '--synthetic', '1', '--pairs', '1',
        '--out',
        str(out)
    ]) == str(out)
    assert cv2.imread(str(out)).shape[0] == 40 + 256  # one row: title strip + 256 px image
    with pytest.raises(SystemExit, match='unknown sub-command'):
        tool.main(['no-such-thing'])


def test_docs_pictures_exist_and_are_small():
    """docs/visualization.md shows the visualisers' PNGs; each must exist and stay < 150 KB."""
    import re
    doc = (ROOT / 'docs' / 'visualization.md').read_text()
    images = re.findall(r'!\[[^\]]*\]\((images/[^)]+\.png)\)', doc)
    assert len(images) >= 4
    for rel in images:
        path = ROOT / 'docs' / rel
        assert path.is_file(), rel
        assert path.stat().st_size < 150 * 1024, rel
        img = cv2.imread(str(path))
        assert img is not None and img.std() > 10, rel

"""tools/analysis/plot_curves.py: merging the runs of a work dir and the PNG."""
import json
from pathlib import Path

import cv2
import pytest
from tool_loading import load_tool


def write_run(work_dir: Path, stamp: str, records) -> None:
    path = work_dir / stamp / 'vis_data' / 'scalars.json'
    path.parent.mkdir(parents=True)
    path.write_text('\n'.join(json.dumps(r) for r in records) + '\n')


def make_work_dir(tmp_path: Path) -> Path:
    """Two runs (the second resumed at step 20) as LocalVisBackend + KNNMonitorHook write them."""
    work_dir = tmp_path / 'demo'
    write_run(work_dir, '20260101_000000', [{
        'knn/top1': 25.0,
        'knn/top5': 100.0,
        'step': 0
    }, {
        'loss': 4.0,
        'loss_sp': 0.5,
        'lr': 0.1,
        'epoch': 1,
        'iter': 10,
        'step': 10
    }, {
        'loss': 3.0,
        'loss_sp': 0.4,
        'lr': 0.09,
        'epoch': 1,
        'iter': 20,
        'step': 20
    }, {
        'knn/top1': 40.0,
        'knn/top5': 100.0,
        'step': 20
    }])
    write_run(
        work_dir,
        '20260101_010000',
        [
            {
                'knn/top1': 45.0,
                'knn/top5': 100.0,
                'step': 20
            },  # the resumed run's value wins
            {
                'loss': 2.0,
                'loss_sp': 0.3,
                'lr': 0.05,
                'epoch': 2,
                'iter': 30,
                'step': 30
            },
            {
                'knn/top1': 60.0,
                'knn/top5': 100.0,
                'step': 40
            }
        ])
    return work_dir


def test_load_scalars_merges_runs_in_order(tmp_path):
    tool = load_tool('tools/analysis/plot_curves.py')
    series = tool.load_scalars(tool.find_scalar_files(str(make_work_dir(tmp_path))))
    assert series['knn/top1'] == [(0, 25.0), (20, 45.0), (40, 60.0)]
    assert series['loss'] == [(10, 4.0), (20, 3.0), (30, 2.0)]
    assert 'step' not in series


def test_plot_writes_a_png_with_one_panel_per_kind(tmp_path, capsys):
    tool = load_tool('tools/analysis/plot_curves.py')
    work_dir = make_work_dir(tmp_path)
    out = tool.main([str(work_dir)])
    assert out == str(work_dir / 'curves.png')
    img = cv2.imread(out)
    # three panels (loss, kNN, lr) of 5 x 3.8 inches at 100 dpi
    assert img is not None and img.shape == (380, 1500, 3)
    assert img.std() > 5
    assert 'knn/top1: 0: 25.00, 20: 45.00, 40: 60.00' in capsys.readouterr().out

    # without kNN scalars: two panels
    only_loss = tmp_path / 'scalars.json'
    only_loss.write_text(json.dumps({'loss': 1.0, 'lr': 0.1, 'step': 1}) + '\n')
    assert cv2.imread(tool.main([str(only_loss), '--out', str(tmp_path / 'c.png')])).shape == (380, 1000, 3)


def test_errors_are_explicit(tmp_path):
    tool = load_tool('tools/analysis/plot_curves.py')
    with pytest.raises(FileNotFoundError, match='scalars.json'):
        tool.find_scalar_files(str(tmp_path))
    bad = tmp_path / 'scalars.json'
    bad.write_text(json.dumps({'data_time': 0.1, 'step': 1}) + '\n')
    with pytest.raises(ValueError, match='nothing to plot'):
        tool.main([str(bad)])

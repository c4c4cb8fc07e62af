"""benchmarks/learning (issue 14): the aggregation and targets on hand-made records, and the --quick run."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / 'benchmarks' / 'learning'))
import report  # noqa: E402
from run import RESULT_KEYS  # noqa: E402


def _rec(method, arm, seed, knn, backbone='R', dataset='cifar10_subset'):
    return dict(
        method=method,
        backbone=backbone,
        dataset=dataset,
        arm=arm,
        seed=seed,
        budget_cpu_s=10,
        iterations=5,
        knn20=knn,
        linear=knn,
        knn200=knn,
        curve=[])


def test_mean_std_over_seeds_and_gain_target():
    recs = [_rec('random init', 'random_init', s, k) for s, k in enumerate((30., 31., 32.))]
    recs += [_rec('SCRL', 'trained', s, k) for s, k in enumerate((40., 41., 42.))]
    recs += [_rec('BYOL (mmpretrain)', 'trained', s, k) for s, k in enumerate((33., 34., 35.))]
    rows, details = report.aggregate(recs)
    scrl = next(r for r in rows if r['method'] == 'SCRL')
    assert scrl['knn_top1_mean'] == pytest.approx(41.) and scrl['knn_top1_std'] == pytest.approx(1.)  # ddof 1
    status = {(t['subject'].split(' (')[0], t['target'][:22]): t['status'] for t in details['targets']}
    assert status[('SCRL', 'kNN >= random_init + 8')] == 'met'  # +10 > 8 and > 2 * sqrt(2)
    assert status[('BYOL', 'kNN >= random_init + 8')] == 'not met'  # +3
    assert status[('SCRL vs BYOL', 'ours within 1 std of, ')] == 'met'


@pytest.mark.slow
def test_quick_run_writes_the_issue_keys(tmp_path):
    if not (ROOT.parent / 'shared' / 'data' / 'cifar10_subset').is_dir():
        pytest.skip('../shared/data is absent')
    subprocess.run([
        sys.executable,
        str(ROOT / 'benchmarks' / 'learning' / 'run.py'), '--quick', '--out-dir',
        str(tmp_path), '--doc',
        str(tmp_path / 'evidence.md'), '--image',
        str(tmp_path / 'c.png'), '--fail-fast'
    ],
                   check=True,
                   cwd=ROOT)
    path = next(p for p in tmp_path.glob('learning_*.json') if not p.name.endswith('_details.json'))
    rows = json.loads(path.read_text())
    assert {r['arm'] for r in rows} == {'trained', 'random_init', 'random_init_bn_recal'}
    assert all(tuple(r) == RESULT_KEYS for r in rows)
    assert all(0 <= r['knn_top1_mean'] <= 100 for r in rows)
    assert 'Targets (issue 14)' in (tmp_path / 'evidence.md').read_text()

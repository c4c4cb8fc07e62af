"""Smoke test of the benchmark harness: schema of the JSON and the generated Markdown, no timings."""
import importlib
import json
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / 'benchmarks'


@pytest.fixture(scope='module')
def harness():
    sys.path.insert(0, str(BENCHMARKS))
    try:
        yield importlib.import_module('run_benchmarks')
    finally:
        sys.path.remove(str(BENCHMARKS))


def test_linear_fit_and_description(harness):
    fit = harness.linear_fit([1, 2, 4], [0.1, 0.2, 0.4])
    assert fit['r2'] == pytest.approx(1.0)
    assert fit['slope'] == pytest.approx(0.1)
    assert fit['growth'] == pytest.approx(4.0) and fit['x_growth'] == pytest.approx(4.0)
    text = harness.describe(fit, 'batch size', 'image', [1, 2, 4], [0.1, 0.2, 0.4])
    assert text.startswith('linear and about proportional to batch size')
    xs, ys = [1, 2, 3, 4], [1., 1.1, 2., 6.]
    assert 'faster than linear' in harness.describe(harness.linear_fit(xs, ys), 'x', 'unit', xs, ys)


@pytest.mark.slow  # ~30 s on 2 cores: builds the models, starts DataLoader workers
def test_smoke_run_writes_json_and_markdown(harness, tmp_path):
    res = harness.main(['--smoke', '--out-dir', str(tmp_path)])
    files = list(tmp_path.glob('cpu_smoke_*.json'))
    assert len(files) == 1
    data = json.loads(files[0].read_text())
    assert data['schema_version'] == harness.SCHEMA_VERSION
    assert set(data) >= {'machine', 'profile', 'matmul', 'results', 'pairs', 'data', 'sweeps', 'groups',
                         'duration_s', 'command'}
    assert data['machine']['torch'] and data['machine']['device'] == 'cpu'
    assert data['matmul']['start']['gflops_per_s'] > 0
    methods = {r['method'] for r in data['results']}
    assert methods == {'BYOL', 'SCRL'}
    for r in data['results']:
        assert set(r) >= {'step_s', 'steps_s', 'images_per_s', 'peak_mem_mb', 'gflops_per_step',
                          'flops_utilisation_pct', 'batch_size', 'backbone'}
        assert len(r['steps_s']) == data['profile']['steps'] and r['gflops_per_step'] > 0
    (pair, ) = data['pairs']
    assert pair['method'] == 'SCRL' and pair['base'] == 'BYOL' and pair['target'] == 1.10
    assert isinstance(pair['met'], bool) and pair['ratio'] > 0
    assert {d['method'] for d in data['data']} == {'BYOL', 'SCRL'}
    for d in data['data']:
        assert d['num_workers'] == 2 and 0 <= d['data_fraction'] <= 1
    (sweep, ) = data['sweeps']
    assert sweep['name'] == 'batch_size' and all(len(c['step_s']) == 2 for c in sweep['curves'])
    assert res['results'] == data['results']

    report = (tmp_path / 'benchmarks.md').read_text()
    assert report.startswith('# Benchmarks')
    assert '| pair | method ms/step | base ms/step | time ratio |' in report
    assert '| SCRL ResNet-18 / BYOL ResNet-18 |' in report
    assert '## Data loading' in report and '## Scaling' in report
    assert (tmp_path / 'benchmarks_scaling.png').stat().st_size > 0

    # The report can be re-rendered from the JSON alone.
    again = tmp_path / 'again.md'
    harness.main(['--report-from', str(files[0]), '--report', str(again)])
    assert again.read_text() == report.replace('benchmarks_scaling.png', 'again_scaling.png')

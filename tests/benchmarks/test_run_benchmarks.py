"""Tests of the benchmark harness (``benchmarks/harness``): fits, pairing against the targets file, the report
of the committed run, and a smoke run (schema of the JSON and the Markdown, no timings)."""
import glob
import importlib
import json
import os.path as osp
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BENCHMARKS = ROOT / 'benchmarks'


@pytest.fixture(scope='module')
def harness():
    """The harness package as ``run_benchmarks.py`` imports it (``benchmarks/`` on ``sys.path``)."""
    sys.path.insert(0, str(BENCHMARKS))
    try:
        yield {
            name: importlib.import_module(f'harness.{name}')
            for name in ('settings', 'models', 'measure', 'sweeps', 'report', 'cli')
        }
    finally:
        sys.path.remove(str(BENCHMARKS))


def test_linear_fit_and_description(harness):
    sweeps = harness['sweeps']
    fit = sweeps.linear_fit([1, 2, 4], [0.1, 0.2, 0.4])
    assert fit['r2'] == pytest.approx(1.0)
    assert fit['slope'] == pytest.approx(0.1)
    assert fit['growth'] == pytest.approx(4.0) and fit['x_growth'] == pytest.approx(4.0)
    text = sweeps.describe(fit, 'batch size', 'image', [1, 2, 4], [0.1, 0.2, 0.4])
    assert text.startswith('linear and about proportional to batch size')
    xs, ys = [1, 2, 3, 4], [1., 1.1, 2., 6.]
    assert 'faster than linear' in sweeps.describe(sweeps.linear_fit(xs, ys), 'x', 'unit', xs, ys)


def test_targets_file_names_existing_configs(harness):
    data = harness['settings'].targets()
    assert data['step_time_ratio'] == {'SCRL / BYOL': 1.10, 'SelfPatch / DINO': 1.25, 'SP': 1.30}
    assert data['data_fraction'] == 0.10
    for method, base, group, key in data['pairs']:
        assert key is None or key in data['step_time_ratio'], (method, base, key)
    configs = list(data['data_configs'].values()) + list(data['batch_configs'].values()) + [data['sp_base_config']]
    missing = [c for c in configs if not (ROOT / c).is_file()]
    assert not missing, f'benchmarks/harness/targets.yaml names configs that do not exist: {missing}'
    assert all(isinstance(n, str) and n for n in harness['settings'].notes())


def test_pairs_ratio_against_targets(harness):
    models, measure = harness['models'], harness['measure']

    def case(name, backbone, step_s, gflops, mem):
        c = models.Case(name, backbone, cfg={}, optim='sgd')
        c.result = dict(step_s=step_s, gflops_per_step=gflops, peak_mem_mb=mem)
        return c

    r18 = models.Group('resnet18', 'ResNet-18', 'x.py', {}, 4, '', [
        case('BYOL', 'ResNet-18', 0.2, 4., 100.),
        case('SCRL', 'ResNet-18', 0.25, 5., 150.),
        case('BYOL+SP', 'ResNet-18', 0.24, 4.4, 120.)
    ])
    scat = models.Group('scatnet', 'ScatNet', 'y.py', {}, 4, '',
                        [case('SimCLR', 'ResNet-18', 0.1, 1., 10.),
                         case('ScatSimCLR', 'ScatNet-8', 0.05, 0.5, 20.)])
    pairs = {p['pair']: p for p in measure.pair_results([r18, scat])}
    assert set(pairs) == {
        'SCRL ResNet-18 / BYOL ResNet-18', 'BYOL+SP ResNet-18 / BYOL ResNet-18',
        'ScatSimCLR ScatNet-8 / SimCLR ResNet-18'
    }
    scrl = pairs['SCRL ResNet-18 / BYOL ResNet-18']
    assert scrl['ratio'] == pytest.approx(1.25) and scrl['target'] == 1.10 and scrl['met'] is False
    assert scrl['flops_ratio'] == pytest.approx(1.25) and scrl['mem_ratio'] == pytest.approx(1.5)
    sp = pairs['BYOL+SP ResNet-18 / BYOL ResNet-18']
    assert sp['ratio'] == pytest.approx(1.2) and sp['target'] == 1.30 and sp['met'] is True
    scat_pair = pairs['ScatSimCLR ScatNet-8 / SimCLR ResNet-18']
    assert scat_pair['ratio'] == pytest.approx(0.5) and scat_pair['target'] is None and scat_pair['met'] is None


def test_committed_report_matches_its_json(harness):
    """``docs/benchmarks.md`` is what the harness renders from the newest committed run JSON (with the notes of
    ``notes.yaml``): re-render with ``--report-from`` after changing either."""
    runs = sorted(glob.glob(str(BENCHMARKS / 'results' / 'cpu_default_*.json')))
    assert runs, 'no committed benchmark run in benchmarks/results'
    with open(runs[-1]) as f:
        res = json.load(f)
    res['notes'] = harness['settings'].notes()
    rendered = harness['report'].render_markdown(res, 'benchmarks_scaling.png')
    run = osp.relpath(runs[-1], ROOT)
    assert rendered == (ROOT / 'docs' / 'benchmarks.md').read_text(), (
        f'docs/benchmarks.md differs from the render of {run}: edit the JSON (e.g. a renamed config path), not the '
        f'report, then python benchmarks/run_benchmarks.py --report-from {run}')


def test_entry_point_help():
    """``python benchmarks/run_benchmarks.py`` stays the entry point (a thin script over the package)."""
    out = subprocess.run([sys.executable, str(BENCHMARKS / 'run_benchmarks.py'), '--help'],
                         capture_output=True,
                         text=True,
                         check=True,
                         cwd=str(ROOT / 'tests')).stdout
    assert '--report-from' in out and '--smoke' in out


@pytest.mark.slow  # ~30 s on 2 cores: builds the models, starts DataLoader workers
def test_smoke_run_writes_json_and_markdown(harness, tmp_path):
    res = harness['cli'].main(['--smoke', '--out-dir', str(tmp_path)])
    files = list(tmp_path.glob('cpu_smoke_*.json'))
    assert len(files) == 1
    data = json.loads(files[0].read_text())
    assert data['schema_version'] == harness['settings'].SCHEMA_VERSION
    assert set(data) >= {
        'machine', 'profile', 'matmul', 'results', 'pairs', 'data', 'sweeps', 'groups', 'duration_s', 'command'
    }
    assert data['machine']['torch'] and data['machine']['device'] == 'cpu'
    assert data['matmul']['start']['gflops_per_s'] > 0
    methods = {r['method'] for r in data['results']}
    assert methods == {'BYOL', 'SCRL'}
    for r in data['results']:
        assert set(r) >= {
            'step_s', 'steps_s', 'images_per_s', 'peak_mem_mb', 'gflops_per_step', 'flops_utilisation_pct',
            'batch_size', 'backbone'
        }
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
    harness['cli'].main(['--report-from', str(files[0]), '--report', str(again)])
    assert again.read_text() == report.replace('benchmarks_scaling.png', 'again_scaling.png')

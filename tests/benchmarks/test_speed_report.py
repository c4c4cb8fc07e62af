"""Issue 18's before/after tables in the benchmark report: ``--report-from RUN --speed-from SPEED.json``."""
import importlib
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BENCHMARKS = ROOT / 'benchmarks'


def _row(variant, step_s, ratio, diff_key):
    return {
        'variant': variant,
        'step_s': step_s,
        'ratio': ratio,
        'ratio_min': ratio - 0.05,
        'ratio_max': ratio + 0.05,
        'utilisation_pct': 50.0,
        diff_key: 1e-5,
        'losses': [1.0]
    }


def test_speed_from_adds_replaces_and_renders(tmp_path):
    sys.path.insert(0, str(BENCHMARKS))
    try:
        cli = importlib.import_module('harness.cli')
    finally:
        sys.path.remove(str(BENCHMARKS))
    committed = sorted((BENCHMARKS / 'results').glob('cpu_default_*.json'))[-1]
    run = tmp_path / 'run.json'
    run.write_text(committed.read_text())
    scrl = dict(
        threads=1,
        device='cpu',
        cpu_capability='AVX2',
        bf16_kernels=False,
        steps=3,
        settings=[
            dict(
                depth=18,
                size=96,
                batch=16,
                gflops_per_step=96.,
                matmul_gflops_per_s=100.,
                rows=[
                    _row('before', 2.0, 1.0, 'max_rel_loss_diff_5_steps'),
                    _row('channels-last', 1.5, 0.75, 'max_rel_loss_diff_5_steps')
                ])
        ])
    selfpatch = dict(
        arch='small',
        batch=4,
        crops='2x224 + 2x96 px',
        threads=1,
        device='cpu',
        reps=3,
        gflops_per_step=300.,
        matmul_gflops_per_s=100.,
        rows=[
            _row('before', 30., 1.0, 'max_rel_loss_diff'),
            _row('AdamW foreach', 27., 0.95, 'max_rel_loss_diff'),
            _row('AdamW foreach + bf16 autocast', 18., 0.6, 'max_rel_loss_diff')
        ])
    for name, data in (('scrl.json', scrl), ('sp.json', selfpatch)):
        (tmp_path / name).write_text(json.dumps(data))
    report = tmp_path / 'report.md'
    argv = ['--report-from', str(run), '--report', str(report)]
    cli.main(argv + ['--speed-from', str(tmp_path / 'scrl.json'), '--speed-from', str(tmp_path / 'sp.json')])
    scrl['settings'][0]['rows'][1]['ratio'] = 0.7  # a newer SCRL measurement replaces the stored one
    (tmp_path / 'scrl.json').write_text(json.dumps(scrl))
    res = cli.main(argv + ['--speed-from', str(tmp_path / 'scrl.json')])
    assert [s['method'] for s in res['speed']][-2:] == ['SelfPatch', 'SCRL']
    assert json.loads(run.read_text())['speed'] == res['speed']  # kept with the run
    text = report.read_text()
    assert '## Step speed before → after (issue 18)' in text
    assert '| channels-last | 1.500 | 0.700 [0.70–0.80] | 50.0 % | 1.0e-05 |' in text
    assert '| AdamW foreach | 27.000 | 0.950 [0.90–1.00] | 50.0 % | 1.0e-05 |' in text
    # each table's verdict against targets.yaml's speed_ratio (SCRL 0.80, SelfPatch 0.90): fp32 only; bf16 apart
    assert 'Target: ratio ≤ 0.80 in fp32 with the same losses. Fastest fp32 variant: channels-last, 0.700: yes.' in text
    assert (
        'Target: ratio ≤ 0.90 in fp32 with the same losses. Fastest fp32 variant: AdamW foreach, 0.950: **no**. '
        'AdamW foreach + bf16 autocast: 0.600 with a loss drift of 1.0e-05 (within the ratio, but not fp32).') in text
    assert 'SCRL ResNet-18, 96 px, batch 16' in text and 'SelfPatch ViT-small/16, batch 4' in text
    # the CPU's kernels where the JSON records them (bf16 rows depend on them), nothing for older JSONs
    assert '1 thread(s), cpu (AVX2, no bf16 kernels), 96.0 GFLOP/step' in text
    assert '1 thread(s), cpu, 300.0 GFLOP/step' in text
    # another file (a new lever) adds its table next to the stored ones; first steps show the compile cost
    scrl['settings'][0]['rows'][1].update(variant='channels-last + torch.compile', first_5_steps_s=[90., 1.5])
    (tmp_path / 'scrl_b.json').write_text(json.dumps(scrl))
    res = cli.main(argv + ['--speed-from', str(tmp_path / 'scrl_b.json')])
    assert [s['method'] for s in res['speed']][-3:] == ['SelfPatch', 'SCRL', 'SCRL']
    text = report.read_text()
    assert '| channels-last | 1.500 | 0.700 [0.70–0.80] | 50.0 % | 1.0e-05 | — |' in text
    assert '| channels-last + torch.compile | 1.500 | 0.700 [0.70–0.80] | 50.0 % | 1.0e-05 | 90.0 + 1.5 |' in text

"""benchmarks/learning (issue 14): the aggregation and targets on hand-made records, and the --quick run."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / 'benchmarks' / 'learning'))
import report  # noqa: E402
import run  # noqa: E402
from run import RESULT_KEYS  # noqa: E402

from mmspatial.engine.cpu_amp import cpu_bf16_is_fast  # noqa: E402


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


def test_render_labels_budgets_per_dataset_and_carried_rows(tmp_path):
    recs = [_rec('random init', 'random_init', s, 30., dataset=d) for s in range(3) for d in ('cifar10_subset', 'f')]
    recs += [_rec('SCRL', 'trained', s, 40.) for s in range(3)]
    for s in range(3):
        old = _rec('SCRL', 'trained', s, 35., dataset='f')
        old.update(budget_cpu_s=4, carried_from='learning_old')
        recs.append(old)
    rows, details = report.aggregate(recs + [dict(recs[-1], budget_cpu_s=8, carried_from=None)])
    assert [len(r['seeds']) for r in rows if r['dataset'] == 'f' and r['arm'] == 'trained'] == [3, 1]
    rows, details = report.aggregate(recs)
    path = tmp_path / 'learning_x.json'
    path.write_text(json.dumps([{k: r[k] for k in RESULT_KEYS} for r in rows]))
    (tmp_path / 'learning_x_details.json').write_text(json.dumps(details))
    text = Path(report.render(str(path), str(tmp_path / 'e.md'), str(tmp_path / 'c.png'))).read_text()
    assert 'cifar10_subset: 10; f: 4' in text
    assert '| f † | R | SCRL | trained | 4 |' in text and '| cifar10_subset | R | SCRL | trained | 10 |' in text
    assert '`learning_old`' in text


def _args(argv):
    p = run.argparse.Namespace(
        datasets=['cifar10_subset', 'flowers128'],
        methods=None,
        quick=False,
        seeds=2,
        order='seed',
        ablation=False,
        ablation_seeds=1,
        budget=100.,
        dataset_budget={},
        amp=False)
    for k, v in argv.items():
        setattr(p, k, v)
    return p


def test_per_dataset_budget_and_its_errors(monkeypatch):
    args = _args(dict(dataset_budget=run.parse_dataset_budgets(['flowers128=40'])))
    assert run.budget_for('flowers128', args) == 40. and run.budget_for('cifar10_subset', args) == 100.
    job = dict(method='m', dataset='flowers128', arm='trained', seed=0)
    cmd = run.command([job], args, ['out.json'])
    assert cmd[cmd.index('--budget') + 1] == '40.0'
    with pytest.raises(SystemExit, match='imagenet'):
        run.parse_dataset_budgets(['imagenet=10'])
    with pytest.raises(SystemExit, match='NAME=SECONDS'):
        run.parse_dataset_budgets(['flowers128'])


def test_amp_reaches_trained_arms_only_and_is_never_averaged_with_fp32(tmp_path):
    args = _args(dict(amp=True))
    trained = dict(method='m', name='m', dataset='cifar10_subset', backbone='R', arm='trained', seed=0)
    floor = dict(trained, arm='random_init', name='random init')
    assert '--amp' in run.command([trained], args, ['o.json']) and '--amp' not in run.command([floor], args, ['o.json'])
    recs = [dict(_rec('A', 'trained', s, 40.), amp=True) for s in range(2)] + [_rec('A', 'trained', 0, 30.)]
    rows, _ = report.aggregate(recs)
    assert sorted((r['amp'], len(r['seeds']), r['knn_top1_mean']) for r in rows) == [(False, 1, 30.), (True, 2, 40.)]
    # resuming a bf16 run without --amp (or the reverse) is refused, naming the record
    (tmp_path / 'records').mkdir()
    (tmp_path / 'records' / (run.slug(trained) + '.json')).write_text(json.dumps(dict(amp=True)))
    (tmp_path / 'records' / (run.slug(floor) + '.json')).write_text(json.dumps(dict(amp=False)))
    run.check_precision([trained, floor], args, str(tmp_path))  # same flags: fine
    with pytest.raises(SystemExit, match=run.slug(trained) + '.json: trained with --amp'):
        run.check_precision([trained, floor], _args({}), str(tmp_path))


def test_method_major_order_keeps_floors_first(monkeypatch):
    from protocol import DatasetSpec
    monkeypatch.setattr(DatasetSpec, 'available', lambda self: True)  # only the plan, no data read
    names = ['ScatSimCLR-8 +rotation', 'SimCLR (mmpretrain)']
    jobs = run.plan(_args(dict(datasets=['cifar10_subset'], methods=names, order='method', seeds=3)))
    arms = [j['arm'] for j in jobs]
    assert arms.index('trained') == arms.count('random_init') + arms.count('random_init_bn_recal')
    trained = [(j['name'], j['seed']) for j in jobs if j['arm'] == 'trained']
    assert trained == [(n, s) for n in names for s in range(3)]  # whole methods, in the order asked
    seed_major = run.plan(_args(dict(datasets=['cifar10_subset'], methods=names, seeds=3)))
    assert sorted(map(run.slug, seed_major)) == sorted(map(run.slug, jobs))


def test_floor_arms_of_one_backbone_and_seed_share_a_process():

    def job(arm, seed=0, method='m'):
        return dict(method=method, dataset='d', backbone='b', arm=arm, seed=seed)

    pending = [job('random_init_bn_recal'), job('random_init', 1), job('trained'), job('random_init')]
    assert run.next_group(pending) == [job('random_init'), job('random_init_bn_recal')]  # partner pulled forward
    assert run.next_group(pending) == [job('random_init', 1)]  # its partner is already done (resume)
    assert run.next_group(pending) == [job('trained')] and pending == []
    argv = run.command([job('random_init'), job('random_init_bn_recal')], _args({}), ['a.json', 'b.json'])
    assert argv[argv.index('--arm') + 1:argv.index('--seed')] == ['random_init', 'random_init_bn_recal']
    assert argv[argv.index('--out') + 1:] == ['a.json', 'b.json']
    import arm
    with pytest.raises(ValueError, match='expected'):
        arm.run_arms('cifar10_subset:SCRL', ['trained', 'random_init'], 0, 1., True)


@pytest.mark.slow
def test_floors_in_one_process_equal_separate_processes(tmp_path):
    """Recalibrated BN statistics are probed first and the initial ones restored for the random_init row:
    both rows equal those of one-arm processes; a backbone without BN reuses the random_init probe."""
    if not (ROOT.parent / 'shared' / 'data' / 'flowers128').is_dir():
        pytest.skip('../shared/data is absent')
    script = """if True:
        import json, sys
        sys.path.insert(0, 'benchmarks/learning')
        import arm
        out = dict(both=arm.run_arms('cifar10_subset:SCRL', arm.FLOOR_ARMS, 0, 0., True),
                   alone=[arm.run('cifar10_subset:SCRL', a, 0, 0., True) for a in arm.FLOOR_ARMS],
                   vit=arm.run_arms('flowers128:DINO', arm.FLOOR_ARMS, 0, 0., True))
        print('RESULT' + json.dumps(out))
    """  # in a child: the arms set torch's thread count and mmcv's hue fix for their whole process
    done = subprocess.run([sys.executable, '-c', script], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    res = json.loads(done.stdout.split('RESULT', 1)[1])
    keys = ('knn20', 'knn200', 'linear', 'bn_recal_images')
    both, alone, vit = res['both'], res['alone'], res['vit']
    assert [[r.get(k) for k in keys] for r in both] == [[r.get(k) for k in keys] for r in alone]
    assert both[0]['knn20'] != both[1]['knn20'] and both[1]['bn_recal_images'] > 0
    assert vit[1]['bn_recal_images'] == 0 and vit[1]['probe_reused'] == 'random_init'
    assert [vit[1][k]
            for k in ('knn20', 'linear', 'loc_r2_xy')] == [vit[0][k] for k in ('knn20', 'linear', 'loc_r2_xy')]


@pytest.mark.slow
def test_quick_run_writes_the_issue_keys(tmp_path):
    if not (ROOT.parent / 'shared' / 'data' / 'cifar10_subset').is_dir():
        pytest.skip('../shared/data is absent')
    cmd = [
        sys.executable,
        str(ROOT / 'benchmarks' / 'learning' / 'run.py'), '--quick', '--out-dir',
        str(tmp_path), '--doc',
        str(tmp_path / 'evidence.md'), '--image',
        str(tmp_path / 'c.png'), '--fail-fast', '--amp'
    ]
    amp = cpu_bf16_is_fast()
    if not amp:  # bf16 would spend the budget in slow kernels: refused before any arm runs, then fp32
        refused = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
        assert refused.returncode != 0 and 'no bfloat16 kernels' in refused.stderr
        assert not list(tmp_path.glob('learning_*'))
        cmd.remove('--amp')
    subprocess.run(cmd, check=True, cwd=ROOT)
    path = next(p for p in tmp_path.glob('learning_*.json') if not p.name.endswith('_details.json'))
    rows = json.loads(path.read_text())
    assert {r['arm'] for r in rows} == {'trained', 'random_init', 'random_init_bn_recal'}
    assert all(tuple(r) == RESULT_KEYS for r in rows)
    assert all(0 <= r['knn_top1_mean'] <= 100 for r in rows)
    assert {r['budget_cpu_s'] for r in rows if r['arm'] == 'trained'} == {5.}
    recs = json.loads(path.with_name(path.stem + '_details.json').read_text())['records']
    assert {(r['arm'] == 'trained', r['amp']) for r in recs} == {(True, amp), (False, False)}  # floors in fp32
    assert 'Targets (issue 14)' in (tmp_path / 'evidence.md').read_text()

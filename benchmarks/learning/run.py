"""Learning evidence, one command (issue 14): does pretraining with mmspatial beat random weights, and
does it keep up with mmpretrain's own base, at an equal CPU budget on real data?

    python benchmarks/learning/run.py                      # the default protocol (docs/evidence.md)
    python benchmarks/learning/run.py --quick --out-dir /tmp/q   # CI smoke: one method, tiny
    python benchmarks/learning/run.py --resume benchmarks/results/learning_runs/<stamp>   # finish a run
    python benchmarks/learning/run.py --render-from benchmarks/results/learning_<stamp>.json
    python benchmarks/learning/run.py --datasets cifar10_subset --budget 300 --order method   # the 13:15 run
    python benchmarks/learning/run.py --datasets cifar10_subset --budget 400 --amp   # bf16, channels-last

Default: 90 CPU-s per arm, 3 seeds, both datasets (33 trained arms + 24 random-init rows from 12 floor
processes), 2 jobs, kNN curve at half the budget for seed 0: **45.6 min** wall, 5,420 CPU-s on a quiet 2-core
AVX2 machine (run 20261207T023150Z; ~55 min at the ~20 % slower state that machine was in an hour before).
Before the overhead cuts below the 150-CPU-s default took 80 min (20261206T204736Z), and 90 CPU-s took 61.1 min
(20261207T002743Z). Nothing learns at this budget (benchmarks/learning/notes.md).
Overhead cuts: arms are forked from this process after the heavy imports (``--no-fork`` to spawn), both floors
of a backbone and seed share one process, a backbone without BN reuses its random-init probe for the
BN-recalibrated row, BN statistics are re-estimated on 1,280 images, convolutional backbones are probed in
channels-last, and every backbone is probed at its own training view size (``protocol.BACKBONE_PROBES``).
The budget is process CPU time, but CPU time per iteration is not load-invariant on a shared machine (cache
and memory contention): under 4-9 runnable processes on 2 cores a CIFAR-stem ResNet-18 SimCLR step at
batch 64 costs about 5 CPU-s (59 steps in 300 CPU-s, 20261205T131457Z), several times its quiet cost, so
the iterations column, not the budget, says how much training an arm got.

For every method of ``protocol.METHODS`` and every seed, one process (``arm.py``) trains the method's
config for ``--budget`` CPU seconds (``getrusage`` of the process, torch on one thread, data loading in the
process), then probes the online backbone on held-out data: weighted kNN (cosine, T = 0.07, k = 20 and
k = 200), an L2-penalised logistic-regression probe, and for the spatial methods and their bases SP's
position-and-scale probe. Every backbone also gets two random-initialisation rows: ``random_init`` (the
initial weights; eval-mode BN then normalises with mean 0 / var 1) and ``random_init_bn_recal`` (the same
weights, BN statistics re-estimated on augmented training views). ``--jobs`` arms run side by side; each
finished arm is written to ``<run dir>/records/`` at once, so a run cut short keeps its rows and
``--resume`` runs only what is missing.

Outputs: ``<out-dir>/learning_<stamp>.json`` (a list of records with exactly the keys ``method``,
``backbone``, ``dataset``, ``arm``, ``budget_cpu_s``, ``iterations``, ``seeds``, ``knn_top1_mean``,
``knn_top1_std``, ``linear_top1_mean``, ``linear_top1_std``; kNN is k = 20; std over seeds, ddof = 1),
``learning_<stamp>_details.json`` (per-seed records, k = 200, localisation, curves, targets, CPU and wall
seconds) and ``docs/evidence.md`` with ``docs/images/evidence_knn_curves.png``.
"""
import argparse
import json
import os
import os.path as osp
import subprocess
import sys
import time
from typing import List, Optional

HERE = osp.dirname(osp.abspath(__file__))
sys.path.insert(0, HERE)
import protocol  # noqa: E402
from protocol import ABLATION_METHOD, ABLATIONS, DATASETS, METHODS, ROOT, floor_configs, method_key  # noqa: E402

RESULT_KEYS = ('method', 'backbone', 'dataset', 'arm', 'budget_cpu_s', 'iterations', 'seeds', 'knn_top1_mean',
               'knn_top1_std', 'linear_top1_mean', 'linear_top1_std')


def slug(job: dict) -> str:
    text = f"{job['dataset']}_{job['backbone']}_{job['name']}_{job['arm']}_{job.get('ablation') or ''}_s{job['seed']}"
    return ''.join(c if c.isalnum() else '-' for c in text).strip('-')


def plan(args) -> List[dict]:
    """The jobs, most informative first: for each seed, the floors and every method of each dataset."""
    datasets = [d for d in args.datasets if DATASETS[d].available()]
    methods = [m for m in METHODS if m.dataset in datasets and (not args.methods or m.name in args.methods)]
    if args.quick:
        methods = methods[:1]
    floors = {
        k: v
        for k, v in floor_configs().items() if any(m.dataset == k[0] and m.backbone == k[1] for m in methods)
    }
    jobs = []
    for seed in range(args.seeds):
        for dataset in datasets:
            for (ds, backbone), config in floors.items():
                if ds != dataset:
                    continue
                key = next(method_key(m) for m in METHODS if m.config == config)
                for arm in ('random_init', 'random_init_bn_recal'):
                    jobs.append(dict(method=key, name='random init', dataset=ds, backbone=backbone, arm=arm, seed=seed))
            for m in methods:
                if m.dataset == dataset:
                    jobs.append(
                        dict(
                            method=method_key(m),
                            name=m.name,
                            dataset=m.dataset,
                            backbone=m.backbone,
                            arm='trained',
                            seed=seed,
                            curve=seed == 0))
    if args.order == 'method':  # floors first, then one method's seeds after another (a run cut short
        # keeps whole methods with all their seeds rather than every method with fewer seeds)
        names = list(args.methods or [m.name for m in methods])
        jobs.sort(key=lambda j: (j['arm'] == 'trained', j['dataset'] != datasets[0], names.index(j['name'])
                                 if j['name'] in names else -1, j['seed']))
    if args.ablation and not args.quick:
        for name in ABLATIONS:
            for seed in range(args.ablation_seeds):
                jobs.append(
                    dict(
                        method=ABLATION_METHOD,
                        name=f'ablation: {name}',
                        dataset='cifar10_subset',
                        backbone='ResNet-18 (CIFAR stem)',
                        arm='trained',
                        seed=seed,
                        ablation=name))
    return jobs


def refuse_slow_bf16() -> None:
    """``--amp`` is a speed lever: on a CPU without bfloat16 kernels it would spend the budget in slow
    fallback kernels (4-7 iterations where fp32 makes ~65), so refuse before any arm runs."""
    from mmspatial.engine.cpu_amp import accelerator_available, cpu_bf16_is_fast, slow_bf16_message
    if not accelerator_available() and not cpu_bf16_is_fast():
        raise SystemExit(f'--amp: {slow_bf16_message()}')


def budget_for(dataset: str, args) -> float:
    """The training CPU seconds of an arm on ``dataset``: ``--dataset-budget`` if given, else ``--budget``."""
    return args.dataset_budget.get(dataset, args.budget)


def parse_dataset_budgets(items: Optional[List[str]]) -> dict:
    out = {}
    for item in items or []:
        name, sep, value = item.partition('=')
        if not sep or name not in DATASETS:
            raise SystemExit(f'--dataset-budget {item!r}: expected NAME=SECONDS with NAME in {list(DATASETS)}')
        out[name] = float(value)
    return out


def command(group: List[dict], args, outs: List[str]) -> List[str]:
    """``arm.py`` arguments for one process: one trained arm, or the floor arms of one backbone and seed."""
    job = group[0]
    argv = [
        '--method', job['method'], '--arm', *[j['arm'] for j in group], '--seed',
        str(job['seed']), '--budget',
        str(budget_for(job['dataset'], args)), '--out', *outs
    ]
    if job.get('curve'):
        argv.append('--curve')
    if job.get('ablation'):
        argv += ['--ablation', job['ablation']]
    if args.quick:
        argv.append('--quick')
    if args.amp and job['arm'] == 'trained':
        argv.append('--amp')
    return argv


def next_group(pending: List[dict]) -> List[dict]:
    """Pop the next job, with the other pending floor arm of the same backbone and seed: both floors share
    one process (one start-up, one initialisation; see ``arm.run_arms``)."""
    job = pending.pop(0)
    if job['arm'] == 'trained':
        return [job]
    key = ('method', 'dataset', 'backbone', 'seed')
    group = [job] + [j for j in pending if j['arm'] not in ('trained', job['arm']) and all(j[k] == job[k] for k in key)]
    for j in group[1:]:
        pending.remove(j)
    return sorted(group, key=lambda j: j['arm'])


THREAD_ENV = dict(OMP_NUM_THREADS='1', MKL_NUM_THREADS='1', OPENBLAS_NUM_THREADS='1')


class ForkedArm:
    """``arm.main(argv)`` in a child forked from this process after the heavy imports (torch, mmengine,
    mmpretrain, mmspatial: ~10 CPU-s per process, ~570 CPU-s of the 57-arm run). The child starts with
    its own, zero, resource usage (the arm's CPU budget is unaffected) and exits with the arm."""

    def __init__(self, argv: List[str], log_path: str):
        self.returncode = None
        sys.stdout.flush()
        sys.stderr.flush()
        self.pid = os.fork()
        if self.pid:
            return
        code = 1
        try:
            fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            os.dup2(fd, 1)
            os.dup2(fd, 2)
            os.chdir(ROOT)
            import arm
            arm.main(argv)
            code = 0
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else 1
        except BaseException:
            import traceback
            traceback.print_exc()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)

    def poll(self) -> Optional[int]:
        if self.returncode is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode


def preload() -> bool:
    """Import what every arm imports, once, so that forked arms skip it; False where fork is unavailable."""
    if not hasattr(os, 'fork'):
        return False
    os.environ.update(THREAD_ENV)  # before torch is imported: one intra-op thread, no OpenMP pool to fork
    sys.path.insert(0, ROOT)
    import arm  # noqa: F401
    from mmengine.runner import Runner  # noqa: F401
    from mmpretrain.utils import register_all_modules

    import mmspatial  # noqa: F401
    register_all_modules(init_default_scope=False)
    return True


def check_precision(done: List[dict], args, run_dir: str) -> None:
    """A resumed run keeps its precision: a finished trained arm of the other one would be averaged with
    arms that got about twice (or half) its iterations per CPU-s."""
    for job in (j for j in done if j['arm'] == 'trained'):  # random-init rows are fp32 in both
        path = osp.join(run_dir, 'records', slug(job) + '.json')
        with open(path) as f:
            amp = bool(json.load(f).get('amp'))
        if amp != bool(args.amp):
            raise SystemExit(f"{path}: trained with{'' if amp else 'out'} --amp, but this resume runs "
                             f"with{'' if args.amp else 'out'} it; resume with the run's own flags")


def run_jobs(jobs: List[dict], args, run_dir: str, on_done) -> None:
    os.makedirs(osp.join(run_dir, 'records'), exist_ok=True)
    os.makedirs(osp.join(run_dir, 'logs'), exist_ok=True)
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get('PYTHONPATH', ''), **THREAD_ENV)
    pending = [j for j in jobs if not osp.isfile(osp.join(run_dir, 'records', slug(j) + '.json'))]
    check_precision([j for j in jobs if j not in pending], args, run_dir)
    print(
        f'{len(jobs)} arms, {len(jobs) - len(pending)} already done, {len(pending)} to run '
        f'({args.jobs} at a time, {args.budget:g} CPU-s of training each' +
        ''.join(f', {k}: {v:g}' for k, v in args.dataset_budget.items()) + ')',
        flush=True)
    fork = args.fork and preload()
    running = []
    while pending or running:
        while pending and len(running) < args.jobs:
            group = next_group(pending)
            name = '+'.join(slug(j) for j in group)
            outs = [osp.join(run_dir, 'records', slug(j) + '.json') for j in group]
            log_path = osp.join(run_dir, 'logs', slug(group[0]) + '.log')
            argv = command(group, args, outs)
            if fork:
                proc = ForkedArm(argv, log_path)
            else:
                log = open(log_path, 'w')
                proc = subprocess.Popen([sys.executable, osp.join(HERE, 'arm.py'), *argv],
                                        stdout=log,
                                        stderr=subprocess.STDOUT,
                                        env=env,
                                        cwd=ROOT)
                log.close()  # the child holds its own descriptor
            running.append((proc, name, outs, log_path, time.time()))
        time.sleep(0.5)
        for item in list(running):
            proc, name, outs, log_path, start = item
            if proc.poll() is None:
                continue
            running.remove(item)
            ok = proc.returncode == 0 and all(osp.isfile(o) for o in outs)
            print(
                f"[{time.strftime('%H:%M:%S')}] {'done' if ok else 'FAILED'} {name} "
                f'({time.time() - start:.0f} s wall)' + ('' if ok else f' - see {log_path}'),
                flush=True)
            if not ok and args.fail_fast:
                raise RuntimeError(f'arm {name} failed, see {log_path}')
            on_done()


def load_records(run_dir: str) -> List[dict]:
    recs = []
    folder = osp.join(run_dir, 'records')
    for name in sorted(os.listdir(folder)) if osp.isdir(folder) else []:
        if name.endswith('.json'):
            with open(osp.join(folder, name)) as f:
                recs.append(json.load(f))
    return recs


def write_results(path: str, rows: List[dict], details: dict) -> None:
    """Write ``learning_<stamp>.json`` (the issue's keys only) and ``learning_<stamp>_details.json``, each
    through a temporary file (a cut run leaves no half-written JSON) and ending with a newline (lint)."""
    for out, obj in ((path, [{k: r[k] for k in RESULT_KEYS} for r in rows]), (path[:-5] + '_details.json', details)):
        with open(out + '.tmp', 'w') as f:
            json.dump(obj, f, indent=1)
            f.write('\n')
        os.replace(out + '.tmp', out)


def write_outputs(run_dir: str, args, stamp: str, started: float, cpu0: float) -> Optional[str]:
    import report
    recs = load_records(run_dir)
    if not recs:
        return None
    rows, details = report.aggregate(recs)
    kids = os.times()  # the arms (children) and this process (imports shared by forked arms, reports)
    details['run'] = dict(
        command=' '.join(sys.argv),
        budget_cpu_s=args.budget,
        dataset_budget_cpu_s=args.dataset_budget,
        seeds=args.seeds,
        jobs=args.jobs,
        quick=args.quick,
        amp=args.amp,
        run_dir=osp.relpath(run_dir, ROOT),
        wall_s=round(time.time() - started, 1),
        cpu_s=round(kids.children_user + kids.children_system + kids.user + kids.system - cpu0, 1),
        finished_arms=len(recs),
        stamp=stamp)
    os.makedirs(args.out_dir, exist_ok=True)
    path = osp.join(args.out_dir, f'learning_{stamp}.json')
    write_results(path, rows, details)
    if args.render:
        report.render(path, args.doc, args.image)
    return path


def rerender(path: str, doc: str, image: str) -> str:
    """Aggregate the records kept in ``<path>_details.json`` again (current report code), rewrite both JSON
    files and render ``doc``; the ``run`` block (command, budgets, times) is kept."""
    import report
    details_path = path[:-5] + '_details.json'
    with open(details_path) as f:
        old = json.load(f)
    rows, details = report.aggregate(old['records'])
    details['run'] = old.get('run', {})
    write_results(path, rows, details)
    report.render(path, doc, image)
    return path


def main(argv=None) -> Optional[str]:
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument(
        '--budget',
        type=float,
        default=protocol.DEFAULT_BUDGET_CPU_S,
        help='training CPU seconds per arm (default %(default)g: sized for the 60-minute '
        'envelope of issue 14, see the module docstring; learning needs several times more)')
    p.add_argument(
        '--dataset-budget',
        nargs='+',
        metavar='NAME=SECONDS',
        help='per-dataset training CPU seconds, overriding --budget (budgets stay equal within a dataset; '
        'each record keeps its own budget_cpu_s)')
    p.add_argument(
        '--order',
        choices=['seed', 'method'],
        default='seed',
        help='job order: seed-major (default) '
        'or method-major (floors, then each method with all its seeds, in --methods order)')
    p.add_argument('--seeds', type=int, default=3)
    p.add_argument('--jobs', type=int, default=2, help='arms side by side (one CPU thread each)')
    p.add_argument('--datasets', nargs='+', default=list(DATASETS))
    p.add_argument('--methods', nargs='+', help='method names to keep (default all)')
    p.add_argument('--ablation', action='store_true', help='also the recipe ablation (SimCLR, cifar)')
    p.add_argument('--ablation-seeds', type=int, default=2)
    p.add_argument('--quick', action='store_true', help='CI smoke: the first method, tiny probes, 1 seed')
    p.add_argument(
        '--amp',
        action='store_true',
        help='train every arm with bfloat16 autocast and channels-last weights (CPUs with AVX-512 BF16 / AMX: '
        'about 2x the iterations per CPU-s for the CIFAR-stem ResNet-18); probes stay fp32; refused on CPUs '
        'without bfloat16 kernels (AVX2-only), where BYOL arms made ~12x fewer iterations per CPU-s')
    p.add_argument('--out-dir', default=osp.join(ROOT, 'benchmarks', 'results'))
    p.add_argument('--resume', help='a run directory to complete')
    p.add_argument('--doc', default=osp.join(ROOT, 'docs', 'evidence.md'))
    p.add_argument('--image', default=osp.join(ROOT, 'docs', 'images', 'evidence_knn_curves.png'))
    p.add_argument('--no-render', dest='render', action='store_false')
    p.add_argument('--render-from', help='only re-render docs/evidence.md from a learning_*.json')
    p.add_argument('--fail-fast', action='store_true')
    p.add_argument(
        '--no-fork',
        dest='fork',
        action='store_false',
        help='start each arm as a fresh `python arm.py` instead of forking it from this process after the imports')
    args = p.parse_args(argv)
    args.dataset_budget = parse_dataset_budgets(args.dataset_budget)
    if args.amp:
        refuse_slow_bf16()
    if args.render_from:
        return rerender(args.render_from, args.doc, args.image)
    if args.quick:
        args.seeds, args.budget = 1, min(args.budget, 5.)
        args.dataset_budget = {k: min(v, 5.) for k, v in args.dataset_budget.items()}
    stamp = osp.basename(args.resume.rstrip('/')) if args.resume else time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())
    run_dir = args.resume or osp.join(args.out_dir, 'learning_runs', stamp)
    started, t = time.time(), os.times()
    cpu0 = t.children_user + t.children_system + t.user + t.system
    jobs = plan(args)
    if not jobs:
        print('no dataset of the protocol is available (../shared/data); nothing to run')
        return None
    run_jobs(jobs, args, run_dir, lambda: write_outputs(run_dir, args, stamp, started, cpu0))
    path = write_outputs(run_dir, args, stamp, started, cpu0)
    print(f'results: {path}' + (f' and {args.doc}' if args.render else ''))
    return path


if __name__ == '__main__':
    main()

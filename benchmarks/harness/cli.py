"""One benchmark run end to end (:func:`run`), re-rendering a report from a run's JSON, and the command line
(:func:`main`, called by ``benchmarks/run_benchmarks.py`` and in-process by the tests)."""
import argparse
import contextlib
import datetime
import json
import os.path as osp
import resource
import sys
import time
from typing import Any, Dict, Optional, Sequence

import bench_scattering
import torch

from .machine import machine_info, matmul_throughput, release_free_memory
from .measure import log, measure_data, measure_group, pair_results, profile_misses
from .models import make_groups
from .report import write_outputs, write_report
from .settings import ROOT, SCHEMA_VERSION, make_profile, notes, targets
from .sweeps import scaling_summary, sweeps


def run(args: argparse.Namespace) -> Dict[str, Any]:
    """Every measurement of one run, as the JSON-serialisable result."""
    from mmengine.logging import MessageHub
    from mmengine.registry import init_default_scope

    import mmspatial  # noqa: F401  (registers the algorithms)
    init_default_scope('mmpretrain')
    MessageHub.get_current_instance().update_info('max_iters', 10000)  # CosineEMA's schedule
    device = args.device
    # One thread by default on CPU: on a shared machine, multi-threaded OpenMP regions wait for threads
    # preempted by other jobs, which distorts ratios between methods with different numbers of ops.
    threads = args.threads if args.threads is not None else (0 if device.startswith('cuda') else 1)
    if threads > 0:
        torch.set_num_threads(threads)
    p = make_profile(device, args.quick, args.smoke)
    t0 = time.time()
    started = datetime.datetime.now(datetime.timezone.utc)
    command = ' '.join(['python benchmarks/run_benchmarks.py'] + list(args.argv))
    res: Dict[str, Any] = dict(
        schema_version=SCHEMA_VERSION,
        command=command,
        device_kind='cuda' if device.startswith('cuda') else 'cpu',
        stamp=started.strftime('%Y%m%dT%H%M%SZ'),
        started_utc=started.strftime('%Y-%m-%d %H:%M UTC'),
        machine=machine_info(device),
        profile=dict(vars(p)))
    log(f'{res["machine"]["cpu_model"]}, {res["machine"]["torch_threads"]} threads, device {device}, '
        f'mode {p.mode}')
    res['matmul'] = dict(start=matmul_throughput(p.matmul_n, device))
    mm = res['matmul']['start']['gflops_per_s']
    log(f'matmul {p.matmul_n}²: {mm:.1f} GFLOP/s')

    groups = make_groups(p)
    batches, results = {}, []
    for group in groups:
        log(f'group {group.name}: batch {group.batch_size}, {group.input_desc}')
        batches[group.name] = measure_group(group, p, device, mm)['batch']
        results += [c.result for c in group.cases]
    pairs = pair_results(groups)
    res.update(
        results=results,
        pairs=pairs,
        groups=[
            dict(
                name=g.name,
                backbone=g.backbone,
                batch_size=g.batch_size,
                input=g.input_desc,
                batch_config=g.batch_config,
                sizes=g.sizes) for g in groups
        ])
    for q in pairs:
        log(f'  {q["pair"]:45s} {q["ratio"]:.3f}x  target {q["target"]}  met {q["met"]}')
    res['profiles'] = profile_misses(groups, pairs, device, batches) if p.profile_misses else []

    # Data loading: every method's own demo pipeline, on the small backbones.
    res['data'] = []
    if not args.no_data:
        seen = set()
        for group in groups:
            for case in group.cases:
                if case.data_config and case.data_config not in seen and group.name in ('resnet18', 'vit-tiny',
                                                                                        'scatnet'):
                    seen.add(case.data_config)
                    res['data'].append(measure_data(case, group, p, device))

    by_name = {g.name: g for g in groups}
    for name in ('resnet50', 'vit-small'):  # free what the sweeps do not use
        if name in by_name:
            for c in by_name[name].cases:
                c.model = c.optimizer = None
    release_free_memory()
    res['sweeps'] = [] if args.no_sweeps else sweeps(by_name, p, device)
    res['scaling_summary'] = scaling_summary(res['sweeps'])
    res['scattering'] = []
    if p.scattering:
        with contextlib.suppress(ImportError):  # kymatio is optional
            for size, batch in ((p.scat_size, p.scat_batch), ):
                r = bench_scattering.bench_scattering(size, batch, 7, device)
                res['scattering'].append(r)
                log(f'scattering {size} px: kymatio {r["kymatio_s"] * 1e3:.1f} ms, ours '
                    f'{r["ours_s"] * 1e3:.1f} ms ({r["speedup"]:.1f}x)')
    res['matmul']['end'] = matmul_throughput(p.matmul_n, device)
    res['notes'] = notes()
    res['peak_process_rss_mb'] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    res['duration_s'] = time.time() - t0
    res['finished_utc'] = datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')
    return res


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Speed, memory and scaling of every mmspatial algorithm against its non-spatial base, in one run '
        '(see benchmarks/run_benchmarks.py).')
    parser.add_argument('--device', default='cpu', help="'cpu' or 'cuda[:i]'")
    parser.add_argument('--quick', action='store_true', help='R18, ViT-tiny, ScatNet-8 only; fewer steps')
    parser.add_argument(
        '--smoke', action='store_true', help='1-2 steps of BYOL vs SCRL at 32 px (tests); report goes to --out-dir')
    parser.add_argument('--out-dir', default=osp.join(ROOT, 'benchmarks', 'results'))
    parser.add_argument(
        '--report',
        default=None,
        help='Markdown report (default docs/benchmarks.md; <out-dir>/benchmarks.md with '
        '--smoke)')
    parser.add_argument(
        '--threads',
        type=int,
        default=None,
        help='torch CPU threads; 0: torch default (all cores). Default: 1 on CPU (stable '
        'ratios on a shared machine), torch default with --device cuda')
    parser.add_argument('--no-data', action='store_true', help='skip the data-loading loops')
    parser.add_argument('--no-sweeps', action='store_true', help='skip the scaling sweeps')
    parser.add_argument('--report-from', default=None, help='re-render the report from a run JSON and exit')
    parser.add_argument(
        '--note',
        action='append',
        default=[],
        help='with --report-from: add a paragraph on this run (stored in its JSON)')
    parser.add_argument(
        '--speed-from',
        action='append',
        default=[],
        help='with --report-from: add a before/after step-time JSON of bench_scrl.py / bench_selfpatch.py --speed '
        '(issue 18; stored in the run JSON, replacing an earlier one from the same file)')
    args = parser.parse_args(argv)
    args.argv = list(argv if argv is not None else sys.argv[1:])
    if args.report is None:
        args.report = osp.join(args.out_dir, 'benchmarks.md') if args.smoke else \
            osp.join(ROOT, 'docs', 'benchmarks.md')
    return args


def main(argv: Optional[Sequence[str]] = None) -> Dict[str, Any]:
    """Command-line entry point (also called in-process by the tests); returns the result."""
    args = parse_args(argv)
    if args.report_from:
        with open(args.report_from) as f:
            res = json.load(f)
        fixes = notes()
        changed = bool(fixes) and res.get('notes') != fixes  # e.g. a fix's before/after, added later
        if changed:
            res['notes'] = fixes
        for path in args.speed_from:
            with open(path) as f:
                speed = dict(json.load(f), source=osp.relpath(osp.abspath(path), ROOT))
            speed.setdefault('method', 'SelfPatch' if 'arch' in speed else 'SCRL')
            # a re-measurement (same file) replaces its tables; another file adds its own (e.g. a new lever)
            res['speed'] = [s for s in res.get('speed', []) if s.get('source') != speed['source']] + [speed]
            changed = True
        for speed in res.get('speed', []):  # targets.yaml governs the target line of every stored table
            target = targets()['speed_ratio'][speed['method']]
            changed = changed or speed.get('target_ratio') != target
            speed['target_ratio'] = target
        if args.note:  # this run's reading, kept with its numbers (not carried into later runs)
            res['analysis'] = res.get('analysis', []) + list(args.note)
            changed = True
        if changed:
            with open(args.report_from, 'w') as f:
                json.dump(res, f, indent=1)
                f.write('\n')  # end-of-file hook
        write_report(res, args.report)
        print(f'wrote {args.report}')
        return res
    threads = torch.get_num_threads()
    try:
        res = run(args)
    finally:  # the tests call main() in-process
        torch.set_num_threads(threads)
    json_path, report = write_outputs(res, args.out_dir, args.report)
    log(f'wrote {json_path} and {report} ({res["duration_s"] / 60:.1f} min)')
    return res


if __name__ == '__main__':
    main()

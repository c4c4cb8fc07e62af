"""Measurements: each group's methods timed interleaved on one batch (with memory and FLOPs), the method / base
ratios against the targets of ``targets.yaml``, profiles of the pairs that miss, and the data-loading loops."""
import statistics
import time
from typing import Any, Callable, Dict, List

from timing import interleaved_times, sync

from .data import build_loader, one_batch
from .machine import PeakMemory, count_gflops
from .models import Case, Group, build_case, case_key, fixed, train_step
from .settings import MiB, Profile, targets


def log(msg: str) -> None:
    """Progress line with a time stamp (the default run takes minutes)."""
    print(f'[{time.strftime("%H:%M:%S")}] {msg}', flush=True)


def measure_group(group: Group, p: Profile, device: str, matmul_gflops: float) -> Dict[str, Any]:
    """Build each method (peak memory of build + 2 steps), then time all interleaved, then count FLOPs."""
    batch = one_batch(group.batch_config, group.sizes, group.batch_size)
    for case in group.cases:
        with PeakMemory(device) as mem:
            build_case(case, device)
            step = fixed(train_step(case), batch)
            step()  # first steps allocate optimiser state and warm the kernels
            step()
        case.result = dict(
            peak_mem_mb=mem.delta / MiB,
            params_m=sum(q.numel() for q in case.model.parameters() if q.requires_grad) / 1e6)
    steps = {case_key(c): fixed(train_step(c), batch) for c in group.cases}
    times = interleaved_times(steps, p.steps, p.warmup, device)
    for case in group.cases:
        t = times[case_key(case)]
        med = statistics.median(t)
        gflops = count_gflops(steps[case_key(case)])
        case.result.update(
            method=case.name,
            backbone=case.backbone,
            group=group.name,
            batch_size=group.batch_size,
            input=group.input_desc,
            steps_s=t,
            step_s=med,
            step_min_s=min(t),
            step_max_s=max(t),
            images_per_s=group.batch_size / med,
            gflops_per_step=gflops,
            achieved_gflops_per_s=gflops / med,
            flops_utilisation_pct=100 * gflops / med / matmul_gflops,
            mem_kind='cuda_max_allocated' if device.startswith('cuda') else 'rss_increase')
        log(f'  {case_key(case):24s} {med * 1e3:8.1f} ms/step  {group.batch_size / med:7.1f} img/s  '
            f'{case.result["peak_mem_mb"]:7.0f} MB  {gflops:7.2f} GFLOP  '
            f'{case.result["flops_utilisation_pct"]:5.1f}% of mm')
    return dict(batch=batch)


def pair_results(groups: List[Group]) -> List[Dict[str, Any]]:
    """Step-time and memory ratios of each method to its base, measured in the same group."""
    pairs = []
    for group in groups:
        by_name: Dict[str, List[Case]] = {}
        for c in group.cases:
            by_name.setdefault(c.name, []).append(c)
        wanted = [(m, b, t) for m, b, g, t in targets()['pairs'] if g == group.name]
        for method, base, target_key in wanted:
            for mc in by_name.get(method, []):
                for bc in by_name.get(base, []):
                    ratio = mc.result['step_s'] / bc.result['step_s']
                    target = targets()['step_time_ratio'].get(target_key) if target_key else None
                    pairs.append(
                        dict(
                            pair=f'{mc.name} {mc.backbone} / {bc.name} {bc.backbone}',
                            method=mc.name,
                            base=bc.name,
                            backbone=mc.backbone,
                            group=group.name,
                            method_step_s=mc.result['step_s'],
                            base_step_s=bc.result['step_s'],
                            ratio=ratio,
                            flops_ratio=mc.result['gflops_per_step'] / bc.result['gflops_per_step'],
                            mem_ratio=mc.result['peak_mem_mb'] / max(bc.result['peak_mem_mb'], 1e-9),
                            target=target,
                            met=None if target is None else bool(ratio <= target)))
    return pairs


def profile_ops(step: Callable[[], None], device: str, top: int = 40) -> Dict[str, Dict[str, float]]:
    """Self time (ms) and call count per op of one step, from ``torch.profiler``."""
    from torch.profiler import ProfilerActivity, profile
    acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.startswith('cuda') else [])
    with profile(activities=acts) as prof:
        step()
        sync(device)
    ops = {}
    cuda = device.startswith('cuda')
    for e in prof.key_averages():
        self_us = e.self_device_time_total if cuda else e.self_cpu_time_total
        ops[e.key] = dict(self_ms=self_us / 1e3, count=e.count)
    return dict(sorted(ops.items(), key=lambda kv: -kv[1]['self_ms'])[:top])


def profile_misses(groups: List[Group],
                   pairs: List[dict],
                   device: str,
                   batches: Dict[str, dict],
                   top: int = 8,
                   repeats: int = 3) -> List[Dict[str, Any]]:
    """For each missed pair: the ops whose self time grows most from the base to the method.

    Self times are averaged over ``repeats`` profiled steps of each, interleaved (one step on a shared
    machine can catch a burst of someone else's load).
    """
    out = []
    for pair in pairs:
        if pair['met'] is not False:
            continue
        group = next(g for g in groups if g.name == pair['group'])
        cases = {c.name: c for c in group.cases if c.backbone == pair['backbone']}
        batch = batches[group.name]
        prof: Dict[str, Dict[str, Dict[str, float]]] = {pair['method']: {}, pair['base']: {}}
        steps = {name: fixed(train_step(cases[name]), batch) for name in prof}
        for i in range(repeats):
            for name in (list(prof) if i % 2 == 0 else list(prof)[::-1]):
                for op, v in profile_ops(steps[name], device, top=200).items():
                    acc = prof[name].setdefault(op, dict(self_ms=0., count=0))
                    acc['self_ms'] += v['self_ms'] / repeats
                    acc['count'] += v['count'] / repeats
        m, b = prof[pair['method']], prof[pair['base']]
        diff = [(op, m.get(op, {}).get('self_ms', 0.) - b.get(op, {}).get('self_ms', 0.),
                 round(m.get(op, {}).get('count', 0)), round(b.get(op, {}).get('count', 0))) for op in set(m) | set(b)]
        diff.sort(key=lambda d: -d[1])
        out.append(
            dict(
                pair=pair['pair'],
                method_total_ms=sum(v['self_ms'] for v in m.values()),
                base_total_ms=sum(v['self_ms'] for v in b.values()),
                top_extra_ops=[dict(op=o, extra_ms=d, calls_method=cm, calls_base=cb) for o, d, cm, cb in diff[:top]]))
        top_ops = out[-1]['top_extra_ops'][:4]
        log(f'  profiled {pair["pair"]}: ' + ', '.join(f'{o["op"]} +{o["extra_ms"]:.1f} ms' for o in top_ops))
    return out


def measure_data(case: Case, group: Group, p: Profile, device: str) -> Dict[str, Any]:
    """Data wait per step of a short training loop fed by the case's demo-config DataLoader."""
    sizes = dict(group.sizes, min_images=group.batch_size * (p.data_steps + 2 * p.warmup + 4))
    # Cost of one batch in this process (all transforms + collate): what the workers must hide.
    loader0 = iter(build_loader(case.data_config, sizes, group.batch_size, num_workers=0))
    next(loader0)
    start = time.perf_counter()
    next(loader0)
    pipeline_s = time.perf_counter() - start
    del loader0

    step = train_step(case)
    loader = build_loader(case.data_config, sizes, group.batch_size, num_workers=p.data_workers)
    it = iter(loader)
    waits, computes = [], []
    warmup = max(p.warmup, 1)  # the first batch includes the workers' start
    for i in range(warmup + p.data_steps):
        start = time.perf_counter()
        batch = next(it)
        got = time.perf_counter()
        step(batch)
        sync(device)
        end = time.perf_counter()
        if i >= warmup:
            waits.append(got - start)
            computes.append(end - got)
    del it, loader  # stops the workers
    wait, compute = statistics.mean(waits), statistics.mean(computes)
    frac = wait / (wait + compute)
    res = dict(
        method=case.name,
        backbone=case.backbone,
        config=case.data_config,
        batch_size=group.batch_size,
        num_workers=p.data_workers,
        steps=p.data_steps,
        pipeline_s_per_batch=pipeline_s,
        data_wait_s=wait,
        compute_s=compute,
        data_fraction=frac,
        workers_needed=pipeline_s / compute,
        met=bool(frac < targets()['data_fraction']))
    log(f'  data {case_key(case):24s} wait {wait * 1e3:7.1f} ms / step {compute * 1e3:7.1f} ms '
        f'({100 * frac:4.1f}%), pipeline {pipeline_s * 1e3:7.1f} ms/batch in one process')
    return res

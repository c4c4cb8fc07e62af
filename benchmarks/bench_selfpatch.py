"""Step time and peak memory of SelfPatch vs DINO on the same batch, and SelfPatch's matching cost.

A training step is: student + teacher forward, loss, backward, AdamW step, EMA update of the teacher.
Both methods use the same ViT (``deit-tiny`` or ``deit-small``, patch 16), the same multi-crop batch
(2 global + N local crops) and the reference head sizes (65536 image / 4096 patch prototypes). Each
(arch, method) runs in its own subprocess so that peak memory (RSS on CPU, ``max_memory_allocated``
on CUDA) is its own. Target of issue 4: SelfPatch step <= 1.25 x DINO step.

    python benchmarks/bench_selfpatch.py                      # ViT-tiny and ViT-S, batch 4, CPU
    python benchmarks/bench_selfpatch.py --archs small --batch 32 --device cuda --amp
    python benchmarks/bench_selfpatch.py --reps 0 --warmup 0     # FLOP counts only (quick)

``--speed`` (issue 18) times today's SelfPatch step (``before``: fp32, ``torch.optim.AdamW`` with its CPU default
of a per-parameter loop) against ``AdamW(foreach=True)`` with the multi-tensor teacher EMA of
``DINO.momentum_update`` (same updates in fewer kernel calls; ``before`` runs the old per-parameter EMA loop) and,
with ``--amp``, also bf16 autocast, with ``--compile`` also ``torch.compile`` (inductor) of the student and teacher
ViTs (``nn.Module.compile``; the check steps' times, stored, show the compile cost), in one process: the losses
of ``--check-steps`` steps from one seed first (the bf16 drift is reported), then ``--reps`` interleaved rounds:
median ratio variant / before, its range, and each step's utilisation (counted FLOPs per second as % of a dense
fp32 matmul measured in the same process).

    python benchmarks/bench_selfpatch.py --speed --archs small --batch 4 --local-crops 2 --threads 1 --amp

Not a test: numbers depend on the machine and its load (run it on an idle machine).
"""
import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

from timing import rss_bytes, sync

ARCH_DIMS = {'tiny': ('deit-tiny', 192, 3), 'small': ('deit-small', 384, 6)}


def model_cfg(method: str, arch: str, size: int, patch_size: int = 16) -> dict:
    """Config of ``method`` ('dino' or 'selfpatch') on ViT-``arch`` with the reference heads."""
    name, dims, heads = ARCH_DIMS[arch]
    vit = dict(type='VisionTransformer', arch=name, img_size=size, patch_size=patch_size, drop_path_rate=0.1)
    head = dict(type='DINONeck', in_channels=dims, out_channels=65536)
    loss = dict(type='DINOLoss', out_channels=65536)
    if method == 'dino':
        cfg = dict(type='DINO', backbone=dict(vit, out_type='cls_token'), neck=head, loss=loss)
    else:
        cfg = dict(
            type='SelfPatch',
            backbone=dict(vit, with_cls_token=False, final_norm=False, out_type='featmap'),
            aggregator=dict(type='ClassAttentionAggregator', embed_dims=dims, num_heads=heads),
            neck=head,
            patch_neck=dict(head, out_channels=4096),
            loss=loss,
            patch_loss=dict(type='SelfPatchLoss', out_channels=4096))
    return cfg


def build(method: str, arch: str, size: int, patch_size: int = 16):
    from mmpretrain.registry import MODELS

    import mmspatial  # noqa: F401
    model = MODELS.build(model_cfg(method, arch, size, patch_size))
    model.copy_student_to_teacher()
    return model


def worker(args) -> dict:
    import torch

    from mmspatial.engine.optimizers.dino_param_groups import dino_param_groups
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    device = args.device
    model = build(args.method, args.arch, args.global_size).to(device).train()
    model.register_teacher_updater('bench_selfpatch step')  # step() updates the teacher
    optimizer = torch.optim.AdamW(dino_param_groups(model), lr=1e-4, weight_decay=0.04)
    sizes = [args.global_size] * 2 + [args.local_size] * args.local_crops
    crops = [torch.randn(args.batch, 3, s, s, device=device) for s in sizes]
    amp = torch.autocast(
        device.split(':')[0], dtype=torch.bfloat16 if device == 'cpu' else torch.float16, enabled=args.amp)

    def step():
        with amp:
            losses = model.loss(crops, None)
        loss = sum(losses.values())
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        model.momentum_update(0.996)

    rss_built = rss_bytes() / 2**20
    for _ in range(args.warmup):
        step()
    if device.startswith('cuda'):
        torch.cuda.reset_peak_memory_stats()
    times = []
    for _ in range(args.reps):
        sync(device)
        t = time.perf_counter()
        step()
        sync(device)
        times.append(time.perf_counter() - t)
    out = dict(
        method=args.method,
        arch=args.arch,
        steps=times,
        step_s=statistics.median(times) if times else float('nan'),
        rss_built_mb=rss_built,
        peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    # Matmul/attention FLOPs of one step (forward + backward): independent of the machine's load.
    from torch.utils.flop_counter import FlopCounterMode
    with FlopCounterMode(display=False) as counter:
        step()
    out['gflops'] = counter.get_total_flops() / 1e9
    if device.startswith('cuda'):
        out['peak_cuda_mb'] = torch.cuda.max_memory_allocated() / 2**20
    if args.method == 'selfpatch':
        out.update(matching_cost(model, crops, device, max(args.reps, 1), amp))
    return out


def matching_cost(model, crops, device, reps, amp) -> dict:
    """Per batch (all crops), teacher side: top-k matching, and aggregation beyond the image token."""
    import torch

    from mmspatial.models.algorithms.dino import group_by_resolution
    t = model.teacher
    with torch.no_grad(), amp:
        groups = [model.patch_tokens(t['backbone'], torch.cat(crops[s:e])) for s, e in group_by_resolution(crops)]
        match, aggregate = [], []
        for _ in range(reps):
            sync(device)
            t0 = time.perf_counter()
            matches = [model.match_neighbours(tok, grid) for tok, grid in groups]
            sync(device)
            t1 = time.perf_counter()
            for (tok, _), (nb, _) in zip(groups, matches):
                t['aggregator'].forward_neighbours(tok, nb)
            sync(device)
            t2 = time.perf_counter()
            for tok, _ in groups:
                t['aggregator'](tok)
            sync(device)
            t3 = time.perf_counter()
            match.append(t1 - t0)
            aggregate.append((t2 - t1) - (t3 - t2))
    return dict(match_s=statistics.median(match), aggregate_extra_s=statistics.median(aggregate))


def loop_momentum_update(model, momentum: float) -> None:
    """The teacher EMA as DINO.momentum_update did before issue 18 (one pair of ops per parameter)."""
    import torch
    with torch.no_grad():
        for p_t, p_s in model._param_pairs():
            p_t.mul_(momentum).add_(p_s.detach(), alpha=1 - momentum)
    model._teacher_update_due = False


def speed_variant(name: str, args):
    """Step function of one ``--speed`` variant on the SelfPatch ViT-``args.archs[0]`` model, from seed 0."""
    import torch

    from mmspatial.engine.optimizers.dino_param_groups import dino_param_groups
    torch.manual_seed(0)
    model = build('selfpatch', args.archs[0], args.global_size).to(args.device).train()
    model.register_teacher_updater('bench_selfpatch --speed')
    if 'compile' in name:  # nn.Module.compile in place: student and teacher ViTs (the bulk of the FLOPs)
        for backbone in (model.backbone, model.teacher['backbone']):
            backbone.compile()
    optimizer = torch.optim.AdamW(
        dino_param_groups(model), lr=1e-4, weight_decay=0.04, foreach=True if name != 'before' else None)
    gen = torch.Generator().manual_seed(1)
    sizes = [args.global_size] * 2 + [args.local_size] * args.local_crops
    crops = [torch.randn(args.batch, 3, s, s, generator=gen).to(args.device) for s in sizes]
    amp = torch.autocast(args.device.split(':')[0], dtype=torch.bfloat16, enabled='bf16' in name)

    def step() -> float:
        with amp:
            losses = model.loss(crops, None)
        loss = sum(losses.values())
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if name == 'before':
            loop_momentum_update(model, 0.996)
        else:
            model.momentum_update(0.996)
        return loss.item()

    return step


def bench_speed(args) -> dict:
    """Before/after SelfPatch step times (see the module docstring)."""
    import torch
    from harness.machine import count_gflops, cpu_kernels, matmul_throughput
    from timing import interleaved_times, paired_ratio
    torch.set_num_threads(args.threads)
    names = ['before', 'AdamW foreach'] + (['AdamW foreach + torch.compile'] if args.compile else [])
    names += ['AdamW foreach + bf16 autocast'] if args.amp else []
    losses, first_steps_s = {}, {}
    for name in names:  # the check steps' times show the compile cost (excluded from the ratio)
        step = speed_variant(name, args)
        losses[name], first_steps_s[name] = [], []
        for _ in range(args.check_steps):
            start = time.perf_counter()
            losses[name].append(step())
            first_steps_s[name].append(time.perf_counter() - start)
    drift = {k: max(abs(a - b) / abs(b) for a, b in zip(v, losses['before'])) for k, v in losses.items()}
    steps = {k: speed_variant(k, args) for k in names}
    mm = matmul_throughput(1536, args.device)['gflops_per_s']
    times = interleaved_times(steps, args.reps, args.warmup, args.device)
    mm = max(mm, matmul_throughput(1536, args.device)['gflops_per_s'])
    gflops = count_gflops(steps['before'])
    rows = []
    for k in names:
        med = statistics.median(times[k])
        per_round = [a / b for a, b in zip(times[k], times['before'])]
        rows.append(
            dict(
                variant=k,
                step_s=med,
                ratio=paired_ratio(times, k, 'before'),
                ratio_min=min(per_round),
                ratio_max=max(per_round),
                utilisation_pct=100 * gflops / med / mm,
                max_rel_loss_diff=drift[k],
                first_steps_s=first_steps_s[k],
                losses=losses[k]))
    crops = f'2x{args.global_size} + {args.local_crops}x{args.local_size} px'
    print(f'SelfPatch ViT-{args.archs[0]}/16 batch {args.batch}, {crops}: {gflops:.1f} GFLOP/step, '
          f'matmul peak {mm:.1f} GFLOP/s, {torch.get_num_threads()} threads')
    for r in rows:
        print(
            f'  {r["variant"]:32s} {r["step_s"]:7.3f} s/step  {r["ratio"]:.3f} x before '
            f'[{r["ratio_min"]:.2f}-{r["ratio_max"]:.2f}]  {r["utilisation_pct"]:5.1f}% of mm  '
            f'{args.check_steps}-step loss max rel diff {r["max_rel_loss_diff"]:.1e}',
            flush=True)
    return dict(
        arch=args.archs[0],
        batch=args.batch,
        crops=crops,
        threads=torch.get_num_threads(),
        device=args.device,
        **cpu_kernels(),
        reps=args.reps,
        gflops_per_step=gflops,
        matmul_gflops_per_s=mm,
        rows=rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--archs', nargs='+', default=['tiny', 'small'], choices=list(ARCH_DIMS))
    parser.add_argument('--batch', type=int, default=4)
    parser.add_argument('--local-crops', type=int, default=8)
    parser.add_argument('--global-size', type=int, default=224)
    parser.add_argument('--local-size', type=int, default=96)
    parser.add_argument('--reps', type=int, default=3, help='timed steps (0: FLOPs only)')
    parser.add_argument('--warmup', type=int, default=1)
    parser.add_argument('--threads', type=int, default=os.cpu_count())
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--amp', action='store_true', help='autocast (bf16 on CPU, fp16 on CUDA)')
    parser.add_argument('--method', choices=['dino', 'selfpatch'], help=argparse.SUPPRESS)
    parser.add_argument('--arch', choices=list(ARCH_DIMS), help=argparse.SUPPRESS)
    parser.add_argument('--speed', action='store_true', help='issue 18: SelfPatch step before vs after (see above)')
    parser.add_argument(
        '--compile', action='store_true', help='with --speed: add torch.compile of the student and teacher ViTs')
    parser.add_argument('--check-steps', type=int, default=3, help='with --speed: steps of the loss comparison')
    parser.add_argument('--json', default=None, help='with --speed: write the result here')
    args = parser.parse_args()
    if args.speed:
        res = bench_speed(args)
        if args.json:
            with open(args.json, 'w') as f:
                json.dump(res, f, indent=1)
                f.write('\n')
        return
    if args.method:  # worker subprocess
        print('RESULT ' + json.dumps(worker(args)))
        return

    results = {}
    shared = [
        f'--batch={args.batch}', f'--local-crops={args.local_crops}', f'--global-size={args.global_size}',
        f'--local-size={args.local_size}', f'--reps={args.reps}', f'--warmup={args.warmup}',
        f'--threads={args.threads}', f'--device={args.device}'
    ] + (['--amp'] if args.amp else [])
    for arch in args.archs:
        for method in ('dino', 'selfpatch'):
            cmd = [sys.executable, __file__, f'--method={method}', f'--arch={arch}'] + shared
            proc = subprocess.run(cmd, capture_output=True, text=True)
            line = [x for x in proc.stdout.splitlines() if x.startswith('RESULT ')]
            if proc.returncode or not line:
                sys.exit(f'{" ".join(cmd)} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}')
            results[arch, method] = json.loads(line[0][len('RESULT '):])
            r = results[arch, method]
            runs = ', '.join(f'{s:.3f}' for s in r['steps'])
            print(
                f'{arch:5s} {method:9s} step {r["step_s"]:.3f}s (runs {runs})'
                f'  {r["gflops"]:.1f} GFLOP  peak RSS {r["peak_rss_mb"]:.0f} MB'
                f' (after build {r["rss_built_mb"]:.0f} MB)' +
                (f'  peak CUDA {r["peak_cuda_mb"]:.0f} MB' if 'peak_cuda_mb' in r else ''),
                flush=True)

    crops = f'2x{args.global_size} + {args.local_crops}x{args.local_size} px'
    print(f'\nbatch {args.batch}, {crops}, device {args.device}, threads {args.threads}, amp {args.amp}')
    print(f'{"arch":6s}{"DINO step":>11s}{"SelfPatch":>11s}{"ratio":>8s}{"FLOP ratio":>12s}'
          f'{"mem ratio":>11s}{"match/batch":>13s}{"aggr.extra":>12s}  target <= 1.25x')
    for arch in args.archs:
        d, s = results[arch, 'dino'], results[arch, 'selfpatch']
        key = 'peak_cuda_mb' if 'peak_cuda_mb' in d else 'peak_rss_mb'
        ratio = s['step_s'] / d['step_s']
        print(f'{arch:6s}{d["step_s"]:10.3f}s{s["step_s"]:10.3f}s{ratio:7.2f}x'
              f'{s["gflops"] / d["gflops"]:11.2f}x{s[key] / d[key]:10.2f}x'
              f'{s["match_s"] * 1e3:11.1f}ms{s["aggregate_extra_s"] * 1e3:10.1f}ms  '
              f'{"met" if ratio <= 1.25 else "NOT met"}')


if __name__ == '__main__':
    main()

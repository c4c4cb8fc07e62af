"""FastScattering2D vs kymatio's torch frontend, and a ScatSimCLR step vs a SimCLR-ResNet18 step.

1. The same batch of RGB images through ``kymatio.torch.Scattering2D(J=2, L=16, max_order=2)`` (what
   the ScatSimCLR reference runs) and through mmspatial's ``FastScattering2D``; outputs are compared
   (relative error and max abs difference) and the calls interleaved so that load from other processes
   hits both alike. The median of ``--repeats`` timed calls is reported, then kymatio / ours (issue 18's
   target: >= 5) as the median of the per-round ratios with their range (the calls of a round run back
   to back, so slow load drift cancels). ``--before REV`` adds the module as committed at git revision
   REV as a third arm of the same rounds (before -> after in one process).
2. One training step (forward, backward, Adam) of ScatSimCLR-8 and of the reference's SimCLR baseline
   (ResNet-18 + 512-512-128 projection) on the same two views, same loss; ratio ScatSimCLR / SimCLR.

    python benchmarks/bench_scattering.py                      # CPU, 32 px (CIFAR) and 96 px (STL-10)
    python benchmarks/bench_scattering.py --threads 1             # single-thread ratios
    python benchmarks/bench_scattering.py --device cuda --batch-size 256
    python benchmarks/bench_scattering.py --skip-step --cpu-chunks 4,8,16,24   # CPU chunk-size sweep
    python benchmarks/bench_scattering.py --threads 1 --skip-step --before HEAD~1 --json out.json

Ratios measured in one process are what to compare across machines; absolute times depend on load.
"""
import argparse
import json
import statistics
import subprocess
import time
import types
from pathlib import Path

import torch
from mmpretrain.registry import MODELS
from timing import interleaved_medians, interleaved_times, paired_ratio

import mmspatial  # noqa: F401
from mmspatial.models.backbones.scattering import FastScattering2D


def module_at(rev: str) -> type:
    """``FastScattering2D`` as committed at git revision ``rev`` (not registered, so no name clash)."""
    root = Path(__file__).resolve().parents[1]
    src = subprocess.run(['git', 'show', f'{rev}:mmspatial/models/backbones/scattering.py'],
                         cwd=root,
                         check=True,
                         capture_output=True,
                         text=True).stdout
    module = types.ModuleType(f'scattering_at_{rev}')
    exec(compile(src.replace('@MODELS.register_module()', ''), f'scattering.py@{rev}', 'exec'), module.__dict__)
    return module.FastScattering2D


def ratio_range(times: dict, num: str, den: str) -> list:
    """[min, max] over rounds of ``times[num][i] / times[den][i]``."""
    ratios = [a / b for a, b in zip(times[num], times[den])]
    return [min(ratios), max(ratios)]


def bench_scattering(size: int, batch: int, repeats: int, device: str, L: int = 16, before=None) -> dict:
    from kymatio.torch import Scattering2D
    torch.manual_seed(0)
    x = torch.randn(batch, 3, size, size, device=device)
    start = time.perf_counter()
    kymatio = Scattering2D(J=2, shape=(size, size), L=L, max_order=2).to(device)
    build_kymatio = time.perf_counter() - start
    start = time.perf_counter()
    ours = FastScattering2D((size, size), J=2, L=L, flatten=False).to(device)
    build_ours = time.perf_counter() - start
    calls = dict(kymatio=lambda: kymatio(x), ours=lambda: ours(x))
    if before is not None:
        old = before((size, size), J=2, L=L, flatten=False).to(device)
        calls['before'] = lambda: old(x)
    with torch.no_grad():
        ref, out = kymatio(x), ours(x)
        err = float((out - ref).norm() / ref.norm())
        max_abs = float((out - ref).abs().max())
        times = interleaved_times(calls, repeats, warmup=1, device=device)
    result = dict(
        size=size,
        batch=batch,
        L=L,
        kymatio_s=statistics.median(times['kymatio']),
        ours_s=statistics.median(times['ours']),
        speedup=paired_ratio(times, 'kymatio', 'ours'),
        speedup_range=ratio_range(times, 'kymatio', 'ours'),
        rel_error=err,
        max_abs_diff=max_abs,
        ref_max_abs=float(ref.abs().max()),
        build_kymatio_s=build_kymatio,
        build_ours_s=build_ours,
        times_s=times)
    if before is not None:
        result.update(
            before_s=statistics.median(times['before']),
            speedup_before=paired_ratio(times, 'kymatio', 'before'),
            speedup_before_range=ratio_range(times, 'kymatio', 'before'),
            before_over_after=paired_ratio(times, 'before', 'ours'))
    return result


def bench_cpu_chunks(size: int, batch: int, chunks: list, repeats: int) -> dict:
    """kymatio / ours for each ``cpu_chunk`` (maps per CPU chunk), all interleaved in one loop; the
    default chunk (``_CPU_CHUNK_BYTES``) is what the module picks with ``cpu_chunk=None``."""
    from kymatio.torch import Scattering2D
    torch.manual_seed(0)
    x = torch.randn(batch, 3, size, size)
    calls = dict(kymatio=Scattering2D(J=2, shape=(size, size), L=16, max_order=2))
    calls.update({c: FastScattering2D((size, size), cpu_chunk=c) for c in chunks})
    with torch.no_grad():
        times = interleaved_times({k: (lambda m=m: m(x)) for k, m in calls.items()}, repeats, warmup=1, device='cpu')
    return {c: paired_ratio(times, 'kymatio', c) for c in chunks}


def model_cfg(kind: str, size: int) -> dict:
    """Config of ``'scatsimclr<depth>'`` (e.g. ``'scatsimclr8'``) or ``'simclr_resnet18'``."""
    if kind.startswith('scatsimclr'):
        depth = int(kind[len('scatsimclr'):])
        backbone = dict(type='ScatNet', depth=depth, input_size=(size, size))
        neck = dict(type='MoCoV2Neck', in_channels=2048, hid_channels=2048, out_channels=128, with_avg_pool=False)
    else:  # the reference's ResNetSimCLR
        backbone = dict(type='ResNet', depth=18, zero_init_residual=False)
        neck = dict(type='MoCoV2Neck', in_channels=512, hid_channels=512, out_channels=128)
    return dict(type='ScatSimCLR', backbone=backbone, neck=neck, loss=dict(type='NTXentLoss', temperature=0.5))


def build_model(kind: str, size: int, device: str) -> torch.nn.Module:
    return MODELS.build(model_cfg(kind, size)).to(device).train()


def bench_step(size: int, batch: int, repeats: int, device: str) -> dict:
    torch.manual_seed(0)
    views = [torch.randn(batch, 3, size, size, device=device) for _ in range(2)]
    steps = {}
    for kind in ('scatsimclr8', 'simclr_resnet18'):
        model = build_model(kind, size, device)
        optim = torch.optim.Adam(model.parameters(), lr=3e-4, weight_decay=1e-5)

        def step(model=model, optim=optim):
            optim.zero_grad()
            sum(model.loss(views, None).values()).backward()
            optim.step()

        steps[kind] = step
    t = interleaved_medians(steps, repeats, device=device)
    return dict(
        size=size,
        batch=batch,
        scatsimclr8_s=t['scatsimclr8'],
        simclr_resnet18_s=t['simclr_resnet18'],
        ratio=t['scatsimclr8'] / t['simclr_resnet18'])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--batch-size', type=int, default=64, help='images per scattering call at 32 px')
    parser.add_argument('--batch-size-96', type=int, default=16, help='images per scattering call at 96 px')
    parser.add_argument('--step-batch-size', type=int, default=64, help='images per view in the step')
    parser.add_argument('--repeats', type=int, default=5)
    parser.add_argument('--skip-step', action='store_true')
    parser.add_argument('--threads', type=int, help='torch CPU threads (default: torch default)')
    parser.add_argument('--cpu-chunks', help='comma-separated cpu_chunk values to sweep (CPU only)')
    parser.add_argument('--L', type=int, default=16, help='orientations (ScatSimCLR configs: 16)')
    parser.add_argument('--before', help='git revision whose FastScattering2D runs as a third arm')
    parser.add_argument('--json', help='write the scattering rows to this JSON file')
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f'torch {torch.__version__}, {torch.get_num_threads()} threads, device {args.device}\n')
    before = module_at(args.before) if args.before else None
    print('| input | batch | kymatio (s) | ours (s) | kymatio / ours [range] | rel. error | max abs diff | '
          'build kymatio / ours (s) |' + (f' kymatio / {args.before} [range] |' if before else ''))
    print('|---|---|---|---|---|---|---|---|' + ('---|' if before else ''))
    rows = []
    for size, batch in ((32, args.batch_size), (96, args.batch_size_96)):
        r = bench_scattering(size, batch, args.repeats, args.device, args.L, before)
        rows.append(r)
        lo, hi = r['speedup_range']
        line = (f"| 3x{size}x{size} | {batch} | {r['kymatio_s']:.3f} | {r['ours_s']:.3f} | "
                f"{r['speedup']:.2f}x [{lo:.2f}-{hi:.2f}] | {r['rel_error']:.1e} | {r['max_abs_diff']:.1e} | "
                f"{r['build_kymatio_s']:.2f} / {r['build_ours_s']:.2f} |")
        if before:
            lo, hi = r['speedup_before_range']
            line += f" {r['speedup_before']:.2f}x [{lo:.2f}-{hi:.2f}] |"
        print(line)
    if args.json:
        meta = dict(
            torch=torch.__version__,
            threads=torch.get_num_threads(),
            device=args.device,
            J=2,
            repeats=args.repeats,
            before=args.before)
        Path(args.json).write_text(json.dumps(dict(meta=meta, scattering=rows), indent=1) + '\n')  # end-of-file hook
    if args.cpu_chunks:
        chunks = [int(c) for c in args.cpu_chunks.split(',')]
        print('\n| input | batch | ' + ' | '.join(f'kymatio / ours, cpu_chunk={c}' for c in chunks) + ' |')
        print('|---|---|' + '---|' * len(chunks))
        for size, batch in ((32, args.batch_size), (96, args.batch_size_96)):
            default = FastScattering2D((size, size)).cpu_chunk
            r = bench_cpu_chunks(size, batch, chunks, args.repeats)
            print(f'| 3x{size}x{size} (default chunk {default}) | {batch} | ' + ' | '.join(f'{r[c]:.2f}x'
                                                                                           for c in chunks) + ' |')
    if args.skip_step:
        return
    print('\n| step (fwd+bwd+Adam), 2 views | batch | ScatSimCLR-8 (s) | SimCLR ResNet-18 (s) | ratio |')
    print('|---|---|---|---|---|')
    r = bench_step(32, args.step_batch_size, args.repeats, args.device)
    print(f"| 32 px | {r['batch']} | {r['scatsimclr8_s']:.3f} | {r['simclr_resnet18_s']:.3f} | "
          f"{r['ratio']:.2f} |")


if __name__ == '__main__':
    main()

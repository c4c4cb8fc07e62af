"""SCRL training-step time vs mmpretrain BYOL on the same batch and backbone, in one process.

Both models get the same heads (projector C-4096-256, predictor 256-4096-256), the same two 224 px
views and the same SGD step; SCRL additionally samples its box pairs, RoI-aligns them and regresses
10 boxes per image instead of one vector. Steps of the two models are interleaved so that load from
other processes hits both alike; the median of ``--steps`` timed steps (after ``--warmup``) is
reported, then SCRL / BYOL. Box generation alone (median of 50 calls) is timed at the benchmark batch
and at 256 images. SCRL runs both views through the backbone as one batch (as the reference does),
mmpretrain's BYOL one view at a time; ``--per-view`` adds an SCRL variant with per-view passes to
separate that effect from the cost of the boxes.

    python benchmarks/bench_scrl.py                       # ResNet-18 and ResNet-50, CPU
    python benchmarks/bench_scrl.py --device cuda --batch-size 64 --depths 50
    python benchmarks/bench_scrl.py --lars --depths 50    # optimiser step only: TorchLARS vs mmpretrain LARS

``--lars`` times ``optimizer.step()`` alone on the SCRL model (reference heads) with fixed gradients:
mmpretrain's ``LARS`` with the ``paramwise_cfg.custom_keys`` exclusions the SCRL configs used before
(one parameter group per parameter, two host syncs per adapted parameter) against ``TorchLARS`` with
``LARSParamGroupsConstructor`` (two groups, ``torch._foreach_*``), interleaved; the ratio is the median
over rounds of TorchLARS / mmpretrain.

``--speed`` (issue 18) times today's SCRL training step (``before``: the HEAD path, ``channels_last=False``)
against the faster variants on the same batch and TorchLARS step (the SCRL configs' optimiser): ``channels-last``
(``SCRL(channels_last=True)``), with ``--amp`` also bf16 autocast on CPU, with ``--compile`` also
``SCRL(compile_cfg=True)`` (``torch.compile`` of the backbones, projectors and predictor; the first 5
steps' times, stored, show the compile cost, which the ratio excludes). First it checks the losses of 5 steps
from one seed (fp32 variants must agree to rounding; the bf16 drift is reported), then interleaves the variants for
``--steps`` rounds and prints the median per-round ratio variant / before with its range, and each step's
utilisation (counted FLOPs per second as % of a dense fp32 matmul measured in the same process). Settings:
ResNet-18 96 px batch 16 (160 box pairs) and ResNet-50 224 px batch 4 (40 pairs); ``--json`` stores the result.

    python benchmarks/bench_scrl.py --speed --threads 1 --amp --json benchmarks/results/scrl_speed.json

Target: SCRL step <= 1.10 x BYOL step; issue 18: the SCRL step >= 20 % faster than before (ratio <= 0.8).
"""
import argparse
import json
import logging
import statistics
import time
from typing import Callable, Dict, List, Optional

import numpy as np
import torch
from mmengine.logging import MessageHub
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

import mmspatial  # noqa: F401  (registers SCRL)
from mmspatial.datasets.transforms.geometric import RandomResizedCropWithBox
from mmspatial.geometry import collect_view_geometry


def heads(in_channels: int, norm: str) -> dict:
    norm_cfg = dict(type=norm)
    return dict(
        neck=dict(
            type='NonLinearNeck',
            in_channels=in_channels,
            hid_channels=4096,
            out_channels=256,
            with_bias=True,
            with_last_bn=False,
            with_avg_pool=True,
            norm_cfg=norm_cfg),
        head=dict(
            type='LatentPredictHead',
            loss=dict(type='CosineSimilarityLoss', shift_factor=2., scale_factor=2.),
            predictor=dict(
                type='NonLinearNeck',
                in_channels=256,
                hid_channels=4096,
                out_channels=256,
                with_bias=True,
                with_last_bn=False,
                with_avg_pool=False,
                norm_cfg=norm_cfg)))


def model_cfg(kind: str, depth: int) -> dict:
    """Config of ``kind`` ('BYOL' or 'SCRL') on a ResNet-``depth`` with the reference heads."""
    in_channels = 512 if depth in (18, 34) else 2048
    backbone = dict(type='ResNet', depth=depth, norm_cfg=dict(type='BN'), zero_init_residual=False)
    cfg = dict(type=kind, backbone=backbone, **heads(in_channels, 'BN1d'))
    cfg.update(dict(base_momentum=0.01) if kind == 'BYOL' else dict(base_tau=0.99))
    return cfg


def build(kind: str, depth: int, device: str) -> torch.nn.Module:
    model = MODELS.build(model_cfg(kind, depth)).to(device).train()
    if kind == 'SCRL':
        model.set_target_schedule(10000)  # the target momentum's schedule length (a hook sets it in a Runner)
    return model


def make_batch(batch_size: int, size: int, device: str, seed: int = 0):
    """Two normalised random views plus the crop/flip geometry of real SCRL crops of 480x640 images."""
    rng = np.random.RandomState(seed)
    np.random.seed(seed)
    crop = RandomResizedCropWithBox(scale=size, crop_ratio_range=(0.2, 1.))
    samples = []
    for _ in range(batch_size):
        boxes = []
        for _ in range(2):
            top, left, h, w = crop.sample_crop(480, 640)
            boxes.append([left, top, left + w, top + h])
        s = DataSample()
        s.set_field(np.asarray(boxes, np.float32), 'view_bboxes')
        s.set_field(rng.rand(2) < 0.5, 'view_flips')
        s.set_field(np.full((2, 2), size, np.float32), 'view_shapes')
        s.set_field(np.asarray([480., 640.], np.float32), 'ori_img_shape')
        samples.append(s)
    gen = torch.Generator().manual_seed(seed)
    inputs = [torch.randn(batch_size, 3, size, size, generator=gen).to(device) for _ in range(2)]
    return inputs, samples


def step_fn(model: torch.nn.Module, inputs, samples, device: str) -> Callable[[], float]:
    optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=1e-3, momentum=0.9)

    def step() -> float:
        if device.startswith('cuda'):
            torch.cuda.synchronize()
        start = time.perf_counter()
        loss, _ = model.parse_losses(model.loss(inputs, samples))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if device.startswith('cuda'):
            torch.cuda.synchronize()
        return time.perf_counter() - start

    return step


def time_box_generation(model, samples, repeats: int = 50) -> float:
    """Median seconds per call of the box generator (includes stacking the geometry)."""
    model.box_generator(*collect_view_geometry(samples))
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        model.box_generator(*collect_view_geometry(samples))
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def per_view_passes(model: torch.nn.Module) -> torch.nn.Module:
    """Make SCRL run the backbone once per view, as mmpretrain's BYOL does (like-for-like timing)."""
    model.last_stage = lambda backbone, views: [backbone(v)[-1] for v in views]
    return model


def bench(depth: int, args) -> Dict[str, float]:
    torch.manual_seed(0)
    inputs, samples = make_batch(args.batch_size, args.size, args.device)
    models = {k: build(k, depth, args.device) for k in ('BYOL', 'SCRL')}
    if args.per_view:
        models['SCRL per-view'] = per_view_passes(build('SCRL', depth, args.device))
    steps = {k: step_fn(m, inputs, samples, args.device) for k, m in models.items()}
    times: Dict[str, List[float]] = {k: [] for k in models}
    names = list(models)
    for i in range(args.warmup + args.steps):
        for k in names[i % len(names):] + names[:i % len(names)]:  # rotate the order
            t = steps[k]()
            if i >= args.warmup:
                times[k].append(t)
    med = {k: statistics.median(v) for k, v in times.items()}
    _, big = make_batch(256, args.size, 'cpu', seed=1)
    if args.per_view:
        print(
            f'  R{depth} SCRL with one backbone pass per view: {med["SCRL per-view"]:.3f} s/step, '
            f'{med["SCRL per-view"] / med["BYOL"]:.3f} x BYOL',
            flush=True)
    return dict(
        byol=med['BYOL'],
        scrl=med['SCRL'],
        ratio=med['SCRL'] / med['BYOL'],
        boxes_batch=time_box_generation(models['SCRL'], samples),
        boxes_256=time_box_generation(models['SCRL'], big),
        num_boxes=float(models['SCRL'].box_generator(*collect_view_geometry(samples)).num_boxes))


SPEED_SETTINGS = ((18, 96, 16), (50, 224, 4))  # (depth, px, batch): 10 box pairs per image


def speed_variant(name: str, depth: int, device: str):
    """SCRL model + TorchLARS wrapper (the configs' groups) of one variant, from seed 0."""
    from mmengine.optim import build_optim_wrapper
    from mmengine.registry import DefaultScope
    torch.manual_seed(0)
    cfg = model_cfg('SCRL', depth)
    cfg['channels_last'] = name != 'before'
    cfg['compile_cfg'] = 'compile' in name  # SCRL(compile_cfg=True): backbones + projectors + predictor
    model = MODELS.build(cfg).to(device).train()
    model.set_target_schedule(10000)  # the target momentum's schedule length (a hook sets it in a Runner)
    wrapper_cfg = dict(
        type='OptimWrapper',
        constructor='LARSParamGroupsConstructor',
        optimizer=dict(type='TorchLARS', lr=0.45, momentum=0.9, weight_decay=1e-6),
        paramwise_cfg=dict(
            exclude_keywords=('bn', 'bias'),
            rename={
                'backbone.bn1.': 'encoder.1.',
                'neck.bn0.': 'projector.net.1.',
                'head.predictor.bn0.': 'net.1.'
            }))
    logging.disable(logging.WARNING)
    try:
        with DefaultScope.overwrite_default_scope('mmpretrain'):
            wrapper = build_optim_wrapper(model, wrapper_cfg)
    finally:
        logging.disable(logging.NOTSET)
    amp = torch.autocast(device.split(':')[0], dtype=torch.bfloat16, enabled='bf16' in name)

    def step(seed: Optional[int] = None) -> float:
        if seed is not None:
            torch.manual_seed(seed)  # the box sampler draws from torch's generator
        with amp:
            loss, _ = model.parse_losses(model.loss(inputs_of[depth], samples_of[depth]))
        wrapper.update_params(loss)
        return loss.item()

    return step


inputs_of: Dict[int, list] = {}
samples_of: Dict[int, list] = {}


def bench_speed(args) -> dict:
    """Before/after step times of SCRL (see the module docstring)."""
    from harness.machine import count_gflops, cpu_kernels, matmul_throughput
    from timing import interleaved_times, paired_ratio
    names = ['before', 'channels-last']
    if args.compile:
        names.append('channels-last + torch.compile')
    if args.amp:
        names.append('channels-last + bf16 autocast')
    out = dict(threads=torch.get_num_threads(), device=args.device, **cpu_kernels(), steps=args.steps, settings=[])
    for depth, size, batch in SPEED_SETTINGS:
        if depth not in args.depths:
            continue
        inputs_of[depth], samples_of[depth] = make_batch(batch, size, args.device)
        losses, first_steps_s = {}, {}
        for name in names:  # equivalence: 5 steps from the same seed (their times show the compile cost)
            step = speed_variant(name, depth, args.device)
            losses[name], first_steps_s[name] = [], []
            for i in range(5):
                start = time.perf_counter()
                losses[name].append(step(seed=i))
                first_steps_s[name].append(time.perf_counter() - start)
        ref = losses['before']
        drift = {k: max(abs(a - b) / abs(b) for a, b in zip(v, ref)) for k, v in losses.items()}
        steps = {k: speed_variant(k, depth, args.device) for k in names}
        mm = matmul_throughput(1536, args.device)['gflops_per_s']
        times = interleaved_times(steps, args.steps, args.warmup, args.device)
        mm = max(mm, matmul_throughput(1536, args.device)['gflops_per_s'])  # the peak: best of before/after
        gflops = count_gflops(steps['before'])  # the variants count the same FLOPs
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
                    max_rel_loss_diff_5_steps=drift[k],
                    first_5_steps_s=first_steps_s[k],
                    losses=losses[k]))
        setting = dict(depth=depth, size=size, batch=batch, gflops_per_step=gflops, matmul_gflops_per_s=mm, rows=rows)
        out['settings'].append(setting)
        print(f'R{depth} {size} px batch {batch}: {gflops:.1f} GFLOP/step, matmul peak {mm:.1f} GFLOP/s')
        for r in rows:
            print(
                f'  {r["variant"]:32s} {r["step_s"]:7.3f} s/step  {r["ratio"]:.3f} x before '
                f'[{r["ratio_min"]:.2f}-{r["ratio_max"]:.2f}]  {r["utilisation_pct"]:5.1f}% of mm  '
                f'5-step loss max rel diff {r["max_rel_loss_diff_5_steps"]:.1e}',
                flush=True)
    return out


def lars_wrappers(depth: int, device: str) -> Dict[str, object]:
    """mmpretrain LARS (old SCRL paramwise_cfg) and TorchLARS (reference groups) on two equal SCRL models."""
    from mmengine.optim import build_optim_wrapper
    from mmengine.registry import DefaultScope
    common = dict(lr=14.4, momentum=0.9, weight_decay=1e-6)  # the 200-epoch peak
    cfgs = {
        'mmpretrain LARS':
        dict(
            type='OptimWrapper',
            optimizer=dict(type='LARS', **common),
            paramwise_cfg=dict(
                custom_keys={
                    'bn': dict(decay_mult=0, lars_exclude=True),
                    'bias': dict(decay_mult=0, lars_exclude=True),
                    'neck.bn0.weight': dict(decay_mult=1, lars_exclude=False),
                    'predictor.bn0.weight': dict(decay_mult=1, lars_exclude=False)
                })),
        'TorchLARS':
        dict(
            type='OptimWrapper',
            constructor='LARSParamGroupsConstructor',
            optimizer=dict(type='TorchLARS', **common),
            paramwise_cfg=dict(
                exclude_keywords=('bn', 'bias'),
                rename={
                    'backbone.bn1.': 'encoder.1.',
                    'neck.bn0.': 'projector.net.1.',
                    'head.predictor.bn0.': 'net.1.'
                })),
    }
    wrappers = {}
    for name, cfg in cfgs.items():
        torch.manual_seed(0)
        model = build('SCRL', depth, device)
        gen = torch.Generator().manual_seed(1)
        for p in model.parameters():
            if p.requires_grad:
                p.grad = (torch.randn(p.shape, generator=gen) * 1e-3).to(device)
        logging.disable(logging.WARNING)  # mmengine logs every parameter's options and skipped target
        try:
            with DefaultScope.overwrite_default_scope('mmpretrain'):
                wrappers[name] = build_optim_wrapper(model, cfg)
        finally:
            logging.disable(logging.NOTSET)
    return wrappers


def bench_lars(depth: int, args) -> None:
    from timing import interleaved_times, paired_ratio
    wrappers = lars_wrappers(depth, args.device)
    groups = {k: len(w.optimizer.param_groups) for k, w in wrappers.items()}
    times = interleaved_times({k: w.optimizer.step for k, w in wrappers.items()}, args.steps, args.warmup, args.device)
    med = {k: statistics.median(v) for k, v in times.items()}
    ratio = paired_ratio(times, 'TorchLARS', 'mmpretrain LARS')
    print(
        f'R{depth} optimiser step: mmpretrain LARS {med["mmpretrain LARS"] * 1e3:.1f} ms '
        f'({groups["mmpretrain LARS"]} groups), TorchLARS {med["TorchLARS"] * 1e3:.1f} ms '
        f'({groups["TorchLARS"]} groups); TorchLARS / mmpretrain = {ratio:.3f} '
        f'(median of {args.steps} paired rounds)',
        flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--depths', type=int, nargs='+', default=[18, 50])
    parser.add_argument('--batch-size', type=int, default=8)
    parser.add_argument('--size', type=int, default=224)
    parser.add_argument('--steps', type=int, default=10)
    parser.add_argument('--warmup', type=int, default=2)
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--threads', type=int, default=None, help='torch CPU threads')
    parser.add_argument(
        '--per-view', action='store_true', help='also time SCRL with one backbone pass per view, as BYOL does')
    parser.add_argument(
        '--lars', action='store_true', help='time the optimiser step only: TorchLARS vs mmpretrain LARS')
    parser.add_argument('--speed', action='store_true', help='issue 18: SCRL step before vs after (see above)')
    parser.add_argument('--amp', action='store_true', help='with --speed: add a bf16-autocast variant')
    parser.add_argument('--compile', action='store_true', help='with --speed: add SCRL(compile_cfg=True)')
    parser.add_argument('--json', default=None, help='with --speed: write the result here')
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    MessageHub.get_current_instance().update_info('max_iters', 10000)  # BYOL's CosineEMA schedule
    if args.speed:
        res = bench_speed(args)
        if args.json:
            with open(args.json, 'w') as f:
                json.dump(res, f, indent=1)
                f.write('\n')
        return
    if args.lars:
        print(f'device={args.device} threads={torch.get_num_threads()}')
        for depth in args.depths:
            bench_lars(depth, args)
        return
    print(f'device={args.device} threads={torch.get_num_threads()} batch={args.batch_size} '
          f'size={args.size} steps={args.steps} (median after {args.warmup} warm-up)')
    print(f'{"backbone":<10}{"BYOL s/step":>13}{"SCRL s/step":>13}{"SCRL/BYOL":>11}'
          f'{"boxes/batch":>13}{"box gen ms":>12}{"box gen ms @256":>17}')
    for depth in args.depths:
        r = bench(depth, args)
        print(
            f'{"R" + str(depth):<10}{r["byol"]:>13.3f}{r["scrl"]:>13.3f}{r["ratio"]:>11.3f}'
            f'{r["num_boxes"]:>13.0f}{r["boxes_batch"] * 1e3:>12.2f}{r["boxes_256"] * 1e3:>17.2f}',
            flush=True)


if __name__ == '__main__':
    main()

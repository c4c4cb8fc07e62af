"""Scaling sweeps: step time against batch size, SCRL boxes per image, DINO/SelfPatch local crops and image
size, reusing the groups' models; a linear fit and a sentence per curve, one sentence over all."""
import statistics
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import bench_scrl
import numpy as np
from timing import interleaved_times

from .data import one_batch
from .measure import log
from .models import Group, case_key, fixed, train_step
from .settings import Profile


def linear_fit(xs: Sequence[float], ys: Sequence[float]) -> Dict[str, float]:
    """Least-squares ``y = a + b x`` with R^2, and the growth of y against the growth of x."""
    x, y = np.asarray(xs, float), np.asarray(ys, float)
    if len(x) < 2 or np.ptp(x) == 0:
        return dict(
            slope=float('nan'), intercept=float('nan'), r2=float('nan'), growth=float('nan'), x_growth=float('nan'))
    slope, intercept = np.polyfit(x, y, 1)
    resid = y - (slope * x + intercept)
    ss = float(((y - y.mean())**2).sum())
    r2 = 1 - float((resid**2).sum()) / ss if ss > 0 else 1.
    lo, hi = int(np.argmin(x)), int(np.argmax(x))
    return dict(
        slope=float(slope),
        intercept=float(intercept),
        r2=r2,
        growth=float(y[hi] / y[lo]),
        x_growth=float(x[hi] / x[lo]) if x[lo] else float('inf'))


def describe(fit: Dict[str, float], x_label: str, unit: str, xs: Sequence[float] = (), ys: Sequence[float] = ()) -> str:
    """One sentence: proportional, linear with a fixed part, flat, or bending up / down."""
    growth = f'x{fit["growth"]:.2f} time for x{fit["x_growth"]:.2f} {x_label}'
    if not np.isfinite(fit['r2']) or len(xs) < 3:
        return growth
    if fit['slope'] <= 0 or fit['growth'] < 1.05:
        return f'flat in {x_label} (fixed costs dominate at these sizes); {growth}'
    rate = f'{fit["slope"] * 1e3:.3g} ms per {unit}'
    y_max = fit['intercept'] + fit['slope'] * max(xs)
    fixed_share = fit['intercept'] / y_max if y_max > 0 else 0.
    if fit['r2'] >= 0.98:
        if abs(fixed_share) < 0.15:
            return f'linear and about proportional to {x_label} (R² {fit["r2"]:.3f}, {rate}); {growth}'
        return (f'linear in {x_label} with a fixed part (R² {fit["r2"]:.3f}, {rate}, '
                f'{fit["intercept"] * 1e3:.0f} ms fixed = {100 * fixed_share:.0f}% of the largest step); '
                f'{growth}')
    bend = np.polyfit(np.asarray(xs, float), np.asarray(ys, float), 2)[0] if len(xs) >= 3 else 0.
    shape = 'faster than linear (curves up)' if bend > 0 else 'slower than linear (curves down)'
    return f'{shape} in {x_label} (R² {fit["r2"]:.3f} for a line); {growth}'


def run_sweep(name: str,
              x_name: str,
              unit: str,
              points: List[Tuple[float, Dict[str, Callable[[], None]]]],
              p: Profile,
              device: str,
              extra: Optional[Dict[str, List[Any]]] = None) -> Dict[str, Any]:
    """Time each method at each x (interleaved within a point), fit step time against x."""
    series: Dict[str, List[Tuple[float, float]]] = {}
    for x, steps in points:
        times = interleaved_times(steps, p.sweep_steps, 1 if p.sweep_steps > 1 else 0, device)
        for method, t in times.items():
            series.setdefault(method, []).append((x, statistics.median(t)))
    curves = []
    for method, pts in series.items():
        xs, ys = [q[0] for q in pts], [q[1] for q in pts]
        fit = linear_fit(xs, ys)
        curves.append(dict(method=method, x=xs, step_s=ys, fit=fit, summary=describe(fit, x_name, unit, xs, ys)))
        log(f'  sweep {name:12s} {method:24s} ' + '  '.join(f'{x:g}: {y * 1e3:.0f} ms' for x, y in pts))
    out = dict(name=name, x_name=x_name, curves=curves)
    if extra:
        out.update(extra)
    return out


def sweeps(groups: Dict[str, Group], p: Profile, device: str) -> List[Dict[str, Any]]:
    """Step time vs batch size, SCRL boxes, local crops and image size, reusing the groups' models."""
    out = []
    r18 = groups.get('resnet18')
    vit = groups.get('vit-tiny')
    if r18 and 'batch' in p.sweeps:
        cases = [c for c in r18.cases if c.name in ('BYOL', 'SCRL')]
        points = []
        for b in p.sweeps['batch']:
            batch = one_batch(r18.batch_config, r18.sizes, b)
            points.append((b, {case_key(c): fixed(train_step(c), batch) for c in cases}))
        out.append(run_sweep('batch_size', 'batch size', 'image', points, p, device))
    if r18 and 'boxes' in p.sweeps:
        from mmspatial.geometry import collect_view_geometry
        scrl = next(c for c in r18.cases if c.name == 'SCRL')
        batch = one_batch(r18.batch_config, r18.sizes, r18.batch_size)
        samples = batch['data_samples']
        gen = scrl.model.box_generator
        default, points, actual, gen_ms = gen.num_boxes, [], [], []
        for n in p.sweeps['boxes']:

            def step(n=n, inner=fixed(train_step(scrl), batch)):
                gen.num_boxes = n  # set per call: the points are timed one after another
                inner()

            points.append((n, {case_key(scrl): step}))
            gen.num_boxes = n
            actual.append(gen(*collect_view_geometry(samples)).num_boxes / len(samples))
            gen_ms.append(bench_scrl.time_box_generation(scrl.model, samples, repeats=10) * 1e3)
        res = run_sweep('scrl_boxes', 'boxes per image', 'box/image', points, p, device,
                        dict(boxes_per_image_actual=actual, box_generation_ms=gen_ms))
        gen.num_boxes = default
        out.append(res)
    if vit and 'local_crops' in p.sweeps:
        cases = [c for c in vit.cases if c.name in ('DINO', 'SelfPatch')]
        points = []
        for n in p.sweeps['local_crops']:
            batch = one_batch(vit.batch_config, dict(vit.sizes, num_local_crops=n), p.sweep_vit_batch)
            points.append((n, {case_key(c): fixed(train_step(c), batch) for c in cases}))
        out.append(
            run_sweep('local_crops', 'local crops', 'crop', points, p, device, dict(batch_size=p.sweep_vit_batch)))
    if r18 and 'cnn_size' in p.sweeps:
        cases = [c for c in r18.cases if c.name in ('BYOL', 'SCRL')]
        points = []
        for s in p.sweeps['cnn_size']:
            batch = one_batch(r18.batch_config, dict(r18.sizes, view=s), r18.batch_size)
            points.append((s * s, {case_key(c): fixed(train_step(c), batch) for c in cases}))
        out.append(
            run_sweep('cnn_image_size', 'pixels per view', 'kpx', points, p, device,
                      dict(sizes_px=list(p.sweeps['cnn_size']))))
    if vit and 'vit_size' in p.sweeps:
        cases = [c for c in vit.cases if c.name in ('DINO', 'SelfPatch')]
        points = []
        for s in p.sweeps['vit_size']:
            sizes = dict(vit.sizes, global_crop_size=s, local_crop_size=p.vit_local_for(s))
            batch = one_batch(vit.batch_config, sizes, p.sweep_vit_batch)
            points.append((s * s, {case_key(c): fixed(train_step(c), batch) for c in cases}))
        out.append(
            run_sweep(
                'vit_image_size', 'pixels per global crop', 'kpx', points, p, device,
                dict(
                    sizes_px=list(p.sweeps['vit_size']),
                    batch_size=p.sweep_vit_batch,
                    local_sizes_px=[p.vit_local_for(s) for s in p.sweeps['vit_size']])))
    for sweep in out:  # per-kpx slopes read better than per-pixel ones
        if sweep['x_name'].startswith('pixels'):
            for c in sweep['curves']:
                c['x'] = [x / 1e3 for x in c['x']]
                c['fit'] = linear_fit(c['x'], c['step_s'])
                c['summary'] = describe(c['fit'], sweep['x_name'], 'kpx', c['x'], c['step_s'])
    return out


def scaling_summary(sweep_list: List[Dict[str, Any]]) -> str:
    """One sentence over all sweeps: which curves are linear and which are not."""
    linear, other = [], []
    for s in sweep_list:
        for c in s['curves']:
            label = f'{c["method"].split()[0]} vs {s["x_name"]}'
            (linear if c['fit']['r2'] >= 0.98 else
             other).append(f'{label} (x{c["fit"]["growth"]:.2f} for x{c["fit"]["x_growth"]:.2f})')
    text = 'In short: '
    if linear:
        text += 'step time grows linearly (R² ≥ 0.98 for a line) for ' + '; '.join(linear) + '. '
    if other:
        text += 'It does not grow linearly for ' + '; '.join(other) + \
            ' (a fixed cost dominates at these small sizes, or the curve bends; see the per-curve sentences).'
    return text

"""ScatSimCLR training step with the views per forward (reference, default) vs batched (``batched_views``).

The reference calls the model once per view; mmpretrain's SimCLR concatenates the two views into one
forward. Both variants run the same step (data preprocessor, forward, backward, Adam) on the same two
views of a ScatSimCLR-8 with the reference's 2048-2048-128 projection, interleaved in one process; the
ratio is the median of the per-round ratios per-view / batched (``timing.paired_ratio``).

    python benchmarks/bench_scatsimclr_views.py                    # CPU, 32 px, batch 64 per view
    python benchmarks/bench_scatsimclr_views.py --size 96 --batch-size 16
    python benchmarks/bench_scatsimclr_views.py --device cuda --batch-size 256
"""
import argparse
import statistics

import torch
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample
from timing import interleaved_times, paired_ratio

import mmspatial  # noqa: F401


def build(size: int, batched: bool, device: str):
    model = MODELS.build(
        dict(
            type='ScatSimCLR',
            batched_views=batched,
            backbone=dict(type='ScatNet', depth=8, input_size=(size, size)),
            neck=dict(type='MoCoV2Neck', in_channels=2048, hid_channels=2048, out_channels=128, with_avg_pool=False),
            data_preprocessor=dict(
                type='SelfSupDataPreprocessor', mean=[125.3, 123.0, 113.9], std=[63.0, 62.1, 66.7],
                to_rgb=False))).to(device)
    optim = torch.optim.Adam(model.parameters(), lr=3e-4, weight_decay=1e-5)
    return model, optim


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--size', type=int, default=32)
    parser.add_argument('--batch-size', type=int, default=64, help='images per view')
    parser.add_argument('--repeats', type=int, default=7)
    parser.add_argument('--threads', type=int, default=None)
    parser.add_argument('--device', default='cpu')
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    views = [torch.randint(0, 256, (args.batch_size, 3, args.size, args.size), dtype=torch.uint8) for _ in range(2)]
    data = dict(inputs=views, data_samples=[DataSample() for _ in range(args.batch_size)])
    steps = {}
    for name, batched in (('per_view', False), ('batched', True)):
        model, optim = build(args.size, batched, args.device)

        def step(model=model, optim=optim):
            batch = model.data_preprocessor(data, training=True)
            loss = model.loss(batch['inputs'], batch['data_samples'])['loss_contrastive']
            optim.zero_grad()
            loss.backward()
            optim.step()

        steps[name] = step
    times = interleaved_times(steps, args.repeats, warmup=1, device=args.device)
    result = dict(
        size=args.size,
        batch=args.batch_size,
        threads=torch.get_num_threads(),
        device=args.device,
        per_view_s=statistics.median(times['per_view']),
        batched_s=statistics.median(times['batched']),
        ratio=paired_ratio(times, 'per_view', 'batched'))
    print('| input | batch / view | threads | per view (s) | batched (s) | per view / batched |')
    print('|---|---|---|---|---|---|')
    print(f"| {result['size']} px | {result['batch']} | {result['threads']} | {result['per_view_s']:.3f} | "
          f"{result['batched_s']:.3f} | {result['ratio']:.2f}x |")
    return result


if __name__ == '__main__':
    main()

"""One arm of the learning-evidence protocol, in its own process: train a method for a CPU-time budget
(or take its random initialisation), then probe the backbone. Writes one JSON record per arm.

    python benchmarks/learning/arm.py --method 'cifar10_subset:SCRL' --seed 0 --budget 150 --out rec.json
    python benchmarks/learning/arm.py --method ... --arm random_init random_init_bn_recal --out a.json b.json

CPU time is ``resource.getrusage(RUSAGE_SELF)`` user + system of this process (torch on one thread,
data loading in the process: ``num_workers=0``), so the budget holds whatever else runs on the machine.
The budget counts the training loop only (data, forward, backward, optimiser, hooks); the kNN curve
evaluations made during training are timed separately and subtracted.
"""
import argparse
import json
import os
import os.path as osp
import resource
import sys
import tempfile
import time
from contextlib import contextmanager
from typing import Dict, List, Optional, Sequence

import numpy as np

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
import protocol  # noqa: E402
from protocol import ABLATION_METHOD, CIFAR_NPZ, FLOWERS, ROOT, flowers_split, method_by_key, probe_spec  # noqa: E402

sys.path.insert(0, ROOT)


def cpu_seconds() -> float:
    """User + system CPU seconds of this process and its finished children."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


# ------------------------------------------------------------------------------------------ data
def _flowers_files() -> List[str]:
    """flowers128 files in the order mmpretrain's CustomDataset lists them (sorted class folders)."""
    from mmpretrain.datasets import CustomDataset
    ds = CustomDataset(data_root=FLOWERS, with_label=True, lazy_init=False)
    return [ds.get_data_info(i)['img_path'] for i in range(len(ds))]


def probe_loaders(spec: protocol.DatasetSpec, quick: bool) -> Dict[str, dict]:
    """Dataloader configs of the probes: ``bank`` (labelled train images) and ``val`` (held-out queries).

    Same dataset classes as training (so the same channel order), a deterministic resize to the view
    size instead of the augmentation (``spec.probe_size``, see ``protocol.probe_spec``); the model's own
    data preprocessor normalises them.
    """
    dataset = spec.name
    per_class = 20 if quick else spec.bank_per_class
    if dataset == 'cifar10_subset':
        with np.load(CIFAR_NPZ) as d:
            labels = d['train_labels']
            n_val = len(d['val_labels'])
        rng = np.random.default_rng(1000)  # fixed bank, the same for every method and seed
        bank = sorted(
            int(i) for c in np.unique(labels) for i in rng.permutation(np.flatnonzero(labels == c))[:per_class])
        val = list(range(0, n_val, 20 if quick else spec.val_stride))
        pipe = [dict(type='PackInputs')]

        def mk(split, idx):
            return dict(
                type='NpzImageDataset', ann_file=CIFAR_NPZ, split=split, with_label=True, indices=idx, pipeline=pipe)

        return dict(bank=mk('train', bank), val=mk('val', val))
    train, val = flowers_split(len(_flowers_files()))
    # bank: a fixed random subset of the train split (labels are only read by the probes)
    rng = np.random.default_rng(1000)
    bank = sorted(int(i) for i in rng.permutation(np.array(train))[:per_class * 5])
    val = val[::10 if quick else spec.val_stride]
    pipe = [
        dict(type='LoadImageFromFile'),
        dict(type='ResizeWithBox', scale=spec.probe_size, interpolation='bicubic', backend='pillow'),
        dict(type='PackInputs')
    ]

    def mk(idx):
        return dict(type='CustomDataset', data_root=FLOWERS, with_label=True, indices=idx, pipeline=pipe)

    return dict(bank=mk(bank), val=mk(val))


def loader(dataset_cfg: dict, batch_size: int = 128) -> dict:
    return dict(
        batch_size=batch_size,
        num_workers=0,
        dataset=dataset_cfg,
        sampler=dict(type='DefaultSampler', shuffle=False),
        collate_fn=dict(type='default_collate'))


# ------------------------------------------------------------------------------------------ config
def apply_ablation(cfg, name: str) -> None:
    """Revert one component of the CIFAR recipe to the ScatSimCLR reference recipe (issue 14)."""
    if name == 'reference augmentation':  # the reference's ImageNet-strength views at 32 px
        views = cfg.train_dataloader.dataset.pipeline[0].transforms
        for view in views:
            view[0]['crop_ratio_range'] = (0.08, 1.)
            view[2]['transforms'][0].update(brightness=0.8, contrast=0.8, saturation=0.8, hue=0.2)
            view.append(dict(type='CV2GaussianBlur', prob=0.5))
    elif name == 'temperature 0.5':
        cfg.model.head.temperature = 0.5
    elif name == 'no BN in projector':  # fc-relu-fc (the reference's l1/l2)
        cfg.model.neck = dict(
            type='MoCoV2Neck', in_channels=512, hid_channels=512, out_channels=128, with_avg_pool=True)
    elif name == 'Adam 3e-4 constant':
        cfg.optim_wrapper = dict(type='OptimWrapper', optimizer=dict(type='Adam', lr=3e-4, weight_decay=1e-5))
        cfg.param_scheduler = [dict(type='ConstantLR', factor=1.0, by_epoch=False, begin=0, end=1)]
    else:
        raise KeyError(f'unknown ablation {name!r}')


def load_config(method, seed: int, work_dir: str, quick: bool, ablation: Optional[str] = None, amp: bool = False):
    from mmengine.config import Config
    cfg = Config.fromfile(osp.join(ROOT, method.config))
    cfg.work_dir = work_dir
    cfg.randomness = dict(seed=seed, deterministic=False)
    dl = cfg.train_dataloader
    dl.num_workers = 0  # data loading counted in this process's CPU time
    dl.persistent_workers = False
    if quick:
        dl.batch_size = 8
    if method.dataset == 'flowers128':
        train, _ = flowers_split(len(_flowers_files()))
        dl.dataset.data_root = FLOWERS
        dl.dataset.indices = train  # the val fifth is never seen in training
    else:
        dl.dataset.ann_file = CIFAR_NPZ
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=10**6)  # the budget stops it
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=10**7, save_last=False)
    cfg.default_hooks.logger = dict(type='LoggerHook', interval=10**6)
    cfg.vis_backends = [dict(type='LocalVisBackend')]
    cfg.visualizer = dict(type='UniversalVisualizer', vis_backends=cfg.vis_backends)
    cfg.log_level = 'WARNING'
    cfg.env_cfg = dict(
        cudnn_benchmark=False, mp_cfg=dict(mp_start_method='fork', opencv_num_threads=1), dist_cfg=dict(backend='gloo'))
    if ablation:
        apply_ablation(cfg, ablation)
    if amp:  # as tools/train.py --amp: bfloat16 autocast without an accelerator
        from mmspatial.engine.launch import enable_amp
        enable_amp(cfg, method.config)
    # SyncBN cannot run without a process group
    return cfg


def _revert_syncbn(model):
    from mmengine.model import revert_sync_batchnorm
    return revert_sync_batchnorm(model)


# ------------------------------------------------------------------------------------------ probes
@contextmanager
def channels_last_for_probes(backbone):
    """Run the probes with a convolutional backbone's weights in channels-last (oneDNN) layout, restored
    afterwards: the same values, measured 0.70x the CPU time of a CIFAR-stem ResNet-18 forward at batch 128
    on one AVX2 thread (training steps gained nothing, so training keeps its layout). Backbones with at most
    one convolution (a ViT's patch embedding) are left as they are."""
    import torch
    convs = [m for m in backbone.modules() if isinstance(m, torch.nn.Conv2d)]
    if len(convs) < 2 or convs[0].weight.is_contiguous(memory_format=torch.channels_last):
        yield backbone
        return
    backbone.to(memory_format=torch.channels_last)
    try:
        yield backbone
    finally:
        backbone.to(memory_format=torch.contiguous_format)


def knn_and_linear(backbone,
                   preprocessor,
                   loaders: Dict[str, dict],
                   runner,
                   quick: bool,
                   linear: bool = True) -> Dict[str, float]:
    import torch

    from mmspatial.evaluation.features import extract_features
    from mmspatial.evaluation.knn import knn_accuracy
    from mmspatial.evaluation.linear_probe import linear_probe_accuracy
    with channels_last_for_probes(backbone):
        bank_f, bank_y = extract_features(backbone, runner.build_dataloader(loader(loaders['bank'])), preprocessor)
        val_f, val_y = extract_features(backbone, runner.build_dataloader(loader(loaders['val'])), preprocessor)
    n_cls = int(max(bank_y.max(), val_y.max())) + 1
    out = {}
    for k in (20, 200):
        out[f'knn{k}'] = knn_accuracy(
            bank_f, bank_y, val_f, val_y, k=k, temperature=0.07, num_classes=n_cls, topk=(1, ))['top1']
    out['knn_queries'] = int(val_y.numel())
    out['bank'] = int(bank_y.numel())
    if linear:
        lin = linear_probe_accuracy(bank_f, bank_y, val_f, val_y, max_iter=30 if quick else 100, topk=(1, ))
        out['linear'] = lin['top1']
        out['linear_wd'] = lin['weight_decay']
    del torch
    return out


def localisation_inputs(backbone, preprocessor, loaders: Dict[str, dict], runner, spec: protocol.DatasetSpec,
                        quick: bool):
    """The localisation probe's inputs: a ``FrozenBackbone`` normalising as the model's preprocessor does and
    the (train, test) images as BGR arrays resized to the probe size.

    The probe takes BGR arrays (LoadImageFromFile's order); images of an RGB dataset are flipped to BGR here,
    and the frozen backbone flips them back if the model saw RGB. ``tests/benchmarks`` checks that it embeds
    an image exactly as ``extract_features`` (the model's own data preprocessor) does.
    """
    import mmcv

    from mmspatial.evaluation.spatial_reasoning.common import FrozenBackbone, dataset_channel_order, preprocessor_norm
    size, _, n_tr, n_te = spec.loc
    if quick:
        n_tr, n_te = 12, 6
    images = []
    for split, n in (('bank', n_tr), ('val', n_te)):
        ds = runner.build_dataloader(loader(loaders[split])).dataset
        imgs = []
        for i in range(min(n, len(ds))):
            res = ds.get_data_info(i)
            if 'img' not in res:  # files: load as the training pipeline does (BGR)
                res['img'] = mmcv.imread(res['img_path'], channel_order='bgr')
            imgs.append(res['img'])
        images.append(np.stack([mmcv.imresize(im, (size, size), interpolation='bicubic') for im in imgs]))
    data_order = dataset_channel_order(loaders['bank'])
    mean, std, converts = preprocessor_norm(preprocessor)
    seen = {'rgb': 'bgr', 'bgr': 'rgb'}[data_order] if converts else data_order  # the order the backbone saw
    if data_order == 'rgb':
        images = [im[..., ::-1].copy() for im in images]
    frozen = FrozenBackbone(name='arm', backbone=backbone, mean=mean, std=std, to_rgb=seen == 'rgb')
    return frozen, images


def localisation(backbone, preprocessor, loaders: Dict[str, dict], runner, spec: protocol.DatasetSpec, seed: int,
                 quick: bool) -> Dict[str, float]:
    """SP's position-and-scale probe (mmspatial/evaluation/spatial_reasoning/position_scale.py) on
    patches of held-out images: ridge R^2 of (dx, dy) and of the log-scale, on test images."""
    from mmspatial.evaluation.spatial_reasoning.position_scale import evaluate_position_scale
    patch = spec.loc[1]
    frozen, images = localisation_inputs(backbone, preprocessor, loaders, runner, spec, quick)
    with channels_last_for_probes(backbone):
        res = evaluate_position_scale(frozen, images[0], images[1], pairs_per_image=4, patch_size=patch, seed=seed)
    m = res['metrics']
    return dict(loc_r2_xy=0.5 * (m['dx']['r2'] + m['dy']['r2']), loc_r2_scale=m['log_scale']['r2'])


#: images the BN statistics of a ``random_init_bn_recal`` row are re-estimated on (whole training batches,
#: all their views). Until 2026-12-07 it was 20 batches: 2,560 images for the CIFAR-stem ResNet-18 (2 views
#: of 64), 7,680 for ScatNet-8 (6 views: 2 + 4 rotations) at 120 CPU-s, 1,280 for flowers (2 views of 32).
BN_RECAL_IMAGES = 1280


def recalibrate_bn(model, runner, images: int) -> int:
    """Re-estimate the backbone's BN running statistics on augmented training views (no gradients): the
    cumulative average over whole batches until at least ``images`` images were seen; returns that count."""
    import torch
    from torch.nn.modules.batchnorm import _BatchNorm
    bns = [m for m in model.backbone.modules() if isinstance(m, _BatchNorm)]
    if not bns:
        return 0
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # cumulative average over the batches
    model.backbone.train()
    seen = 0
    with torch.no_grad(), channels_last_for_probes(model.backbone):
        for batch in runner.train_dataloader:
            if seen >= images:
                break
            data = model.data_preprocessor(batch, True)
            inputs = data['inputs'] if isinstance(data['inputs'], (list, tuple)) else [data['inputs']]
            for x in inputs:
                if torch.is_tensor(x) and x.dim() == 4 and x.shape[1] == 3:
                    model.backbone(x)
                    seen += x.shape[0]
    model.backbone.eval()
    return seen


# ------------------------------------------------------------------------------------------ hooks
def budget_hook(budget_s: float, curve_points: List[float], evaluate, record: dict):
    from mmengine.hooks import Hook

    class CPUBudgetHook(Hook):
        """Stop training when the training loop has used ``budget_s`` CPU seconds; evaluate the kNN
        curve at the given fractions of the budget (their CPU time is not counted)."""
        priority = 'LOWEST'

        def before_train(self, runner):
            self.start = cpu_seconds()
            self.wall = time.perf_counter()
            self.excluded = 0.
            self.points = sorted(curve_points)

        def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
            used = cpu_seconds() - self.start - self.excluded
            if outputs is not None and 'loss' in outputs:
                loss = float(outputs['loss'].detach())
                record.setdefault('loss_first', loss)
                record['loss_last'] = loss
            while self.points and used >= self.points[0] * budget_s:
                self.points.pop(0)
                t0 = cpu_seconds()
                record['curve'].append(dict(iter=runner.iter + 1, cpu_s=round(used, 1), **evaluate(runner)))
                self.excluded += cpu_seconds() - t0
            if used >= budget_s:
                runner.train_loop.stop_training = True
                record['iterations'] = runner.iter + 1
                record['cpu_s'] = round(used, 1)
                record['wall_s'] = round(time.perf_counter() - self.wall, 1)

    return CPUBudgetHook()


def channels_last_hook():
    from mmengine.hooks import Hook

    class ChannelsLastHook(Hook):
        """Convert the model's 4-d weights to channels-last once initialised (``before_train`` runs after
        ``init_weights``, so the same seed gives the same values): convolutions then run channels-last
        (oneDNN), values unchanged; optimiser and EMA updates are in place and keep the layout."""
        priority = 'VERY_HIGH'

        def before_train(self, runner):
            import torch
            runner.model.to(memory_format=torch.channels_last)

    return ChannelsLastHook()


# ------------------------------------------------------------------------------------------ main
FLOOR_ARMS = ('random_init', 'random_init_bn_recal')
#: fractions of the budget where a --curve arm is also probed (kNN only). One point, not 1/3 and 2/3: each
#: costs a bank + query extraction (~40-80 CPU-s), and the second one took the default run past 60 min.
CURVE_POINTS = (1 / 2, )


def run(method_key: str,
        arm: str,
        seed: int,
        budget: float,
        quick: bool,
        ablation: Optional[str] = None,
        curve: bool = False,
        amp: bool = False) -> dict:
    """One arm's record (see :func:`run_arms`)."""
    return run_arms(method_key, [arm], seed, budget, quick, ablation, curve, amp)[0]


def _probe(record: dict, method, spec: protocol.DatasetSpec, backbone, pre, loaders, runner, seed: int, quick: bool,
           ablation) -> None:
    t0 = cpu_seconds()
    record.update(knn_and_linear(backbone, pre, loaders, runner, quick))
    if method.localisation and not ablation:
        record.update(localisation(backbone, pre, loaders, runner, spec, seed, quick))
    record['probe_cpu_s'] = round(cpu_seconds() - t0, 1)


def run_arms(method_key: str,
             arms: Sequence[str],
             seed: int,
             budget: float,
             quick: bool,
             ablation: Optional[str] = None,
             curve: bool = False,
             amp: bool = False) -> List[dict]:
    """Records of ``arms`` of one method and seed, in one process: ``['trained']``, or one or both floors.

    Both floors share one initialisation: BN statistics are re-estimated and probed first (the same
    augmented batches, in the same order, as a process that does only that arm), then the initial
    statistics are put back for the ``random_init`` probe. A backbone without BN (ViT) has identical weights
    in both rows, so its ``random_init_bn_recal`` row reuses the ``random_init`` probe (``probe_reused``).
    """
    arms = list(arms)
    if arms != ['trained'] and not (arms and set(arms) <= set(FLOOR_ARMS) and len(set(arms)) == len(arms)):
        raise ValueError(f'arms {arms}: expected [trained] or floors from {FLOOR_ARMS}')
    import torch
    torch.set_num_threads(1)
    from mmengine.runner import Runner

    import mmspatial  # noqa: F401
    try:  # mmcv 2.1's hue jitter under numpy 2, as tools/train.py does (an explicit opt-in)
        from mmspatial.compat import enable_numpy2_hue_fix
        enable_numpy2_hue_fix()
    except ImportError:  # older mmspatial: fixed on import
        pass
    from mmspatial.engine.hooks.knn_monitor_hook import resolve_backbone
    method = method_by_key(ABLATION_METHOD if ablation else method_key)
    trained = arms == ['trained']
    amp = amp and trained  # random-init rows never train: fp32 like the probes
    spec = probe_spec(method.dataset, method.backbone)

    def new_record(arm: str) -> dict:
        return dict(
            method=method.name if arm == 'trained' else 'random init',
            backbone=method.backbone,
            dataset=method.dataset,
            arm=arm,
            seed=seed,
            config=method.config,
            budget_cpu_s=budget if arm == 'trained' else 0,
            curve=[],
            ablation=ablation,
            amp=amp,
            probe_size=spec.probe_size)

    loaders = probe_loaders(spec, quick)
    records = {arm: new_record(arm) for arm in arms}
    with tempfile.TemporaryDirectory(prefix='mmspatial_learning_') as work_dir:
        cfg = load_config(method, seed, work_dir, quick, ablation, amp=amp)
        runner = Runner.from_cfg(cfg)
        model = runner.model
        pre = model.data_preprocessor
        backbone = lambda: resolve_backbone(model, 'online')  # noqa: E731

        def probe(rec: dict) -> None:
            _probe(rec, method, spec, backbone(), pre, loaders, runner, seed, quick, ablation)

        def evaluate(runner_):
            return {
                k: v
                for k, v in knn_and_linear(backbone(), pre, loaders, runner_, quick, linear=False).items()
                if k.startswith('knn')
            }

        t_wall, t_cpu = time.perf_counter(), cpu_seconds()
        if trained:
            record = records['trained']
            if amp:
                runner.register_hook(channels_last_hook())
            runner.register_hook(budget_hook(budget, CURVE_POINTS if curve else [], evaluate, record))
            runner.train()
            probe(record)
            record['curve'].append(
                dict(
                    iter=record.get('iterations'),
                    cpu_s=record.get('cpu_s'),
                    knn20=record['knn20'],
                    knn200=record['knn200'],
                    knn_queries=record['knn_queries']))
            return [record]
        model.init_weights()  # what Runner.train() does first
        if 'random_init' in records:
            records['random_init'].update(
                iterations=0, cpu_s=round(cpu_seconds() - t_cpu, 1), wall_s=round(time.perf_counter() - t_wall, 1))
        recal, reuse = records.get('random_init_bn_recal'), False
        if recal is not None:
            initial = {k: v.clone() for k, v in model.state_dict().items()} if 'random_init' in records else None
            t_wall, t_cpu = time.perf_counter(), cpu_seconds()
            recal['bn_recal_images'] = recalibrate_bn(model, runner, 64 if quick else BN_RECAL_IMAGES)
            recal.update(
                iterations=0, cpu_s=round(cpu_seconds() - t_cpu, 1), wall_s=round(time.perf_counter() - t_wall, 1))
            reuse = not recal['bn_recal_images'] and initial is not None  # no BN: the same weights and probe
            if not reuse:
                probe(recal)
                if initial is not None:
                    model.load_state_dict(initial)  # the initial BN statistics for the random_init row
        if 'random_init' in records:
            probe(records['random_init'])
        if reuse:
            probed = {k: v for k, v in records['random_init'].items() if k not in recal}
            recal.update(probed, probe_cpu_s=0., probe_reused='random_init')
    return [records[arm] for arm in arms]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--method', required=True, help="'<dataset>:<name>' (protocol.METHODS)")
    p.add_argument(
        '--arm',
        nargs='+',
        default=['trained'],
        choices=['trained', *FLOOR_ARMS],
        help='trained, or one or both floors (one process, one initialisation)')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument(
        '--budget',
        type=float,
        default=protocol.DEFAULT_BUDGET_CPU_S,
        help='training CPU seconds (run.py passes its own)')
    p.add_argument('--ablation', help='one of protocol.ABLATIONS (on the SimCLR cifar arm)')
    p.add_argument(
        '--curve', action='store_true', help='kNN at half the budget too (a three-point curve with init and end)')
    p.add_argument('--quick', action='store_true')
    p.add_argument(
        '--amp', action='store_true', help='train with bfloat16 autocast and channels-last weights (probes in fp32)')
    p.add_argument('--out', nargs='+', required=True, help='one record file per --arm, in the same order')
    args = p.parse_args(argv)
    if len(args.out) != len(args.arm):
        p.error(f'--out: {len(args.out)} files for {len(args.arm)} arms {args.arm}')
    if args.amp and 'trained' in args.arm:
        from run import refuse_slow_bf16
        refuse_slow_bf16()
    recs = run_arms(args.method, args.arm, args.seed, args.budget, args.quick, args.ablation, args.curve, args.amp)
    for rec, out in zip(recs, args.out):
        os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
        with open(out + '.tmp', 'w') as f:
            json.dump(rec, f, indent=1)
        os.replace(out + '.tmp', out)  # a record on disk is a finished arm
        print(json.dumps({k: v for k, v in rec.items() if k != 'curve'}))


if __name__ == '__main__':
    main()

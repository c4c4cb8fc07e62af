"""One training step of each algorithm, on 1 process x B samples or one rank's B/W slice under DDP.

Shared by ``test_ddp_equivalence.py`` (the single-process reference, in the pytest process) and
``_ddp_one_step.py`` (the ranks, under ``torch.distributed.run``). Each case is the algorithm's own demo
config (model + data pipeline), made tiny, with one change where equality cannot hold:

* **normalisation without batch statistics.** BatchNorm normalises with per-rank statistics under DDP
  (SyncBN, which would make them global, only runs on GPUs and is reverted to BN on the CPU), so
  2 x B/2 differs from 1 x B by design. The equality check therefore uses GroupNorm(1 group) in ResNet /
  ScatNet backbones and in the MLP necks, predictors and SP heads (``GN`` below; on ``(N, C)``
  features GroupNorm with one group is a LayerNorm).
* **no stochastic depth / dropout** (``drop_path_rate=0``, ``RotationHead(dropout=0)``): their random
  masks are drawn per rank.
* **SCRL boxes are drawn once** for the whole batch and each rank gets its slice (the generator samples
  from the global RNG, whose stream differs between 1 and 2 processes). The ranks get different numbers
  of boxes (``scrl``) or none at all on rank 0 (``scrl_empty_rank``): SCRL weights each rank's box
  mean by its share of the boxes, so the result must still be the 1 x B mean over all boxes.

Per-rank BatchNorm (``*_bn`` cases: the demo configs' BN in backbone, projector and predictor, as
``CPUDistributedDataParallel`` runs them after reverting SyncBN): 2 x B/2 cannot equal 1 x B. What
can be checked, and is: DDP equals the average of two 1-process steps, one on each half (weighted by
the halves' box counts for SCRL), i.e. every rank normalises with its own batch statistics, gradients
are averaged, and each rank keeps its own BN running statistics (``per_rank_reference``).

The optimiser is plain SGD with lr 1, so the update equals the (DDP-averaged) gradient; gradients are
captured right before ``optimizer.step()``.
"""
from copy import deepcopy
from pathlib import Path
from typing import Dict, Optional

import numpy as np
import torch
from mmengine.config import Config
from mmengine.dataset import default_collate
from mmengine.optim import OptimWrapper
from mmpretrain.registry import DATASETS, MODELS

ROOT = Path(__file__).resolve().parents[2]
GN = dict(type='GN', num_groups=1, requires_grad=True)
BN = dict(type='BN')
BN1D = dict(type='BN1d')  # the MLP necks' BatchNorm on (N, C) features
BATCH = 4  # global batch; 2 per rank

RESNET = dict(
    type='ResNet', depth=18, base_channels=16, stem_channels=16, norm_cfg=GN, zero_init_residual=False)  # 128-d output
RESNET_BN = dict(RESNET, norm_cfg=BN)
TINY_VIT = dict(
    arch=dict(_delete_=True, embed_dims=32, num_layers=2, num_heads=2, feedforward_channels=64),
    img_size=32,
    drop_path_rate=0.)


def _mlp(in_channels: int, out_channels: int, norm_cfg: dict = GN, **kwargs) -> dict:
    return dict(in_channels=in_channels, hid_channels=32, out_channels=out_channels, norm_cfg=norm_cfg, **kwargs)


def _dino_neck(out: int) -> dict:
    return dict(in_channels=32, hidden_channels=64, bottleneck_channels=16, out_channels=out)


BYOL_MODEL = {'backbone': RESNET, 'neck': _mlp(128, 16), 'head.predictor': _mlp(16, 16)}
BYOL_BN_MODEL = {'backbone': RESNET_BN, 'neck': _mlp(128, 16, BN1D), 'head.predictor': _mlp(16, 16, BN1D)}
DINO_MODEL = {'backbone': TINY_VIT, 'neck': _dino_neck(64), 'loss.out_channels': 64}
SP_HEAD = {'sp_head.norm_cfg': dict(type='LN'), 'sp_head.hid_channels': 32}

# name -> (config, overrides of `model.<key>`, expected to match 1 x B)
CASES: Dict[str, tuple] = {
    'byol': ('byol/byol_resnet18_1xb32-coslr-8e_demo.py', BYOL_MODEL),
    'simclr': ('byol/byol_resnet18_1xb32-coslr-8e_demo.py', None),  # mmpretrain SimCLR, built below, BYOL's two views
    'scatsimclr': ('scatsimclr/scatsimclr_scatnet8_1xb64-100e_cifar10.py', {
        'backbone.norm_cfg': GN,
        'neck.hid_channels': 64,
        'neck.out_channels': 16
    }),
    'scatsimclr_rotation': ('scatsimclr/scatsimclr-rotation_scatnet8_1xb64-100e_cifar10.py', {
        'backbone.norm_cfg': GN,
        'neck.hid_channels': 64,
        'neck.out_channels': 16,
        'pretext_head.hid_channels': (32, 16),
        'pretext_head.dropout': 0.
    }),
    'dino': ('dino/dino_vit-tiny-p8_1xb32-coslr-10e_demo.py', DINO_MODEL),
    'selfpatch': ('selfpatch/selfpatch_vit-tiny-p8_1xb32-coslr-10e_demo.py', {
        'backbone': TINY_VIT,
        'aggregator.embed_dims': 32,
        'aggregator.num_heads': 2,
        'neck': _dino_neck(64),
        'patch_neck': _dino_neck(32),
        'loss.out_channels': 64,
        'patch_loss.out_channels': 32
    }),
    'scrl': ('scrl/scrl_resnet18_1xb32-coslr-3e_demo.py', BYOL_MODEL),
    'scrl_empty_rank': ('scrl/scrl_resnet18_1xb32-coslr-3e_demo.py', BYOL_MODEL),
    'byol_bn': ('byol/byol_resnet18_1xb32-coslr-8e_demo.py', BYOL_BN_MODEL),
    'scrl_bn': ('scrl/scrl_resnet18_1xb32-coslr-3e_demo.py', BYOL_BN_MODEL),
    'byol_sp': ('sp/byol_sp_resnet18_1xb32-coslr-8e_demo.py', {
        **{
            f'host.{k}': v
            for k, v in BYOL_MODEL.items()
        },
        **SP_HEAD
    }),
    'dino_sp': ('sp/dino_sp_vit-tiny-p8_1xb32-coslr-10e_demo.py', {
        **{
            f'host.{k}': v
            for k, v in DINO_MODEL.items()
        },
        **SP_HEAD
    }),
}
# Cases with per-rank BatchNorm: compared with per_rank_reference() instead of 1 x B.
PER_RANK_BN = ('byol_bn', 'scrl_bn')
# Crop size per algorithm (DINO / SelfPatch: 32 and 16 px multi-crop; ScatSimCLR: its 32 px).
CROP = dict(byol=32, simclr=32, scrl=64)
SIMCLR_MODEL = dict(
    type='SimCLR',
    backbone=RESNET,
    neck=dict(type='NonLinearNeck', **_mlp(128, 16), num_layers=2, with_avg_pool=True),
    head=dict(type='ContrastiveHead', loss=dict(type='CrossEntropyLoss'), temperature=0.1))


def model_and_data_cfg(name: str):
    path, overrides = CASES[name]
    cfg = Config.fromfile(str(ROOT / 'configs' / path))
    if name == 'simclr':
        model = dict(SIMCLR_MODEL, data_preprocessor=cfg.model.data_preprocessor)
    else:
        cfg.merge_from_dict({f'model.{k}': v for k, v in overrides.items()})
        model = cfg.model.to_dict()
    dataset = cfg.train_dataloader.dataset.to_dict()
    if dataset['type'] != 'SyntheticScenes':  # CIFAR configs: same pipeline on the synthetic scenes
        dataset = dict(type='SyntheticScenes', img_size=(48, 64), seed=0, pipeline=dataset['pipeline'])
    dataset.update(num_images=BATCH)
    _shrink_crops(dataset['pipeline'], CROP.get(name.split('_')[0], 32))
    return model, dataset


def _shrink_crops(node, size: int) -> None:
    """Smaller crops (CPU time): ``scale`` of the geometry-aware crops and of the SP views."""
    if isinstance(node, dict):
        if node.get('type') in ('RandomResizedCropWithBox', 'SpatialPredictionViews'):
            node['scale'] = size
        if node.get('type') == 'DINOMultiCrop':  # ViT/8: 4x4 and 2x2 patches
            node.update(global_crop_size=32, local_crop_size=16)
        for value in node.values():
            _shrink_crops(value, size)
    elif isinstance(node, (list, tuple)):
        for value in node:
            _shrink_crops(value, size)


class FixedBoxes:
    """Stands in for ``SCRL.box_generator``: returns rows ``[start, end)`` of boxes drawn once."""

    def __init__(self, boxes, start: int, end: int) -> None:
        self.boxes, self.start, self.end = boxes, start, end

    def __call__(self, view1, view2, generator=None):
        b = self.boxes
        return type(b)(b.boxes1[self.start:self.end], b.boxes2[self.start:self.end], b.valid[self.start:self.end])


def _scrl_boxes(model, data: dict, name: str, world_size: int = 2):
    from mmspatial.geometry import collect_view_geometry
    geometry = collect_view_geometry(data['data_samples'])
    boxes = model.box_generator(geometry[0], geometry[1])
    valid = boxes.valid.clone()
    per_rank = valid.shape[0] // world_size
    if name == 'scrl_empty_rank':  # rank 0's images give no box at all, rank 1's keep theirs
        valid[:per_rank] = False
    else:  # different numbers of boxes per rank: the last rank keeps a third of its boxes
        block = valid[-per_rank:].flatten()
        kept = block.nonzero().flatten()
        block[kept[max(len(kept) // 3, 1):]] = False
        valid[-per_rank:] = block.view(per_rank, -1)
        counts = [int(valid[r * per_rank:(r + 1) * per_rank].sum()) for r in range(world_size)]
        assert min(counts) > 0 and len(set(counts)) == world_size, f'box counts per rank: {counts}'
    assert valid.any(), 'no SCRL box in the test batch'
    return type(boxes)(boxes.boxes1, boxes.boxes2, valid)


def prepare(name: str, path: Path) -> None:
    """Build the case (initial weights, the batch, SCRL boxes) and save it for every process."""
    from mmengine.registry import init_default_scope
    init_default_scope('mmpretrain')
    model_cfg, data_cfg = model_and_data_cfg(name)
    torch.manual_seed(0)
    np.random.seed(0)
    import random
    random.seed(0)
    model = MODELS.build(model_cfg)
    model.init_weights()
    dataset = DATASETS.build(data_cfg)
    data = default_collate([dataset[i] for i in range(BATCH)])
    boxes = _scrl_boxes(model, data, name) if name.startswith('scrl') else None
    torch.save(dict(name=name, model_cfg=model_cfg, state=model.state_dict(), data=data, boxes=boxes), path)


def _slice(data: dict, start: int, end: int) -> dict:
    inputs = data['inputs']
    inputs = [x[start:end] for x in inputs] if isinstance(inputs, list) else inputs[start:end]
    return dict(inputs=inputs, data_samples=data['data_samples'][start:end])


class RecordingOptimWrapper(OptimWrapper):
    """Remembers the loss it back-propagates (the sum of every ``loss*`` entry)."""

    def update_params(self, loss, *args, **kwargs):
        self.loss = float(loss.detach())
        return super().update_params(loss, *args, **kwargs)


def run_step(case: dict, start: int, end: int, ddp: bool = False) -> dict:
    """One ``train_step`` on rows ``[start, end)``; returns losses, gradients, parameters, buffers."""
    torch.manual_seed(1)
    model = MODELS.build(case['model_cfg'])
    model.load_state_dict(case['state'])
    model.train()
    if case['boxes'] is not None:
        model.box_generator = FixedBoxes(case['boxes'], start, end)
    module = model
    if hasattr(module, 'register_teacher_updater'):  # DINO-style: one step, no teacher update needed
        module.register_teacher_updater('run_step')
    if hasattr(module, 'set_target_schedule'):  # SCRL: SCRLTargetMomentumHook's job in a Runner
        module.set_target_schedule(1)
    if ddp:
        from mmspatial.engine.distributed import CPUDistributedDataParallel
        model = CPUDistributedDataParallel(module=model, broadcast_buffers=False, find_unused_parameters=False)
    optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=1.0)
    grads: Dict[str, torch.Tensor] = {}
    named = [(n, p) for n, p in module.named_parameters() if p.requires_grad]

    def capture(opt, args, kwargs):
        grads.update({n: p.grad.detach().clone() for n, p in named if p.grad is not None})

    optimizer.register_step_pre_hook(capture)
    optim_wrapper = RecordingOptimWrapper(optimizer)
    log_vars = model.train_step(_slice(deepcopy(case['data']), start, end), optim_wrapper)
    return dict(
        loss=optim_wrapper.loss,
        log_vars={
            k: float(v)
            for k, v in log_vars.items()
        },
        grads=grads,
        params={
            n: p.detach().clone()
            for n, p in module.named_parameters()
        },
        buffers={
            n: b.detach().clone()
            for n, b in module.named_buffers() if b.dtype.is_floating_point
        })


def per_rank_reference(case: dict, world_size: int = 2) -> dict:
    """What DDP must give with per-rank BatchNorm: 1-process steps on each rank's rows, combined.

    Gradients (and the loss) are the average over the halves, weighted for SCRL by each half's share of
    the boxes (``SCRL._global_box_weight``); parameters are the initial ones minus that gradient (SGD,
    lr 1); parameters without gradient (EMA target) are the same in every half. ``halves`` keeps the
    per-half results (the BN running statistics of rank r must be those of half r).
    """
    per_rank = BATCH // world_size
    halves = [run_step(case, r * per_rank, (r + 1) * per_rank) for r in range(world_size)]
    weights = [1.] * world_size
    if case['boxes'] is not None:
        counts = [float(case['boxes'].valid[r * per_rank:(r + 1) * per_rank].sum()) for r in range(world_size)]
        weights = [c * world_size / sum(counts) for c in counts]
    grads = {n: sum(w * h['grads'][n] for w, h in zip(weights, halves)) / world_size for n in halves[0]['grads']}
    params = {n: case['state'][n] - grads[n] if n in grads else p for n, p in halves[0]['params'].items()}
    loss = sum(w * h['loss'] for w, h in zip(weights, halves)) / world_size
    return dict(loss=loss, grads=grads, params=params, buffers=halves[0]['buffers'], halves=halves)


def relative_error(a: torch.Tensor, b: torch.Tensor, floor: float = 1e-12) -> float:
    """``||a - b|| / max(||b||, floor)``."""
    return float((a.double() - b.double()).norm() / max(float(b.double().norm()), floor))


def compare(ref: dict, ranks: list, buffers: Optional[list] = None) -> dict:
    """Largest relative differences between DDP (2 ranks) and the 1-process reference."""
    out = dict(loss=abs(np.mean([r['loss'] for r in ranks]) - ref['loss']) / max(abs(ref['loss']), 1e-8))
    # Tensors whose gradient is 0 in exact arithmetic (attention key biases: softmax ignores a constant
    # shift; a Linear bias right before BatchNorm) hold float noise only: they are compared relative to
    # 1e-3 x the largest gradient norm, i.e. noise up to 1e-7 of it (float32's epsilon) passes GRAD_TOL.
    # (1e-4 x was below float32 resolution: scrl_bn's predictor fc0.bias noise measured 1.4e-8 of it.)
    floor = 1e-3 * max(float(g.norm()) for g in ref['grads'].values())
    grad_errors = {n: relative_error(ranks[0]['grads'][n], g, floor) for n, g in ref['grads'].items()}
    out['grad_worst'] = max(grad_errors, key=grad_errors.get)
    out['grad'] = grad_errors[out['grad_worst']]
    out['missing_grads'] = sorted(set(ref['grads']) - set(ranks[0]['grads']))
    param_errors = {n: relative_error(ranks[0]['params'][n], p, 1e-3) for n, p in ref['params'].items()}
    out['param_worst'] = max(param_errors, key=param_errors.get)
    out['param'] = param_errors[out['param_worst']]
    out['ranks_differ'] = max(relative_error(ranks[1]['params'][n], p, 1e-6) for n, p in ranks[0]['params'].items())
    out['buffer'] = {n: max(relative_error(r['buffers'][n], ref['buffers'][n]) for r in ranks) for n in (buffers or [])}
    return out

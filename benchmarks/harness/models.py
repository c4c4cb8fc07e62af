"""The measured algorithms: each method on each backbone (:class:`Case`), grouped with its base on one batch
(:class:`Group`), built with the optimiser of its ``bench_*`` script and stepped as mmengine's ``train_step``."""
import copy
import os.path as osp
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence

import bench_scattering
import bench_scrl
import bench_selfpatch
import torch

from .data import data_preprocessor_of
from .settings import ROOT, Profile, targets


@dataclass
class Case:
    """One algorithm on one backbone, as measured."""
    name: str
    backbone: str
    cfg: dict
    optim: str  # 'sgd' | 'adamw' | 'adam' (what bench_scrl / bench_selfpatch / bench_scattering use)
    data_config: Optional[str] = None
    post_build: Optional[Callable[[Any], Any]] = None  # e.g. bench_scrl.per_view_passes
    model: Any = None
    optimizer: Any = None
    result: Dict[str, Any] = field(default_factory=dict)


def sp_cfg(host: dict, sp_size: int) -> dict:
    """``host`` + SP with the default head of ``configs/sp/_base_/sp.py``."""
    from mmengine.config import Config
    base = Config.fromfile(osp.join(ROOT, targets()['sp_base_config']))
    return dict(
        type='SpatialPrediction',
        host=copy.deepcopy(host),
        sp_head=base.sp_head.to_dict(),
        sp_weight=float(base.sp_weight),
        sp_probe_size=sp_size)


def build_case(case: Case, device: str) -> None:
    """Build the model (seeded) and the optimiser its bench_* script uses; stored on ``case``."""
    from mmpretrain.registry import MODELS

    from mmspatial.engine.optimizers.dino_param_groups import dino_param_groups
    from mmspatial.models.algorithms.dino import DINO
    torch.manual_seed(0)
    model = MODELS.build(copy.deepcopy(case.cfg)).to(device).train()
    if isinstance(model, DINO):
        model.copy_student_to_teacher()
    if case.post_build is not None:
        model = case.post_build(model)
    params = [p for p in model.parameters() if p.requires_grad]
    if case.optim == 'sgd':
        optimizer = torch.optim.SGD(params, lr=1e-3, momentum=0.9)
    elif case.optim == 'adamw':
        optimizer = torch.optim.AdamW(dino_param_groups(model), lr=1e-4, weight_decay=0.04)
    else:
        optimizer = torch.optim.Adam(params, lr=3e-4, weight_decay=1e-5)
    case.model, case.optimizer = model, optimizer


def train_step(case: Case) -> Callable[[dict], None]:
    """What mmengine's ``train_step`` does, plus DINO's teacher EMA (a hook after the step)."""
    from mmspatial.models.algorithms.dino import DINO
    model, optimizer = case.model, case.optimizer
    ema = isinstance(model, DINO)
    if ema:
        model.register_teacher_updater('benchmark train_step')
    if hasattr(model, 'set_target_schedule'):  # SCRL(+SP): the length SCRLTargetMomentumHook gives in a Runner
        model.set_target_schedule(10000)

    def step(batch: dict) -> None:
        data = model.data_preprocessor(batch, True)
        loss, _ = model.parse_losses(model(**data, mode='loss'))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if ema:
            model.momentum_update(0.996)

    return step


def fixed(step: Callable[[dict], None], batch: dict) -> Callable[[], None]:
    """``step`` bound to one batch (the timed steps all see the same data)."""
    return lambda: step(batch)


@dataclass
class Group:
    """Methods timed together (interleaved) on one batch."""
    name: str
    backbone: str
    batch_config: str
    sizes: Dict[str, Any]
    batch_size: int
    input_desc: str
    cases: List[Case]


def config_heads(config: str, keys: Sequence[str]) -> Dict[str, dict]:
    """The ``model.<key>`` dicts of a config (its heads), for the backbone that config ships with."""
    from mmengine.config import Config
    model = Config.fromfile(osp.join(ROOT, config)).model
    return {k: copy.deepcopy(model[k].to_dict()) for k in keys if k in model}


def with_bn1d(cfg: dict) -> dict:
    """BN1d instead of the configs' SyncBN in the BYOL/SCRL heads (one process, no process group)."""
    cfg['neck']['norm_cfg'] = dict(type='BN1d')
    cfg['head']['predictor']['norm_cfg'] = dict(type='BN1d')
    return cfg


def make_groups(p: Profile) -> List[Group]:
    """The default set: every algorithm on its backbones, with its base in the same group.

    Heads are those of the config each backbone ships in: the demo configs' lighter heads for ResNet-18
    and ViT-tiny (``configs/{byol,scrl}/*_r18_demo.py``, ``configs/{dino,selfpatch}/*tiny-p8_demo.py``),
    the reference heads (``bench_scrl`` / ``bench_selfpatch``) for ResNet-50 and ViT-S.
    """
    data_configs, batch_configs = targets()['data_configs'], targets()['batch_configs']
    pre_scenes = data_preprocessor_of(batch_configs['cnn'])
    pre_cifar = data_preprocessor_of(data_configs['ScatSimCLR'])
    groups = []
    for depth in (18, 50):
        if f'resnet{depth}' not in p.groups:
            continue
        size, batch_size = (p.cnn_size, p.cnn_batch) if depth == 18 else (p.r50_size, p.r50_batch)
        sp_size = p.sp_for(size)
        min_box = max(8, round(32 * size / 224 / 8) * 8)
        byol = dict(bench_scrl.model_cfg('BYOL', depth), data_preprocessor=pre_scenes)
        scrl = dict(bench_scrl.model_cfg('SCRL', depth), data_preprocessor=pre_scenes)
        # Boxes at least min_size px in the canonical frame: 32 px at 224 (reference), 16 at 96 (demo).
        scrl['box_generator'] = dict(min_size=min_box)
        if depth == 18:
            byol.update(config_heads(data_configs['BYOL'], ('neck', 'head')))
            scrl.update(config_heads(data_configs['SCRL'], ('neck', 'head', 'box_generator')))
            byol, scrl = with_bn1d(byol), with_bn1d(scrl)
            scrl['box_generator']['min_size'] = min_box
        bb = f'ResNet-{depth}'
        cases = [
            Case('BYOL', bb, byol, 'sgd', data_configs['BYOL']),
            Case('SCRL', bb, scrl, 'sgd', data_configs['SCRL'])
        ]
        if depth == 18 and p.mode != 'smoke':
            # Like-for-like with mmpretrain's BYOL (one backbone call per view): separates the cost of
            # the boxes from that of batching both views in one call, as SCRL's reference does.
            cases.append(Case('SCRL (per-view)', bb, scrl, 'sgd', None, bench_scrl.per_view_passes))
        if depth == 18 or p.mode == 'smoke':
            cases += [
                Case('BYOL+SP', bb, sp_cfg(byol, sp_size), 'sgd', data_configs['BYOL+SP']),
                Case('SCRL+SP', bb, sp_cfg(scrl, sp_size), 'sgd', data_configs['SCRL+SP'])
            ]
        if p.mode == 'smoke':
            cases = cases[:2]
        desc = f'2 x {size} px' + (f' (SP: 2 x {sp_size} px)' if len(cases) > 2 else '')
        groups.append(
            Group(f'resnet{depth}', bb, batch_configs['cnn'], dict(view=size, sp=sp_size), batch_size, desc, cases))
    for arch in ('tiny', 'small'):
        if f'vit-{arch}' not in p.groups:
            continue
        dino = dict(bench_selfpatch.model_cfg('dino', arch, p.vit_global, p.vit_patch), data_preprocessor=pre_scenes)
        selfpatch = dict(
            bench_selfpatch.model_cfg('selfpatch', arch, p.vit_global, p.vit_patch), data_preprocessor=pre_scenes)
        if arch == 'tiny':
            dino.update(config_heads(data_configs['DINO'], ('neck', 'loss')))
            selfpatch.update(config_heads(data_configs['SelfPatch'], ('neck', 'patch_neck', 'loss', 'patch_loss')))
        bb = f'ViT-{arch}/{p.vit_patch}'
        cases = [
            Case('DINO', bb, dino, 'adamw', data_configs['DINO']),
            Case('SelfPatch', bb, selfpatch, 'adamw', data_configs['SelfPatch'])
        ]
        if arch == 'tiny':
            cases.append(Case('DINO+SP', bb, sp_cfg(dino, p.vit_local), 'adamw', data_configs['DINO+SP']))
        sizes = dict(
            global_crop_size=p.vit_global, local_crop_size=p.vit_local, num_local_crops=p.vit_locals, sp=p.vit_local)
        desc = f'2 x {p.vit_global} px + {p.vit_locals} x {p.vit_local} px (SP: 2 x {p.vit_local} px)'
        groups.append(Group(f'vit-{arch}', bb, batch_configs['vit'], sizes, p.vit_batch[arch], desc, cases))
    if 'scatnet' in p.groups:
        kinds = [('SimCLR', 'simclr_resnet18', 'ResNet-18'), ('ScatSimCLR', 'scatsimclr8', 'ScatNet-8')]
        if p.mode != 'quick':
            kinds.append(('ScatSimCLR', 'scatsimclr16', 'ScatNet-16'))
        cases = [
            Case(name, bb, dict(bench_scattering.model_cfg(kind, p.scat_size), data_preprocessor=pre_cifar), 'adam',
                 data_configs[name]) for name, kind, bb in kinds
        ]
        groups.append(
            Group('scatnet', 'ScatNet / ResNet-18', data_configs['ScatSimCLR'], dict(scat=p.scat_size), p.scat_batch,
                  f'2 x {p.scat_size} px', cases))
    return groups


def case_key(case: Case) -> str:
    """Unique label of a case, e.g. ``'SCRL ResNet-18'``."""
    return f'{case.name} {case.backbone}'

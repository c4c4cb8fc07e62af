"""What the learning-evidence protocol runs (issue 14): datasets, probe splits, methods, arms.

Every method is a config of the project (training recipe, views, preprocessor); this file only says
which configs form the comparison, on which data, and how the probes see the data. The probes read the
images through the *same dataset class* and the *same data preprocessor* as training (channel order and
normalisation decided once, by the dataset and its config), only with a deterministic resize instead of
the augmented views.
"""
import os
import os.path as osp
from dataclasses import dataclass, field, replace
from typing import Dict, List, Optional, Tuple

ROOT = osp.abspath(osp.join(osp.dirname(__file__), '..', '..'))
SHARED_DATA = os.environ.get('MMSPATIAL_SHARED_DATA', osp.join(ROOT, '..', 'shared', 'data'))
CIFAR_NPZ = osp.join(SHARED_DATA, 'cifar10_subset', 'cifar10_subset.npz')
FLOWERS = osp.join(SHARED_DATA, 'flowers128')
#: training CPU seconds per arm of the default run (sized for issue 14's 60-minute envelope on 2 cores)
DEFAULT_BUDGET_CPU_S = 90.


@dataclass(frozen=True)
class DatasetSpec:
    """A dataset of the protocol: where training reads and what the probes use as bank and queries."""
    name: str
    probe_size: int  # the probes' deterministic resize (the training view size)
    bank_per_class: int  # kNN bank / linear-probe train set: this many train images per class
    val_stride: int = 1  # queries: every val_stride-th val image
    #: localisation probe: image size, patch size, train / test images
    loc: Tuple[int, int, int, int] = (32, 16, 200, 100)

    def available(self) -> bool:
        return osp.isfile(CIFAR_NPZ) if self.name == 'cifar10_subset' else osp.isdir(FLOWERS)


DATASETS: Dict[str, DatasetSpec] = {
    # CPU-bound choices: 1,000 queries give a kNN standard error of about 1.5 points at 35 % accuracy
    'cifar10_subset':
    DatasetSpec('cifar10_subset', probe_size=32, bank_per_class=100, val_stride=2, loc=(32, 16, 150, 100)),
    'flowers128': DatasetSpec('flowers128', probe_size=96, bank_per_class=120, loc=(96, 48, 150, 100)),
}

#: Backbones that train on another view size than their dataset's default are probed at their own: the
#: ViT-tiny/8 arms train on 64-px global crops (until 2026-12-07 they were probed at 96 px with
#: interpolated position embeddings, 2.6x the CPU time of a 64-px forward; see notes.md).
BACKBONE_PROBES: Dict[Tuple[str, str], Dict] = {
    ('flowers128', 'ViT-tiny/8'): dict(probe_size=64, loc=(64, 32, 150, 100)),
}


def probe_spec(dataset: str, backbone: Optional[str] = None) -> DatasetSpec:
    """The probes' view of ``dataset`` for ``backbone``: the dataset's spec with the backbone's sizes."""
    return replace(DATASETS[dataset], **BACKBONE_PROBES.get((dataset, backbone), {}))


@dataclass(frozen=True)
class MethodSpec:
    """One method of the comparison."""
    name: str
    config: str  # relative to the project root
    backbone: str  # backbone label; random-init rows are per (backbone, dataset)
    dataset: str
    family: str  # 'simclr' / 'byol' / 'dino': the non-spatial base it is compared with
    base: bool = False  # mmpretrain's (or our DINO's) implementation of the family's base
    localisation: bool = False  # run the localisation-flavoured probe
    extra: Dict = field(default_factory=dict)


METHODS: List[MethodSpec] = [
    # cifar10_subset, 32 px, CIFAR-stem ResNet-18 (ScatNet-8 for ScatSimCLR)
    MethodSpec(
        'SimCLR (mmpretrain)',
        'configs/simclr/simclr_resnet18-cifar_1xb64-cpu_cifar10-subset.py',
        'ResNet-18 (CIFAR stem)',
        'cifar10_subset',
        'simclr',
        base=True),
    MethodSpec(
        'BYOL (mmpretrain)',
        'configs/byol/byol_resnet18-cifar_1xb64-cpu_cifar10-subset.py',
        'ResNet-18 (CIFAR stem)',
        'cifar10_subset',
        'byol',
        base=True,
        localisation=True),
    MethodSpec(
        'SCRL',
        'configs/scrl/scrl_resnet18-cifar_1xb64-cpu_cifar10-subset.py',
        'ResNet-18 (CIFAR stem)',
        'cifar10_subset',
        'byol',
        localisation=True),
    MethodSpec(
        'BYOL+SP',
        'configs/sp/byol_sp_resnet18-cifar_1xb64-cpu_cifar10-subset.py',
        'ResNet-18 (CIFAR stem)',
        'cifar10_subset',
        'byol',
        localisation=True),
    MethodSpec('ScatSimCLR-8 +rotation', 'configs/scatsimclr/scatsimclr-rotation_scatnet8_1xb64-cpu_cifar10-subset.py',
               'ScatNet-8', 'cifar10_subset', 'simclr'),
    # flowers128, 96-px ResNet-18 and 64-px ViT-tiny/8
    MethodSpec(
        'BYOL (mmpretrain)',
        'configs/sp/byol_r18_1xb32-cpu_flowers128.py',
        'ResNet-18',
        'flowers128',
        'byol',
        base=True,
        localisation=True),
    MethodSpec(
        'SCRL',
        'configs/scrl/scrl_resnet18_1xb32-cpu_flowers128.py',
        'ResNet-18',
        'flowers128',
        'byol',
        localisation=True),
    MethodSpec(
        'BYOL+SP',
        'configs/sp/byol_sp_r18_1xb32-cpu_flowers128.py',
        'ResNet-18',
        'flowers128',
        'byol',
        localisation=True),
    MethodSpec(
        'DINO',
        'configs/dino/dino_vit-tiny-p8_1xb32-cpu_flowers128.py',
        'ViT-tiny/8',
        'flowers128',
        'dino',
        base=True,
        localisation=True),
    MethodSpec(
        'SelfPatch',
        'configs/selfpatch/selfpatch_vit-tiny-p8_1xb32-cpu_flowers128.py',
        'ViT-tiny/8',
        'flowers128',
        'dino',
        localisation=True),
    MethodSpec(
        'DINO+SP',
        'configs/sp/dino_sp_vit-tiny-p8_1xb32-cpu_flowers128.py',
        'ViT-tiny/8',
        'flowers128',
        'dino',
        localisation=True),
]

#: The ablation of the CIFAR recipe (issue 14 section 1): the mmpretrain SimCLR cifar arm with one
#: component reverted to the ScatSimCLR reference recipe at a time (applied in ``arm.apply_ablation``).
ABLATION_METHOD = 'cifar10_subset:SimCLR (mmpretrain)'
ABLATIONS = ('reference augmentation', 'temperature 0.5', 'no BN in projector', 'Adam 3e-4 constant')


def method_by_key(key: str) -> MethodSpec:
    for m in METHODS:
        if method_key(m) == key:
            return m
    raise KeyError(f'no method {key!r}; known: {[method_key(m) for m in METHODS]}')


def method_key(m: MethodSpec) -> str:
    return f'{m.dataset}:{m.name}'


def floor_configs() -> Dict[Tuple[str, str], str]:
    """One config per (dataset, backbone) for the random-init rows: the base method's if there is one."""
    out: Dict[Tuple[str, str], str] = {}
    for m in sorted(METHODS, key=lambda m: not m.base):
        out.setdefault((m.dataset, m.backbone), m.config)
    return out


def flowers_split(n: int) -> Tuple[List[int], List[int]]:
    """Train / val indices of flowers128 (sorted file order): every 5th image is val (20 %, spread over
    all classes because the files are sorted by class folder; no label is read)."""
    val = [i for i in range(n) if i % 5 == 0]
    train = [i for i in range(n) if i % 5 != 0]
    return train, val


def seeds_for(num: int) -> List[int]:
    return list(range(num))


def dataset_for(name: str) -> Optional[DatasetSpec]:
    return DATASETS.get(name)

"""Settings of a benchmark run: the :class:`Profile` of sizes and step counts, and the data files beside this
module (``targets.yaml``: targets of issues 10 and 18, pairs, data configs; ``notes.yaml``: fixes made after
profiling)."""
import os.path as osp
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Dict, List, Sequence

import yaml

HERE = osp.dirname(osp.abspath(__file__))
ROOT = osp.dirname(osp.dirname(HERE))  # project root: config paths in targets.yaml are relative to it
SCHEMA_VERSION = 1
MiB = 2**20


@lru_cache(maxsize=None)
def targets() -> Dict[str, Any]:
    """``targets.yaml``: ``step_time_ratio``, ``speed_ratio``, ``data_fraction``, ``pairs``, ``data_configs``,
    ``batch_configs``, ``sp_base_config``."""
    with open(osp.join(HERE, 'targets.yaml'), encoding='utf-8') as f:
        data = yaml.safe_load(f)
    missing = {
        'step_time_ratio', 'speed_ratio', 'data_fraction', 'pairs', 'data_configs', 'batch_configs', 'sp_base_config'
    } - set(data)
    if missing:
        raise KeyError(f'{osp.join(HERE, "targets.yaml")} lacks the keys {sorted(missing)}')
    return data


def notes() -> List[str]:
    """``notes.yaml``: one paragraph per fix made after profiling, rendered at the end of the report."""
    with open(osp.join(HERE, 'notes.yaml'), encoding='utf-8') as f:
        return list(yaml.safe_load(f) or [])


# ----------------------------------------------------------------------------------------------------
# settings
@dataclass
class Profile:
    """Sizes, batches and step counts of one run (see :func:`make_profile`)."""
    mode: str
    cnn_size: int  # ResNet-18 views (BYOL / SCRL), px
    cnn_batch: int
    r50_size: int  # ResNet-50 views, px
    r50_batch: int
    vit_patch: int
    vit_global: int  # DINO / SelfPatch global crops, px
    vit_local: int  # local crops, px
    vit_locals: int  # local crops per image
    vit_batch: Dict[str, int]  # per ViT arch
    scat_size: int  # ScatSimCLR / SimCLR views, px (ScatNet is built for it)
    scat_batch: int
    steps: int  # timed steps per method (median reported)
    warmup: int
    data_steps: int  # timed iterations of the data-loading loop
    data_workers: int
    sweep_steps: int
    groups: Sequence[str]
    sweeps: Dict[str, Sequence[int]]  # sweep name -> x values
    sweep_vit_batch: int
    matmul_n: int
    scattering: bool  # FastScattering2D vs kymatio
    profile_misses: bool

    @staticmethod
    def sp_for(size: int) -> int:
        """SP view size for a CNN host: DINO's local/global ratio (96 / 224), rounded to 8 px."""
        return max(16, int(round(size * 96 / 224 / 8)) * 8)

    def vit_local_for(self, global_size: int) -> int:
        """Local-crop size keeping this profile's local/global ratio, a multiple of the patch."""
        p = self.vit_patch
        return max(p, int(round(global_size * self.vit_local / self.vit_global / p)) * p)


def make_profile(device: str, quick: bool, smoke: bool) -> Profile:
    """Default settings: small on CPU (2-core budget of < 10 min), reference sizes on CUDA."""
    # Each setting as (smoke: tests; CUDA: reference sizes; CPU: 2 shared cores, small batches, ResNet-50 at 64 px,
    # ViT-S at batch 2, see the report).
    table = dict(
        cnn_size=(32, 224, 96),
        cnn_batch=(2, 64, 4),
        r50_size=(32, 224, 64),
        r50_batch=(2, 64, 4),
        vit_patch=(8, 16, 8),
        vit_global=(32, 224, 64),
        vit_local=(16, 96, 32),
        vit_locals=(2, 8, 2),
        vit_batch=(dict(tiny=2, small=2), dict(tiny=64, small=64), dict(tiny=4, small=2)),
        scat_size=(32, 96, 32),
        scat_batch=(4, 128, 16),
        steps=(2, 20, 10),
        warmup=(0, 5, 1),
        data_steps=(2, 10, 4),
        sweep_steps=(1, 10, 6),
        sweep_vit_batch=(2, 32, 2),
        matmul_n=(256, 8192, 1536),
        sweeps=(dict(batch=(2, 4)),
                dict(
                    batch=(32, 64, 128),
                    boxes=(1, 5, 10, 20),
                    local_crops=(2, 6, 10),
                    cnn_size=(128, 160, 224),
                    vit_size=(128, 160, 224)),
                dict(
                    batch=(2, 4, 8),
                    boxes=(1, 5, 10, 20),
                    local_crops=(2, 4, 6),
                    cnn_size=(64, 96, 128),
                    vit_size=(48, 64, 96))))
    column = 0 if smoke else 1 if device.startswith('cuda') else 2
    p = Profile(
        mode='smoke' if smoke else 'default',
        data_workers=2,
        groups=('resnet18', ) if smoke else ('resnet18', 'resnet50', 'vit-tiny', 'vit-small', 'scatnet'),
        scattering=not smoke,
        profile_misses=not smoke,
        **{
            k: values[column]
            for k, values in table.items()
        })
    if smoke:
        return p
    if quick:
        p.mode = 'quick'
        p.steps, p.warmup, p.data_steps, p.sweep_steps = 6, 1, 3, 3
        p.groups = ('resnet18', 'vit-tiny', 'scatnet')
        p.sweeps = {k: v[:3] for k, v in p.sweeps.items()}
        p.scattering = False
    return p

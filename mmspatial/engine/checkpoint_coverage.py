"""Which backbone weights really came from the pretrained checkpoint.

mmengine's ``init_cfg=dict(type='Pretrained', ...)`` loads with ``strict=False``: missing or renamed
keys are only logged, and a mis-prefixed checkpoint silently trains from scratch (OPENMMLAB.md §2.2,
pitfalls 4-5; mmselfsup#89: 27.0 vs 40.3 AP). :func:`coverage_report` compares a module after
initialisation with the state dict its ``init_cfg`` points to, with ``PretrainedInit``'s prefix rules
(:func:`load_init_state_dict`), and :class:`CoverageReport` says what was loaded, what was not and which
checkpoint keys were unused. ``CheckpointCoverageHook`` runs it before training;
``tools/model_converters/check_coverage.py`` runs it from the command line.
"""
import fnmatch
import re
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import torch
from torch import Tensor, nn

from mmspatial.models.utils.checkpoint_convert import (ONLINE_PREFIXES, TARGET_PREFIXES, detect_arch, get_state_dict,
                                                       top_level_prefixes)

# Keys that a module resizes in its own load hook (mmpretrain ViT interpolates pos_embed): a shape
# difference there is expected and the values cannot be compared.
DEFAULT_RESIZABLE = ('pos_embed', )


def find_pretrained_init(init_cfg) -> Optional[dict]:
    """The ``type='Pretrained'`` entry of a module's ``init_cfg`` (dict or list), or None."""
    cfgs = init_cfg if isinstance(init_cfg, (list, tuple)) else [init_cfg]
    for cfg in cfgs:
        if isinstance(cfg, Mapping) and cfg.get('type') in ('Pretrained', 'PretrainedInit'):
            return dict(cfg)
    return None


def load_init_state_dict(checkpoint: str, prefix: Optional[str] = None, map_location: str = 'cpu') -> Dict[str, Tensor]:
    """The state dict ``PretrainedInit(checkpoint, prefix)`` would load, without asserting.

    Without prefix mmengine strips a leading ``module.``; with prefix it keeps the keys starting with
    it (``'.'`` appended when absent) and removes it.
    """
    from mmengine.runner.checkpoint import _load_checkpoint
    state = get_state_dict(_load_checkpoint(checkpoint, map_location=map_location), checkpoint)
    if prefix is None:
        return OrderedDict((re.sub(r'^module\.', '', k), v) for k, v in state.items())
    if not prefix.endswith('.'):
        prefix += '.'
    return OrderedDict((k[len(prefix):], v) for k, v in state.items() if k.startswith(prefix))


def _match_any(key: str, patterns: Sequence[str]) -> bool:
    return any(fnmatch.fnmatchcase(key, p) or key == p for p in patterns)


@dataclass
class CoverageReport:
    """Outcome of :func:`coverage_report` (all key lists are module-relative)."""
    module_name: str
    checkpoint: str
    prefix: Optional[str]
    loaded: List[str] = field(default_factory=list)
    resized: List[str] = field(default_factory=list)
    missing: List[str] = field(default_factory=list)
    shape_mismatch: List[Tuple[str, tuple, tuple]] = field(default_factory=list)
    value_mismatch: List[str] = field(default_factory=list)
    tolerated: List[str] = field(default_factory=list)
    unused: List[str] = field(default_factory=list)
    checkpoint_prefixes: List[str] = field(default_factory=list)
    checkpoint_arch: Optional[str] = None

    @property
    def not_loaded(self) -> List[str]:
        return self.missing + [k for k, _, _ in self.shape_mismatch] + self.value_mismatch

    @property
    def complete(self) -> bool:
        return not self.not_loaded

    @property
    def total(self) -> int:
        return len(self.loaded) + len(self.resized) + len(self.not_loaded) + len(self.tolerated)

    def hints(self) -> List[str]:
        hints = []
        if self.total and not self.loaded and not self.resized:
            known = [p for p in ONLINE_PREFIXES + TARGET_PREFIXES if p in self.checkpoint_prefixes]
            if known and not self.prefix:
                hints.append(f'the checkpoint is a full pretraining checkpoint (keys start with {known}): '
                             'extract the backbone with tools/model_converters/extract_backbone.py, or set '
                             f"init_cfg.prefix='{known[0]}'")
            elif self.prefix:
                hints.append(f'prefix {self.prefix!r}: after removing it the keys do not match the '
                             'module; check the prefix (an extracted backbone needs no prefix)')
        if self.checkpoint_arch == 'vit-mmseg':
            hints.append("the checkpoint has mmseg's ViT layout (attn.attn.in_proj_*) but the module "
                         "does not: use type='VisionTransformer' (mmseg) or re-extract with "
                         '--vit-layout mmpretrain')
        elif self.checkpoint_arch == 'vit' and any('in_proj' in k for k in self.missing):
            hints.append("the module is mmseg's ViT but the checkpoint has mmpretrain's layout: use "
                         "type='mmpretrain.VisionTransformer' or extract with --vit-layout mmseg")
        if self.value_mismatch:
            hints.append('keys were present with the right shapes but the weights differ after '
                         'initialisation: something re-initialised them after loading (init order, '
                         'a second init_cfg, load_from)')
        return hints

    def format(self, max_keys: int = 20) -> str:

        def block(title: str, keys: Sequence) -> List[str]:
            if not keys:
                return []
            lines = [f'  {title}: {len(keys)}']
            for k in list(keys)[:max_keys]:
                lines.append(f'    {k if isinstance(k, str) else f"{k[0]}: model {k[1]} vs ckpt {k[2]}"}')
            if len(keys) > max_keys:
                lines.append(f'    ... and {len(keys) - max_keys} more')
            return lines

        status = 'COMPLETE' if self.complete else 'INCOMPLETE'
        lines = [
            f'checkpoint coverage of `{self.module_name}` from {self.checkpoint} '
            f'(prefix {self.prefix!r}): {status}',
            f'  loaded from the checkpoint: {len(self.loaded) + len(self.resized)}/{self.total}'
            ' state_dict entries'
        ]
        lines += block('loaded after resizing (module load hook)', self.resized)
        lines += block('NOT LOADED - missing from the checkpoint', self.missing)
        lines += block('NOT LOADED - shape mismatch', self.shape_mismatch)
        lines += block('NOT LOADED - present but the weights differ after init', self.value_mismatch)
        lines += block('not in the checkpoint, tolerated (allow_missing)', self.tolerated)
        lines += block('unused checkpoint keys', self.unused)
        lines += [f'  hint: {h}' for h in self.hints()]
        return '\n'.join(lines)


def coverage_report(module: nn.Module,
                    state: Mapping[str, Tensor],
                    *,
                    module_name: str = 'backbone',
                    checkpoint: str = '?',
                    prefix: Optional[str] = None,
                    check_values: bool = True,
                    allow_missing: Sequence[str] = (),
                    resizable: Sequence[str] = DEFAULT_RESIZABLE) -> CoverageReport:
    """Compare an initialised module with the state dict it should have been loaded from.

    Args:
        module: the module after ``init_weights()`` (e.g. a detector's backbone).
        state: module-relative checkpoint state dict (:func:`load_init_state_dict`).
        check_values: also require equal values (catches weights loaded and then re-initialised).
        allow_missing: fnmatch patterns of module keys that may legitimately be absent.
        resizable: keys the module resizes while loading; a shape difference there counts as loaded.
    """
    report = CoverageReport(
        module_name=module_name,
        checkpoint=checkpoint,
        prefix=prefix,
        checkpoint_arch=detect_arch(state, strict=False) if state else None)
    own = module.state_dict()
    for key, value in own.items():
        if key not in state:
            (report.tolerated if _match_any(key, allow_missing) else report.missing).append(key)
            continue
        ref = state[key]
        if tuple(ref.shape) != tuple(value.shape):
            if _match_any(key, resizable):
                report.resized.append(key)
            else:
                report.shape_mismatch.append((key, tuple(value.shape), tuple(ref.shape)))
            continue
        if check_values and not torch.equal(value.detach().cpu(), ref.detach().cpu().to(value.dtype)):
            report.value_mismatch.append(key)
            continue
        report.loaded.append(key)
    report.unused = [k for k in state if k not in own]
    return report


def report_for_init_cfg(module: nn.Module, module_name: str = 'backbone', **kwargs) -> Optional[CoverageReport]:
    """:func:`coverage_report` against the checkpoint of ``module.init_cfg`` (None if it has none)."""
    init = find_pretrained_init(getattr(module, 'init_cfg', None))
    if init is None:
        return None
    checkpoint, prefix = init.get('checkpoint'), init.get('prefix')
    if not checkpoint:
        raise ValueError(f'{module_name}.init_cfg has type Pretrained but no checkpoint: {init}')
    state = load_init_state_dict(checkpoint, prefix, init.get('map_location', 'cpu') or 'cpu')
    full_prefixes: List[str] = []
    if not state or (prefix is None and not any(k in state for k in module.state_dict())):
        full = load_init_state_dict(checkpoint, None)
        full_prefixes = top_level_prefixes(full, 3)
    report = coverage_report(module, state, module_name=module_name, checkpoint=checkpoint, prefix=prefix, **kwargs)
    report.checkpoint_prefixes = full_prefixes or top_level_prefixes(state, 3)
    return report

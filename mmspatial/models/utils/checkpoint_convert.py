"""Turn pretraining checkpoints into backbone checkpoints for mmdet / mmseg / detectron2 / timm.

Pure functions on state dicts (the CLIs in ``tools/model_converters/`` only parse arguments and save).

Where the backbone lives in a pretraining checkpoint (``state_dict`` key prefixes):

=============================  =======================  ============================================
algorithm                      online (student)         EMA / teacher
=============================  =======================  ============================================
mmpretrain BYOL, our SCRL      ``backbone.``            ``target_net.module.0.``
our DINO / SelfPatch           ``backbone.``            ``teacher.backbone.`` (``nn.ModuleDict``)
mmpretrain MoCoV3              ``backbone.``            ``momentum_encoder.module.0.``
mmpretrain MoCo v2 / DenseCL   ``backbone.``            ``encoder_k.module.0.``
mmpretrain projects/dino       ``backbone.``            ``teacher.module.0.``
SP-wrapped models              as the host (SP only adds ``sp_head.*``)
=============================  =======================  ============================================

DINO and SelfPatch report their downstream numbers with the *teacher*
(https://github.com/facebookresearch/dino/issues/44); SCRL/BYOL evaluate the online network.

Key layouts. ResNet: mmpretrain, mmdet and mmseg (``ResNet``, ``depth=50``, no deep stem) and
torchvision/timm share one naming (``conv1``, ``bn1``, ``layerN.M.convK``, ``downsample.0/1``), so the
backbone's keys are used as they are. ViT: the default layout is mmpretrain's, loaded downstream by
``type='mmpretrain.VisionTransformer'`` (mmdet has no ViT of its own, so one layout serves both mmdet
and mmseg configs). :func:`vit_mmpretrain_to_mmseg` converts to mmseg's own ``VisionTransformer``
(``attn.attn.in_proj_*``) for users of mmseg's ViT configs; :func:`vit_mmseg_to_mmpretrain` inverts it.
"""
import os.path as osp
import re
from collections import OrderedDict
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np
import torch
from torch import Tensor

StateDict = Dict[str, Tensor]

ONLINE_PREFIXES: Tuple[str, ...] = ('backbone.', )
TARGET_PREFIXES: Tuple[str, ...] = (
    'target_net.module.0.',  # mmpretrain BYOL, mmspatial SCRL (CosineEMA(Sequential(backbone, neck)))
    'teacher.backbone.',  # mmspatial DINO / SelfPatch (teacher = ModuleDict(backbone=..., ...))
    'teacher.module.0.',  # mmpretrain projects/dino (CosineEMA(Sequential(backbone, neck)))
    'momentum_encoder.module.0.',  # mmpretrain MoCoV3
    'encoder_k.module.0.',  # mmpretrain MoCo v2, DenseCL
)
BRANCHES = ('online', 'target')


# --------------------------------------------------------------------------------------------------
# checkpoint -> backbone state dict
def get_state_dict(checkpoint: Mapping, source: str = 'checkpoint') -> StateDict:
    """The ``state_dict`` of an mmengine checkpoint, or the mapping itself if it is one."""
    if not isinstance(checkpoint, Mapping):
        raise TypeError(f'{source}: expected a dict checkpoint, got {type(checkpoint).__name__}')
    state = checkpoint.get('state_dict', checkpoint)
    if not isinstance(state, Mapping) or not state:
        raise ValueError(f'{source}: empty or invalid state_dict')
    return state


def top_level_prefixes(state: Mapping[str, Tensor], depth: int = 3) -> List[str]:
    """Distinct key prefixes up to ``depth`` components, for error messages."""
    seen = OrderedDict()
    for key in state:
        parts = key.split('.')
        for d in range(1, min(depth, len(parts) - 1) + 1):
            seen['.'.join(parts[:d]) + '.'] = None
    return list(seen)


def strip_prefix(state: Mapping[str, Tensor], prefix: str) -> StateDict:
    """Keys starting with ``prefix``, prefix removed (mmengine ``PretrainedInit(prefix=...)`` rule)."""
    if not prefix.endswith('.'):
        prefix += '.'
    return OrderedDict((k[len(prefix):], v) for k, v in state.items() if k.startswith(prefix))


def looks_like_backbone(state: Mapping[str, Tensor]) -> bool:
    """True for an already-extracted ResNet or ViT state dict (no algorithm prefixes)."""
    return detect_arch(state, strict=False) is not None


def find_branch_prefix(state: Mapping[str, Tensor], branch: str = 'online', source: str = 'checkpoint') -> str:
    """The key prefix of the online or EMA/teacher backbone in a pretraining state dict.

    Raises:
        KeyError: no (or more than one) known prefix matches; the message lists the prefixes found.
    """
    if branch not in BRANCHES:
        raise ValueError(f'branch must be one of {BRANCHES}, got {branch!r}')
    candidates = ONLINE_PREFIXES if branch == 'online' else TARGET_PREFIXES
    found = [p for p in candidates if any(k.startswith(p) for k in state)]
    if len(found) == 1:
        return found[0]
    present = ', '.join(top_level_prefixes(state, 2)[:20])
    if not found:
        raise KeyError(f'{source}: no {branch} backbone found (looked for key prefixes '
                       f'{list(candidates)}; the checkpoint has {present}). Pass the prefix '
                       'explicitly (--prefix).')
    raise KeyError(f'{source}: several {branch} backbones found ({found}); pass --prefix')


def backbone_state_dict(checkpoint: Mapping,
                        branch: str = 'online',
                        prefix: Optional[str] = None,
                        source: str = 'checkpoint') -> Tuple[StateDict, str]:
    """Extract a backbone from a pretraining checkpoint (or pass an extracted one through).

    Args:
        checkpoint: the loaded checkpoint (mmengine dict with ``state_dict``, or a bare state dict).
        branch: ``'online'`` (``backbone.``) or ``'target'`` (EMA / teacher, see the module table).
        prefix: explicit key prefix; overrides ``branch``. ``''`` takes the state dict as it is.
        source: file name for messages.

    Returns:
        (state_dict with the prefix removed, the prefix used). An already-extracted backbone
        (ResNet/ViT keys at top level) is returned unchanged with prefix ``''`` when ``branch`` is
        ``'online'`` and no prefix is given.
    """
    state = get_state_dict(checkpoint, source)
    # mmengine strips DDP's "module." only without prefix; extracted files never carry it.
    if all(k.startswith('module.') for k in state):
        state = strip_prefix(state, 'module.')
    if prefix is None:
        if branch == 'online' and looks_like_backbone(state) and not any(
                k.startswith(p) for k in state for p in ONLINE_PREFIXES + TARGET_PREFIXES):
            return OrderedDict(state), ''
        prefix = find_branch_prefix(state, branch, source)
    if prefix == '':
        return OrderedDict(state), ''
    out = strip_prefix(state, prefix)
    if not out:
        raise KeyError(f'{source}: no key starts with {prefix!r} (the checkpoint has '
                       f'{", ".join(top_level_prefixes(state, 2)[:20])})')
    return out, prefix if prefix.endswith('.') else prefix + '.'


# --------------------------------------------------------------------------------------------------
# architecture detection
_VIT_MMPRETRAIN = re.compile(r'^layers\.\d+\.attn\.qkv\.')
_VIT_MMSEG = re.compile(r'^layers\.\d+\.attn\.attn\.in_proj_')
_VIT_TIMM = re.compile(r'^blocks\.\d+\.attn\.qkv\.')
_RESNET = re.compile(r'^layer[1-4]\.\d+\.conv\d\.weight$')


def detect_arch(state: Mapping[str, Tensor], strict: bool = True) -> Optional[str]:
    """``'resnet'``, ``'vit'`` (mmpretrain layout), ``'vit-mmseg'`` or ``'vit-timm'``."""
    keys = list(state)
    if any(_VIT_MMSEG.match(k) for k in keys):
        return 'vit-mmseg'
    if any(_VIT_MMPRETRAIN.match(k) for k in keys):
        return 'vit'
    if any(_VIT_TIMM.match(k) for k in keys):
        return 'vit-timm'
    if any(_RESNET.match(k) for k in keys):
        return 'resnet'
    if strict:
        raise ValueError('cannot tell the backbone type: neither ResNet (layerN.M.convK) nor ViT '
                         f'(layers.N.attn...) keys; first keys: {keys[:8]}')
    return None


def check_resnet(state: Mapping[str, Tensor], source: str = 'checkpoint') -> None:
    """Raise unless ``state`` is a plain (single-conv stem) ResNet as mmdet/mmseg ``ResNet`` expect."""
    if any(k.startswith('stem.') for k in state):
        raise ValueError(f'{source}: deep-stem ResNet (ResNetV1c/V1d, "stem.*" keys) is not the plain '
                         'ResNet the transfer configs use; set backbone.type to ResNetV1c/ResNetV1d '
                         'downstream instead of converting')
    if 'conv1.weight' not in state or not any(_RESNET.match(k) for k in state):
        raise ValueError(f'{source}: not a ResNet state dict (no conv1.weight / layerN.M.convK keys); '
                         f'first keys: {list(state)[:8]}')


# --------------------------------------------------------------------------------------------------
# ViT layouts
_MMPRETRAIN_TO_MMSEG_LAYER = (
    ('attn.qkv.weight', 'attn.attn.in_proj_weight'),
    ('attn.qkv.bias', 'attn.attn.in_proj_bias'),
    ('attn.proj.', 'attn.attn.out_proj.'),
)
_MMPRETRAIN_TO_TIMM_LAYER = (
    ('ln1.', 'norm1.'),
    ('ln2.', 'norm2.'),
    ('ffn.layers.0.0.', 'mlp.fc1.'),
    ('ffn.layers.1.', 'mlp.fc2.'),
    ('attn.qkv.', 'attn.qkv.'),
    ('attn.proj.', 'attn.proj.'),
)
_LAYER = re.compile(r'^layers\.(\d+)\.(.*)$')


def _rename_layer_keys(key: str, pairs: Sequence[Tuple[str, str]], new_layers: str) -> Optional[str]:
    m = _LAYER.match(key)
    if m is None:
        return None
    idx, rest = m.groups()
    for old, new in pairs:
        if rest.startswith(old):
            return f'{new_layers}.{idx}.{new}{rest[len(old):]}'
    return f'{new_layers}.{idx}.{rest}'


def _unsupported(key: str, layout: str) -> ValueError:
    return ValueError(f'ViT key {key!r} has no equivalent in the {layout} layout (layer scale, '
                      'extra tokens or another non-standard part); keep the mmpretrain layout and '
                      "use type='mmpretrain.VisionTransformer' downstream")


def vit_mmpretrain_to_mmseg(state: Mapping[str, Tensor], add_cls_token: bool = True) -> StateDict:
    """mmpretrain ``VisionTransformer`` keys -> mmseg ``VisionTransformer`` keys.

    mmseg's ViT always has a class token (``pos_embed`` with ``1 + h*w`` rows). For checkpoints without
    one (SelfPatch's ViT), ``add_cls_token`` inserts a zero ``cls_token`` and a zero ``pos_embed`` row,
    i.e. a token that starts with no information (set it to False to get an error instead).
    Set ``patch_bias=True`` in mmseg's ViT config: mmpretrain's patch embedding has a bias, mmseg's
    default (``patch_bias=False``) has none.
    """
    out = OrderedDict()
    for key, value in state.items():
        if key.startswith('layers.'):
            new = _rename_layer_keys(key, _MMPRETRAIN_TO_MMSEG_LAYER, 'layers')
            if re.search(r'\.(gamma\d|ls\d)', new):
                raise _unsupported(key, 'mmseg')
            out[new] = value
        elif key in ('cls_token', 'pos_embed') or key.startswith(('patch_embed.', 'ln1.')):
            out[key] = value
        elif key.startswith('pre_norm.'):
            out['ln_pre.' + key[len('pre_norm.'):]] = value
        else:
            raise _unsupported(key, 'mmseg')
    if 'cls_token' not in out:
        if not add_cls_token:
            raise ValueError('the ViT has no class token, mmseg ViT needs one (add_cls_token=True '
                             'inserts a zero token)')
        pos = out['pos_embed']
        out['cls_token'] = pos.new_zeros(1, 1, pos.shape[-1])
        out['pos_embed'] = torch.cat([pos.new_zeros(1, 1, pos.shape[-1]), pos], dim=1)
        out.move_to_end('pos_embed', last=False)
        out.move_to_end('cls_token', last=False)
    return out


def vit_mmseg_to_mmpretrain(state: Mapping[str, Tensor]) -> StateDict:
    """Inverse of :func:`vit_mmpretrain_to_mmseg` (the class token is kept)."""
    inverse = tuple((new, old) for old, new in _MMPRETRAIN_TO_MMSEG_LAYER)
    out = OrderedDict()
    for key, value in state.items():
        if key.startswith('layers.'):
            out[_rename_layer_keys(key, inverse, 'layers')] = value
        elif key.startswith('ln_pre.'):
            out['pre_norm.' + key[len('ln_pre.'):]] = value
        else:
            out[key] = value
    return out


def vit_mmpretrain_to_timm(state: Mapping[str, Tensor]) -> StateDict:
    """mmpretrain ViT keys -> timm ``VisionTransformer`` keys (``blocks.N.attn.qkv``, ``norm``...).

    A ViT without class token maps to timm's ``class_token=False`` (``pos_embed`` over patches only).
    """
    out = OrderedDict()
    for key, value in state.items():
        if key.startswith('layers.'):
            new = _rename_layer_keys(key, _MMPRETRAIN_TO_TIMM_LAYER, 'blocks')
            if not re.match(r'^blocks\.\d+\.(norm1|norm2|mlp\.fc1|mlp\.fc2|attn\.qkv|attn\.proj)\.', new):
                raise _unsupported(key, 'timm')
            out[new] = value
        elif key in ('cls_token', 'pos_embed'):
            out[key] = value
        elif key.startswith('patch_embed.projection.'):
            out['patch_embed.proj.' + key[len('patch_embed.projection.'):]] = value
        elif key.startswith('ln1.'):
            out['norm.' + key[len('ln1.'):]] = value
        elif key.startswith('pre_norm.'):
            out['norm_pre.' + key[len('pre_norm.'):]] = value
        else:
            raise _unsupported(key, 'timm')
    return out


# --------------------------------------------------------------------------------------------------
# ResNet layouts
def resnet_to_torchvision(state: Mapping[str, Tensor], source: str = 'checkpoint') -> StateDict:
    """mmpretrain/mmdet ResNet keys are torchvision's (and timm's ``resnet50``): checked, not renamed."""
    check_resnet(state, source)
    return OrderedDict(state)


def resnet_to_detectron2(state: Mapping[str, Tensor], source: str = 'checkpoint') -> Dict[str, np.ndarray]:
    """ResNet keys -> detectron2 ``build_resnet_backbone`` names, as numpy arrays.

    ``conv1``/``bn1`` -> ``stem.conv1``/``stem.conv1.norm``; ``layerN`` -> ``res{N+1}``; ``bnK`` ->
    ``convK.norm``; ``downsample.0/1`` -> ``shortcut``/``shortcut.norm`` (the renaming of MoCo's and
    mmselfsup's ``convert-pretrain-to-detectron2.py``). ``num_batches_tracked`` buffers are dropped
    (detectron2's BN layers do not use them).
    """
    check_resnet(state, source)
    out = OrderedDict()
    for key, value in state.items():
        if key.endswith('num_batches_tracked'):
            continue
        new = key if key.startswith('layer') else 'stem.' + key
        new = re.sub(r'^layer([1-4])\.', lambda m: f'res{int(m.group(1)) + 1}.', new)
        new = re.sub(r'(^|\.)bn([1-3])\.', r'\1conv\2.norm.', new)
        new = new.replace('downsample.0.', 'shortcut.').replace('downsample.1.', 'shortcut.norm.')
        out[new] = value.detach().cpu().numpy()
    return out


def detectron2_checkpoint(state: Mapping[str, Tensor], source: str = 'checkpoint') -> dict:
    """The pickle payload detectron2's ``DetectionCheckpointer`` reads for a converted backbone."""
    return {'model': resnet_to_detectron2(state, source), '__author__': 'mmspatial', 'matching_heuristics': True}


VIT_LAYOUTS = ('mmpretrain', 'mmseg')


def drop_cls_token(state: Mapping[str, Tensor]) -> StateDict:
    """Remove a ViT's class token and its ``pos_embed`` row (no-op without class token).

    For ViTs used without class token downstream (the transfer configs): mmpretrain's
    ``VisionTransformer`` drops the extra ``pos_embed`` row itself only when no resizing is needed, so a
    DINO checkpoint (224 px, class token) into the 512 px segmentation ViT needs this.
    """
    if 'cls_token' not in state:
        return OrderedDict(state)
    out = OrderedDict((k, v) for k, v in state.items() if k != 'cls_token')
    if 'pos_embed' in out:
        out['pos_embed'] = out['pos_embed'][:, 1:]
    return out


def to_layout(state: Mapping[str, Tensor], vit_layout: str = 'mmpretrain') -> Tuple[StateDict, str]:
    """Put a backbone state dict into the downstream layout; returns it and the detected arch."""
    if vit_layout not in VIT_LAYOUTS:
        raise ValueError(f'vit_layout must be one of {VIT_LAYOUTS}, got {vit_layout!r}')
    arch = detect_arch(state)
    if arch == 'resnet':
        return resnet_to_torchvision(state), arch
    if arch == 'vit-timm':
        raise ValueError('timm ViT keys: convert timm checkpoints with mmpretrain\'s '
                         'tools/model_converters first')
    if arch == 'vit-mmseg':
        state = vit_mmseg_to_mmpretrain(state)
    if vit_layout == 'mmseg':
        return vit_mmpretrain_to_mmseg(state), 'vit'
    return OrderedDict(state), 'vit'


# --------------------------------------------------------------------------------------------------
# files
_META_KEEP = ('epoch', 'iter', 'mmengine_version', 'experiment_name', 'seed', 'time', 'cfg')


def load_checkpoint_file(path: str, trust: bool = False) -> dict:
    """Load a local checkpoint for the converters: ``weights_only=True`` with mmspatial's allow-list.

    mmengine training checkpoints pickle a few non-tensor types (``HistoryBuffer``, numpy arrays); they
    are allowed by :func:`mmspatial.engine.safe_load.load_local_checkpoint` (``docs/safety.md``). A file
    needing any other global raises :class:`~mmspatial.engine.safe_load.UntrustedCheckpointError`
    naming the file and the global; nothing in it runs.

    Args:
        path (str): local checkpoint file.
        trust (bool): the user trusts this file (the converters' ``--trust-checkpoint``): it is
            unpickled with ``weights_only=False``, which can run code stored in it.
    """
    from mmspatial.engine.safe_load import load_local_checkpoint
    if not osp.isfile(path):
        raise FileNotFoundError(f'checkpoint not found: {path}')
    return load_local_checkpoint(path, map_location='cpu', trusted=[path] if trust else ())


def extract_backbone_checkpoint(checkpoint: Mapping,
                                branch: str = 'online',
                                prefix: Optional[str] = None,
                                vit_layout: str = 'mmpretrain',
                                no_cls_token: bool = False,
                                source: str = 'checkpoint') -> dict:
    """``{'state_dict', 'meta'}`` with the backbone in downstream keys (see :func:`to_layout`).

    ``no_cls_token`` removes a ViT's class token (:func:`drop_cls_token`; mmpretrain layout only).
    ``meta['mmspatial']`` records the source file, branch, prefix, architecture and layout.
    """
    state, used_prefix = backbone_state_dict(checkpoint, branch, prefix, source)
    state, arch = to_layout(state, vit_layout)
    if no_cls_token:
        if arch != 'vit' or vit_layout != 'mmpretrain':
            raise ValueError('no_cls_token applies to ViTs in the mmpretrain layout (mmseg\'s ViT '
                             f'always has a class token); got {arch} / {vit_layout}')
        state = drop_cls_token(state)
    meta = {k: v for k, v in dict(checkpoint.get('meta') or {}).items() if k in _META_KEEP}
    meta['mmspatial'] = dict(
        source=source,
        branch=branch if prefix is None else None,
        prefix=used_prefix,
        arch=arch,
        layout=vit_layout if arch == 'vit' else 'torchvision')
    state = OrderedDict((k, v.detach().clone().cpu()) for k, v in state.items())
    return dict(state_dict=state, meta=meta)

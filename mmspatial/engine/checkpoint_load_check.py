"""``load_from`` / ``--resume`` refuse a checkpoint that does not fit the model, instead of half-loading it.

mmengine 0.10.7's ``Runner.load_checkpoint`` loads with ``strict=False``: a checkpoint of another
backbone (ResNet-50 into a ResNet-18 run, a ViT into a ResNet) only logs a warning listing missing and
mismatched keys, and training silently starts from (mostly) random weights.
:func:`load_checkpoint_checked` (what ``SpatialRunner.load_checkpoint`` runs; ``runner_type =
'SpatialRunner'`` in ``configs/_base_/default_runtime.py``): when the caller did not ask for
``strict=True`` itself, the checkpoint's keys and shapes are compared with the model's (after the
``revise_keys`` renaming and the ``after_load_checkpoint`` hooks) on every rank, and a mismatch raises
:class:`CheckpointMismatchError` naming the file, the missing / unexpected / shape-mismatched keys and,
where it can be told, the checkpoint's architecture. Nothing is loaded in that case. mmengine's
``Runner`` itself is not modified.

Escape hatch: ``load_from_strict = False`` in the config (or ``--cfg-options load_from_strict=False``
with ``--no-strict-cfg-options``) restores mmengine's partial loading. To initialise only a backbone from
a pretrained checkpoint, use ``model.backbone.init_cfg=dict(type='Pretrained', checkpoint=..., prefix=...)``
instead of ``load_from``.
"""
import re
from collections import OrderedDict
from typing import List, Mapping, Sequence, Tuple

from mmengine.model import is_model_wrapper
from mmengine.runner import Runner
from mmengine.runner.checkpoint import _load_checkpoint, _load_checkpoint_to_model

__all__ = ['CheckpointMismatchError', 'find_state_dict_mismatch', 'format_mismatch', 'load_checkpoint_checked']

# Keys a module resizes in its own load hook (mmpretrain's ViT interpolates ``pos_embed``).
RESIZABLE_SUFFIXES: Tuple[str, ...] = ('pos_embed', )


class CheckpointMismatchError(RuntimeError):
    """A checkpoint given to ``load_from`` / ``--resume`` does not match the model."""


def find_state_dict_mismatch(model_state: Mapping,
                             ckpt_state: Mapping) -> Tuple[List[str], List[str], List[Tuple[str, tuple, tuple]]]:
    """(missing, unexpected, shape mismatches ``(key, ckpt shape, model shape)``), BN counters ignored."""
    ignore = ('num_batches_tracked', )
    missing = [k for k in model_state if k not in ckpt_state and not k.endswith(ignore)]
    unexpected = [k for k in ckpt_state if k not in model_state and not k.endswith(ignore)]
    shapes = []
    for key, value in ckpt_state.items():
        if key in model_state and hasattr(value, 'shape') and not key.endswith(RESIZABLE_SUFFIXES):
            if tuple(value.shape) != tuple(model_state[key].shape):
                shapes.append((key, tuple(value.shape), tuple(model_state[key].shape)))
    return missing, unexpected, shapes


def _examples(keys: Sequence, n: int = 5) -> str:
    shown = ', '.join(str(k) for k in keys[:n])
    return shown + (f', ... ({len(keys) - n} more)' if len(keys) > n else '')


def format_mismatch(filename: str, model_name: str, missing: List[str], unexpected: List[str],
                    shapes: List[Tuple[str, tuple, tuple]], ckpt_state: Mapping) -> str:
    lines = [
        f'checkpoint {filename} does not match the model {model_name}: '
        f'{len(missing)} missing, {len(unexpected)} unexpected and {len(shapes)} shape-mismatched '
        'keys; nothing was loaded.'
    ]
    if shapes:
        lines.append('  shape mismatch (checkpoint vs model): ' +
                     _examples([f'{k} {tuple(c)} vs {tuple(m)}' for k, c, m in shapes], 3))
    if missing:
        lines.append('  missing in the checkpoint: ' + _examples(missing))
    if unexpected:
        lines.append('  not in the model: ' + _examples(unexpected))
    try:
        from mmspatial.models.utils.checkpoint_convert import detect_arch
        arch = detect_arch(ckpt_state, strict=False)
        if arch:
            lines.append(f'  the checkpoint looks like a {arch} backbone.')
    except Exception:  # noqa: BLE001  (only decorates the message)
        pass
    lines.append('  Is it a checkpoint of a different backbone/algorithm? To initialise only the backbone '
                 "use model.backbone.init_cfg=dict(type='Pretrained', checkpoint=..., prefix='backbone.'); "
                 'to load the matching part anyway set load_from_strict=False in the config.')
    return '\n'.join(lines)


def _revise(state: Mapping, revise_keys: Sequence[Tuple[str, str]]) -> Mapping:
    for pattern, replacement in revise_keys:
        state = OrderedDict((re.sub(pattern, replacement, k), v) for k, v in state.items())
    return state


def load_checkpoint_checked(self: Runner,
                            filename: str,
                            map_location='cpu',
                            strict: bool = False,
                            revise_keys: list = [(r'^module.', '')]):  # noqa: B006  (mmengine's signature)
    """``Runner.load_checkpoint`` (mmengine 0.10.7) that checks the checkpoint fits the model first.

    ``load_from_strict = False`` in the runner's config (or ``strict=True`` from the caller) gives
    mmengine's behaviour.
    """
    cfg = getattr(self, 'cfg', None) or {}
    if strict or not cfg.get('load_from_strict', True):
        return Runner.load_checkpoint(self, filename, map_location=map_location, strict=strict, revise_keys=revise_keys)
    checkpoint = _load_checkpoint(filename, map_location=map_location)
    self.call_hook('after_load_checkpoint', checkpoint=checkpoint)  # as mmengine, before loading
    model = self.model.module if is_model_wrapper(self.model) else self.model
    ckpt_state = _revise(checkpoint.get('state_dict', checkpoint), revise_keys)
    missing, unexpected, shapes = find_state_dict_mismatch(model.state_dict(), ckpt_state)
    if missing or unexpected or shapes:
        raise CheckpointMismatchError(
            format_mismatch(filename,
                            type(model).__name__, missing, unexpected, shapes, ckpt_state))
    checkpoint = _load_checkpoint_to_model(model, checkpoint, strict, revise_keys=revise_keys)
    self._has_loaded = True
    self.logger.info(f'Load checkpoint from {filename}')
    return checkpoint

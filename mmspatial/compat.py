"""Compatibility fixes for the pinned stack (mmengine 0.10.7 on torch >= 2.6).

torch 2.6 changed ``torch.load``'s default to ``weights_only=True``. mmengine 0.10.7 calls
``torch.load(filename, map_location=...)`` without the argument, so resuming one of its *own*
checkpoints (which pickle ``HistoryBuffer``, numpy arrays, optimizer state...) fails with
"Weights only load failed". We re-register mmengine's local-file checkpoint loader with
``weights_only=False``, i.e. exactly mmengine's behaviour under the torch it was written for.

Why this and not the alternatives:
* ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1`` would change ``torch.load`` for the whole process and asks
  every user to set an environment variable;
* allow-listing globals with ``torch.serialization.add_safe_globals`` needs the exact list of types that
  any hook, optimizer or message-hub entry may pickle, and breaks on the first new one.
The scope stays narrow: only mmengine's local-file checkpoint loading (``load_from``, ``--resume``,
``load_checkpoint``, ``init_cfg=dict(type='Pretrained')``) is affected, and these load files the user
chose to train from. As with any pickle, do not load checkpoints from untrusted sources.
"""
import os.path as osp
from typing import Any, Optional

import torch
from mmengine.runner.checkpoint import CheckpointLoader


def load_trusted_checkpoint(filename: str, map_location: Optional[Any] = None) -> Any:
    """``torch.load`` of a local checkpoint with mmengine's pre-torch-2.6 semantics."""
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'{filename} can not be found.')
    return torch.load(filename, map_location=map_location, weights_only=False)


# Replaces mmengine's ``load_from_local`` (same prefix, same signature).
CheckpointLoader.register_scheme(prefixes='', loader=load_trusted_checkpoint, force=True)

"""Distributed training on machines without CUDA (gloo), for tests, CI and CPU clusters.

mmengine 0.10.7's ``pytorch``/``slurm`` launchers call ``torch.cuda.set_device`` and its default DDP
wrapper passes ``device_ids=[local_rank]``; both fail without a GPU. :func:`init_cpu_distributed`
creates the gloo process group first (the Runner then skips its own ``init_dist``) and
:class:`CPUDistributedDataParallel` wraps CPU modules with ``device_ids=None``. ``SyncBatchNorm`` only
works with GPU modules in DDP, so it is reverted to plain BN there (per-rank statistics).
"""
import logging
import os
import subprocess
from typing import Any

import torch
import torch.distributed as dist
from mmengine.logging import print_log
from mmengine.model import MMDistributedDataParallel, revert_sync_batchnorm
from mmengine.registry import MODEL_WRAPPERS


def _has_sync_bn(module: torch.nn.Module) -> bool:
    return any('SyncBatchNorm' in type(m).__name__ or 'SyncBN' in type(m).__name__ for m in module.modules())


@MODEL_WRAPPERS.register_module()
class CPUDistributedDataParallel(MMDistributedDataParallel):
    """:class:`MMDistributedDataParallel` for CPU modules (gloo).

    The Runner passes ``device_ids=[local_rank]``, which DDP rejects for CPU modules; it is dropped.
    SyncBN layers are reverted to BN with a log line.
    """

    def __init__(self, module: torch.nn.Module, device_ids: Any = None, **kwargs) -> None:
        if _has_sync_bn(module):
            print_log(
                'SyncBN does not work for CPU modules in DDP: reverting SyncBN to BN '
                '(batch statistics are per process).',
                logger='current',
                level=logging.WARNING)
            module = revert_sync_batchnorm(module)
        super().__init__(module=module, device_ids=None, **kwargs)


def _slurm_env() -> None:
    """Derive torch.distributed's variables from SLURM's (as mmengine's slurm launcher does)."""
    proc_id = int(os.environ['SLURM_PROCID'])
    ntasks = int(os.environ['SLURM_NTASKS'])
    node_list = os.environ['SLURM_NODELIST']
    os.environ.setdefault('MASTER_PORT', '29500')
    if 'MASTER_ADDR' not in os.environ:
        os.environ['MASTER_ADDR'] = subprocess.getoutput(f'scontrol show hostname {node_list} | head -n1')
    os.environ['WORLD_SIZE'] = str(ntasks)
    os.environ['RANK'] = str(proc_id)
    os.environ['LOCAL_RANK'] = os.environ.get('SLURM_LOCALID', '0')


def init_cpu_distributed(launcher: str, timeout_s: int = 1800) -> bool:
    """Initialise a gloo process group when launched distributed on a machine without CUDA.

    Returns:
        bool: True if this call created the process group.
    """
    if launcher == 'none' or torch.cuda.is_available() or dist.is_initialized():
        return False
    if launcher == 'slurm':
        _slurm_env()
    elif launcher != 'pytorch':
        raise ValueError(f'CPU distributed training supports the pytorch and slurm launchers, '
                         f'not {launcher!r}')
    from datetime import timedelta
    dist.init_process_group(backend='gloo', timeout=timedelta(seconds=timeout_s))
    return True

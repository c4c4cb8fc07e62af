"""``--amp`` on machines without an accelerator: bfloat16 autocast on the CPU.

``tools/train.py --amp`` switches the config to ``AmpOptimWrapper`` and, without CUDA, to
``dtype='bfloat16'`` (``mmspatial/engine/launch.py``). mmengine 0.10.7's ``AmpOptimWrapper.__init__``
nevertheless asserts "``AmpOptimizerWrapper`` is only available training on gpu, npu, mlu or musa",
although the rest of it works on the CPU: its ``optim_context`` uses ``mmengine.runner.amp.autocast``,
which runs ``torch.autocast('cpu', dtype=torch.bfloat16)``, and the ``GradScaler`` it creates disables
itself without CUDA (bfloat16 has float32's exponent range and needs no loss scaling).

Importing this module (``import mmspatial`` does) lets ``AmpOptimWrapper`` be built on a CPU-only
machine when ``dtype`` is bfloat16 (or unset, which then means bfloat16); float16 on the CPU still
raises, with a message saying why. With an accelerator nothing changes.
"""
from unittest import mock

import torch
import mmengine.optim.optimizer.amp_optimizer_wrapper as amp_module
from mmengine.device import is_cuda_available, is_mlu_available, is_musa_available, is_npu_available
from mmengine.optim import AmpOptimWrapper

__all__ = ['accelerator_available']

_original_init = getattr(AmpOptimWrapper.__init__, '__wrapped_init__', AmpOptimWrapper.__init__)


def accelerator_available() -> bool:
    return is_cuda_available() or is_npu_available() or is_mlu_available() or is_musa_available()


def _init(self, *args, dtype=None, **kwargs) -> None:
    if accelerator_available():
        return _original_init(self, *args, dtype=dtype, **kwargs)
    if dtype not in (None, 'bfloat16', torch.bfloat16):
        raise ValueError(f'AmpOptimWrapper(dtype={dtype!r}) without a GPU: CPU autocast supports '
                         "bfloat16 only; use dtype='bfloat16' (tools/train.py --amp sets it)")
    with mock.patch.object(amp_module, 'is_cuda_available', lambda: True):  # skip the GPU-only assert
        _original_init(self, *args, dtype='bfloat16', **kwargs)


_init.__wrapped_init__ = _original_init
AmpOptimWrapper.__init__ = _init

"""``--amp`` on machines without an accelerator: bfloat16 autocast on the CPU.

mmengine 0.10.7's ``AmpOptimWrapper.__init__`` asserts "``AmpOptimizerWrapper`` is only available
training on gpu, npu, mlu or musa", although the rest of it works on the CPU: its ``optim_context``
uses ``mmengine.runner.amp.autocast``, which runs ``torch.autocast('cpu', dtype=torch.bfloat16)``, and
bfloat16 has float32's exponent range, so it needs no loss scaling.

:class:`CPUAmpOptimWrapper` is that wrapper without the assertion; ``tools/train.py --amp`` selects it
when there is no accelerator (``mmspatial/engine/launch.py``), or a config names it. With an accelerator
it is exactly ``AmpOptimWrapper``. mmengine's ``AmpOptimWrapper`` itself is not modified.
"""
from typing import Union

import torch
from mmengine.device import is_cuda_available, is_mlu_available, is_musa_available, is_npu_available
from mmengine.optim import AmpOptimWrapper, OptimWrapper
from mmengine.registry import OPTIM_WRAPPERS

__all__ = ['accelerator_available', 'CPUAmpOptimWrapper']


def accelerator_available() -> bool:
    return is_cuda_available() or is_npu_available() or is_mlu_available() or is_musa_available()


@OPTIM_WRAPPERS.register_module()
class CPUAmpOptimWrapper(AmpOptimWrapper):
    """``AmpOptimWrapper`` that also runs without an accelerator (CPU autocast, bfloat16 only).

    Args:
        loss_scale: as ``AmpOptimWrapper``; on the CPU there is no loss scaling (the scaler is
            disabled: bfloat16 does not underflow where float32 does not).
        dtype: ``'bfloat16'`` (default without an accelerator) or, with one, as ``AmpOptimWrapper``.
        **kwargs: as ``AmpOptimWrapper``.
    """

    def __init__(self,
                 loss_scale: Union[str, float, dict] = 'dynamic',
                 dtype=None,
                 use_fsdp: bool = False,
                 **kwargs) -> None:
        if accelerator_available():
            super().__init__(loss_scale=loss_scale, dtype=dtype, use_fsdp=use_fsdp, **kwargs)
            return
        if dtype not in (None, 'bfloat16', torch.bfloat16):
            raise ValueError(f'CPUAmpOptimWrapper(dtype={dtype!r}) without a GPU: CPU autocast supports '
                             "bfloat16 only; use dtype='bfloat16' (tools/train.py --amp sets it)")
        # AmpOptimWrapper.__init__ minus its accelerator assertion (mmengine 0.10.7).
        OptimWrapper.__init__(self, **kwargs)
        self._scale_update_param = None
        self.loss_scaler = torch.amp.GradScaler('cpu', enabled=False)
        self.cast_dtype = torch.bfloat16

"""``--amp`` on machines without an accelerator: bfloat16 autocast on the CPU.

mmengine 0.10.7's ``AmpOptimWrapper.__init__`` asserts "``AmpOptimizerWrapper`` is only available
training on gpu, npu, mlu or musa", although the rest of it works on the CPU: its ``optim_context``
uses ``mmengine.runner.amp.autocast``, which runs ``torch.autocast('cpu', dtype=torch.bfloat16)``, and
bfloat16 has float32's exponent range, so it needs no loss scaling.

:class:`CPUAmpOptimWrapper` is that wrapper without the assertion; ``tools/train.py --amp`` selects it
when there is no accelerator (``mmspatial/engine/launch.py``), or a config names it. With an accelerator
it is exactly ``AmpOptimWrapper``. mmengine's ``AmpOptimWrapper`` itself is not modified.

bfloat16 is only fast on CPUs whose oneDNN kernels take it (AVX-512 with BF16, AVX-512 BW/VL/DQ, AMX):
elsewhere (e.g. AVX2-only CPUs) aten falls back to slow kernels. Measured on a 2-core AVX2 AMD EPYC
(torch 2.14.1, 1 thread): a 512 x 512 matmul 2.0 ms in float32, 203 ms in bfloat16, and a CIFAR-stem
ResNet-18 BYOL arm of the learning protocol made 4-7 iterations in 400 CPU-s with bf16 where the
AVX-512 BF16 machine made 124-158. The wrapper warns there (:func:`cpu_bf16_is_fast`).
"""
import logging
from typing import Union

import torch
from mmengine.device import is_cuda_available, is_mlu_available, is_musa_available, is_npu_available
from mmengine.logging import print_log
from mmengine.optim import AmpOptimWrapper, OptimWrapper
from mmengine.registry import OPTIM_WRAPPERS

__all__ = ['accelerator_available', 'cpu_bf16_is_fast', 'CPUAmpOptimWrapper', 'slow_bf16_message']

SLOW_BF16_MESSAGE = (
    'this CPU has no bfloat16 kernels (torch.ops.mkldnn._is_mkldnn_bf16_supported() is False; CPU capability '
    '{capability}): bfloat16 autocast falls back to slow kernels, measured 100x slower than float32 for a '
    '512 x 512 matmul on an AVX2 EPYC. Train in float32 (drop --amp) on this machine')


def accelerator_available() -> bool:
    return is_cuda_available() or is_npu_available() or is_mlu_available() or is_musa_available()


def cpu_bf16_is_fast() -> bool:
    """Whether torch's CPU kernels compute bfloat16 in oneDNN (AVX-512 BW/VL/DQ, AVX-512 BF16 or AMX),
    torch's own test of the CPU (``mkldnn_bf16_device_check``); ``False`` on AVX2-only CPUs."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):  # a torch built without oneDNN
        return False


def slow_bf16_message() -> str:
    return SLOW_BF16_MESSAGE.format(capability=torch.backends.cpu.get_cpu_capability())


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
        if not cpu_bf16_is_fast():  # correct but slow: say so once, where the run's log shows it
            print_log(f'CPUAmpOptimWrapper: {slow_bf16_message()}.', logger='current', level=logging.WARNING)

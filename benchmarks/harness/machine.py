"""The machine: description for the report header, dense-matmul throughput (the denominator of FLOP
utilisation), peak memory of a block, FLOPs of a call."""
import ctypes
import gc
import os
import platform
import statistics
import threading
import time
from typing import Any, Callable, Dict, Optional

import torch
from timing import rss_bytes, sync


def cpu_model() -> str:
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cpu_kernels() -> Dict[str, Any]:
    """The vector ISA torch dispatches to and whether oneDNN has bfloat16 kernels here: bf16 rows are
    ~2x faster than fp32 with them and ~12x slower without (AVX2-only CPUs; mmspatial/engine/cpu_amp.py)."""
    from mmspatial.engine.cpu_amp import cpu_bf16_is_fast
    return dict(cpu_capability=torch.backends.cpu.get_cpu_capability(), bf16_kernels=cpu_bf16_is_fast())


def machine_info(device: str) -> Dict[str, Any]:
    """CPU model, cores, library versions and the accelerator, for the report header."""
    import mmengine
    import mmpretrain
    try:
        import psutil
        physical = psutil.cpu_count(logical=False)
        mem_gb = psutil.virtual_memory().total / 2**30
    except ImportError:  # psutil is optional
        physical, mem_gb = None, None
    info = dict(
        cpu_model=cpu_model(),
        physical_cores=physical,
        logical_cpus=os.cpu_count(),
        affinity_cpus=len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else None,
        memory_gb=round(mem_gb, 1) if mem_gb else None,
        torch_threads=torch.get_num_threads(),
        **cpu_kernels(),
        python=platform.python_version(),
        torch=torch.__version__,
        mmengine=mmengine.__version__,
        mmpretrain=mmpretrain.__version__,
        platform=platform.platform(),
        device=device,
        load_avg=os.getloadavg() if hasattr(os, 'getloadavg') else None)
    if device.startswith('cuda'):
        info['gpu'] = torch.cuda.get_device_name(device)
        info['cuda'] = torch.version.cuda
    return info


def matmul_throughput(n: int, device: str, repeats: int = 7) -> Dict[str, float]:
    """Dense fp32 ``torch.mm`` of two ``n x n`` matrices: GFLOP/s of the fastest of ``repeats`` calls.

    The fastest call, not the median: this is the machine's attainable peak, the denominator of the
    utilisation, and on a shared machine the slower calls measure the other users' load.
    """
    gen = torch.Generator().manual_seed(0)
    a = torch.randn(n, n, generator=gen).to(device)
    b = torch.randn(n, n, generator=gen).to(device)
    torch.mm(a, b)  # warm-up (thread pool, cuBLAS handles)
    times = []
    for _ in range(repeats):
        sync(device)
        start = time.perf_counter()
        torch.mm(a, b)
        sync(device)
        times.append(time.perf_counter() - start)
    sec = min(times)
    return dict(
        n=n, dtype='float32', seconds=sec, median_seconds=statistics.median(times), gflops_per_s=2 * n**3 / sec / 1e9)


def release_free_memory() -> None:
    """Collect garbage and hand freed heap memory back to the OS, so RSS deltas belong to the next model."""
    gc.collect()
    try:
        ctypes.CDLL('libc.so.6').malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass


class PeakMemory:
    """Peak memory inside the ``with`` block above the level at entry, in bytes (``.delta``).

    CUDA: ``max_memory_allocated``. CPU: resident set size sampled every millisecond by a thread (torch
    kernels release the GIL, so the sampler runs during the heavy ops).
    """

    def __init__(self, device: str, interval: float = 1e-3) -> None:
        self.device, self.interval = device, interval
        self.base = self.peak = 0
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_bytes())
            time.sleep(self.interval)

    def __enter__(self) -> 'PeakMemory':
        release_free_memory()
        if self.device.startswith('cuda'):
            torch.cuda.synchronize()
            self.base = torch.cuda.memory_allocated()
            torch.cuda.reset_peak_memory_stats()
        else:
            self.base = self.peak = rss_bytes()
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        if self.device.startswith('cuda'):
            torch.cuda.synchronize()
            self.peak = torch.cuda.max_memory_allocated()
        else:
            self._stop.set()
            self._thread.join()
            self.peak = max(self.peak, rss_bytes())

    @property
    def delta(self) -> int:
        return self.peak - self.base


def count_gflops(fn: Callable[[], None]) -> float:
    """FLOPs of one call (matmuls, convolutions, attention; forward and backward) in GFLOP."""
    from torch.utils.flop_counter import FlopCounterMode
    with FlopCounterMode(display=False) as counter:
        fn()
    return counter.get_total_flops() / 1e9

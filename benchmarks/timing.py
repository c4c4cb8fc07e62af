"""Timing helpers shared by the benchmark scripts (plain scripts: imported as a sibling module)."""
import os
import statistics
import time
from typing import Callable, Dict, List


def sync(device: str) -> None:
    """Wait for queued CUDA work, so that wall-clock times cover it."""
    if device.startswith('cuda'):
        import torch  # only here: bench_selfpatch's parent process stays without torch

        torch.cuda.synchronize()


def rss_bytes() -> int:
    """Resident set size of this process (Linux ``/proc``)."""
    with open('/proc/self/statm') as f:
        return int(f.read().split()[1]) * os.sysconf('SC_PAGE_SIZE')


def interleaved_times(steps: Dict[str, Callable[[], object]], repeats: int, warmup: int,
                      device: str) -> Dict[str, List[float]]:
    """Seconds of every timed call of each function; one call of each per round, order rotated, so
    that load from other processes hits all of them alike."""
    names = list(steps)
    times: Dict[str, List[float]] = {k: [] for k in names}
    for i in range(warmup + repeats):
        shift = i % len(names)
        for name in names[shift:] + names[:shift]:
            sync(device)
            start = time.perf_counter()
            steps[name]()
            sync(device)
            if i >= warmup:
                times[name].append(time.perf_counter() - start)
    return times


def interleaved_medians(steps: Dict[str, Callable[[], object]],
                        repeats: int,
                        warmup: int = 1,
                        device: str = 'cpu') -> Dict[str, float]:
    """Median seconds per call of every function (:func:`interleaved_times`)."""
    return {k: statistics.median(v) for k, v in interleaved_times(steps, repeats, warmup, device).items()}


def paired_ratio(times: Dict[str, List[float]], num: str, den: str) -> float:
    """Median over rounds of ``times[num][i] / times[den][i]``: both calls of a round ran back to back,
    so load that changes between rounds cancels (steadier than a ratio of medians on a shared CPU)."""
    return statistics.median(a / b for a, b in zip(times[num], times[den]))

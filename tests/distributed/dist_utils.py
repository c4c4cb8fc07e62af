"""Launch helper scripts of this folder with ``python -m torch.distributed.run`` (gloo, CPU)."""
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Sequence

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def torchrun(script: str, args: Sequence[str], nproc: int = 2, timeout: int = 300) -> str:
    """Run ``HERE/script`` on ``nproc`` CPU processes; return its output, fail with it on error."""
    cmd = [
        sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node',
        str(nproc), '--master_addr', '127.0.0.1', '--master_port',
        str(free_port()),
        str(HERE / script), *map(str, args)
    ]
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS='1')
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, f'{" ".join(cmd)} failed ({proc.returncode}):\n{out[-6000:]}'
    return out

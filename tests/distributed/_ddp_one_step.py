"""Rank side of ``test_ddp_equivalence.py``: ``python -m torch.distributed.run --nproc_per_node 2
_ddp_one_step.py CASE_DIR NAME...`` runs one DDP step per case on this rank's half of the batch and
writes ``CASE_DIR/NAME.rank<r>.pt`` (results, or the error text); then the 2-rank NaN-guard check
(``CASE_DIR/_nan_guard.rank<r>.pt``)."""
import os
import sys
import traceback
from pathlib import Path

import torch
import torch.distributed as dist
from mmengine.registry import init_default_scope

import mmspatial  # noqa: F401
from mmspatial.engine.distributed import init_cpu_distributed

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ddp_cases import run_step  # noqa: E402


def nan_guard_check(rank: int) -> dict:
    """``NaNGuardHook`` under DDP when only rank 1 sees a NaN loss: every rank must stop, same iteration."""
    from types import SimpleNamespace

    from mmengine.logging import MessageHub

    from mmspatial.engine.hooks.nan_guard_hook import NaNGuardHook, NonFiniteLossError
    hub = MessageHub.get_instance('nan_guard_check')
    hub.update_info('last_ckpt', 'work_dir/iter_4.pth')
    runner = SimpleNamespace(iter=4, message_hub=hub, train_loop=SimpleNamespace(), optim_wrapper=None)
    outputs = dict(loss=torch.tensor(float('nan') if rank == 1 else 1.0))
    try:
        NaNGuardHook().after_train_iter(runner, 0, outputs=outputs)
    except NonFiniteLossError as e:
        return dict(message=str(e), iteration=e.iteration)
    return dict(message=None, iteration=None)


def main() -> None:
    case_dir, names = Path(sys.argv[1]), sys.argv[2:]
    torch.set_num_threads(1)
    init_cpu_distributed('pytorch', timeout_s=120)  # a hang fails the test within 2 minutes
    init_default_scope('mmpretrain')
    rank, world = dist.get_rank(), dist.get_world_size()
    for name in names:
        case = torch.load(case_dir / f'{name}.pt', weights_only=False)
        per_rank = len(case['data']['data_samples']) // world
        try:
            result = run_step(case, rank * per_rank, (rank + 1) * per_rank, ddp=True)
        except Exception:  # noqa: BLE001  (reported by the test, the other cases still run)
            result = dict(error=traceback.format_exc())
        torch.save(result, case_dir / f'{name}.rank{rank}.pt')
        dist.barrier()
    torch.save(nan_guard_check(rank), case_dir / f'_nan_guard.rank{rank}.pt')
    dist.destroy_process_group()


if __name__ == '__main__':
    main()

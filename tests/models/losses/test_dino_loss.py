"""DINO image loss and SelfPatch patch loss against hand computations; centring; all-reduce."""
import math
import os
import socket

import pytest
import torch
import torch.multiprocessing as mp
from mmpretrain.registry import MODELS

import mmspatial  # noqa: F401

LN3 = math.log(3.)
# softmax([0, 0]) = (.5, .5); softmax([ln 3, 0]) = (.75, .25); softmax([0, ln 3]) = (.25, .75)
CE_HALF_VS_QUARTER = -(.5 * math.log(.25) + .5 * math.log(.75))  # q=(.5,.5), p=(.25,.75)
CE_SELF_SHARP = -(.75 * math.log(.75) + .25 * math.log(.25))  # q=p=(.75,.25)
CE_SHARP_VS_HALF = math.log(2.)  # q=(.75,.25), p=(.5,.5)


def t(*rows):
    return torch.tensor([list(r) for r in rows])


def test_dino_loss_hand_computed():
    loss = MODELS.build(dict(type='DINOLoss', out_channels=2, student_temp=1., teacher_temp=1.))
    teacher = [t([0., 0.]), t([LN3, 0.])]  # global crops 0 and 1
    student = [t([0., 0.]), t([0., LN3]), t([LN3, 0.])]  # crops 0, 1, 2
    # pairs (teacher i, student j), i != j: (0,1) (0,2) (1,0) (1,2)
    expected = (CE_HALF_VS_QUARTER + CE_HALF_VS_QUARTER + CE_SHARP_VS_HALF + CE_SELF_SHARP) / 4
    assert loss(student, teacher).item() == pytest.approx(expected, abs=1e-6)
    # centre: 0.9 * 0 + 0.1 * mean of the teacher rows
    assert torch.allclose(loss.center, torch.tensor([[0.1 * LN3 / 2, 0.]]))


def test_dino_loss_temperatures_and_centre_against_direct_formula():
    torch.manual_seed(0)
    loss = MODELS.build(dict(type='DINOLoss', out_channels=5, student_temp=0.1, teacher_temp=0.04, center_momentum=0.9))
    loss.center.copy_(torch.randn(1, 5))
    centre = loss.center.clone()
    teacher = [torch.randn(3, 5) for _ in range(2)]
    student = [torch.randn(3, 5) for _ in range(4)]
    value = loss(student, teacher)
    total, n = 0., 0
    for i in range(2):
        q = torch.softmax((teacher[i] - centre) / 0.04, -1)
        for j in range(4):
            if i != j:
                total += (-(q * torch.log_softmax(student[j] / 0.1, -1)).sum(-1)).mean()
                n += 1
    assert n == 6
    assert torch.allclose(value, total / n, atol=1e-5)
    assert torch.allclose(loss.center, 0.9 * centre + 0.1 * torch.cat(teacher).mean(0), atol=1e-6)
    # the teacher temperature is read at call time (the hook sets it)
    loss.teacher_temp = 0.07
    q = loss.teacher_probs(teacher[0])
    assert torch.allclose(q, torch.softmax((teacher[0] - loss.center) / 0.07, -1))
    # gradient reaches the student only
    s = [x.clone().requires_grad_() for x in student]
    tt = [x.clone().requires_grad_() for x in teacher]
    loss(s, tt, update_center=False).backward()
    assert all(x.grad is not None for x in s) and all(x.grad is None for x in tt)


def test_dino_loss_bad_input():
    loss = MODELS.build(dict(type='DINOLoss', out_channels=2))
    with pytest.raises(ValueError, match='teacher outputs'):
        loss([torch.zeros(1, 2)], [torch.zeros(1, 2)] * 2)
    with pytest.raises(ValueError, match='pair'):
        loss([torch.zeros(1, 2)], [torch.zeros(1, 2)])
    with pytest.raises(ValueError, match='student_temp'):
        MODELS.build(dict(type='DINOLoss', out_channels=2, student_temp=0.))


def test_patch_loss_hand_computed():
    loss = MODELS.build(dict(type='SelfPatchLoss', out_channels=2, student_temp=1., teacher_temp=1.))
    # view 0: one patch; view 1: two patches (different grid sizes, like global and local crops)
    teacher = [torch.tensor([[[0., 0.]]]), torch.tensor([[[LN3, 0.], [0., 0.]]])]
    student = [torch.tensor([[[0., LN3]]]), torch.tensor([[[LN3, 0.], [0., 0.]]])]
    view0 = CE_HALF_VS_QUARTER
    view1 = (CE_SELF_SHARP + math.log(2.)) / 2  # q=(.5,.5) vs p=(.5,.5) is ln 2
    assert loss(student, teacher).item() == pytest.approx((view0 + view1) / 2, abs=1e-6)
    # patch centre: weighted by patches (3 in total), not by views
    assert torch.allclose(loss.center, torch.tensor([[0.1 * LN3 / 3, 0.]]))


def test_patch_loss_direct_formula_and_errors():
    torch.manual_seed(1)
    loss = MODELS.build(dict(type='SelfPatchLoss', out_channels=6))
    teacher = [torch.randn(2, 9, 6), torch.randn(2, 4, 6)]
    student = [torch.randn(2, 9, 6), torch.randn(2, 4, 6)]
    expected = sum((-(torch.softmax(tv / 0.04, -1) * torch.log_softmax(sv / 0.1, -1)).sum(-1)).mean()
                   for sv, tv in zip(student, teacher)) / 2
    assert torch.allclose(loss(student, teacher), expected, atol=1e-5)
    with pytest.raises(ValueError, match='same shape'):
        loss([torch.zeros(1, 2, 6)], [torch.zeros(1, 3, 6)])
    with pytest.raises(ValueError, match='one teacher output'):
        loss(student, teacher[:1])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _centre_worker(rank: int, port: int, queue) -> None:
    import torch.distributed as dist
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port))
    dist.init_process_group('gloo', rank=rank, world_size=2)
    loss = MODELS.build(dict(type='DINOLoss', out_channels=2, center_momentum=0.))
    # rank 0 holds 1 row, rank 1 holds 3 rows: the centre is the mean of all 4 rows on both ranks
    rows = torch.tensor([[4., 0.]]) if rank == 0 else torch.tensor([[0., 0.], [0., 4.], [0., 4.]])
    loss.update_center(rows)
    queue.put((rank, loss.center.tolist()))
    dist.destroy_process_group()


@pytest.mark.slow
def test_centre_is_all_reduced_across_ranks():
    ctx = mp.get_context('fork')  # no re-import of the whole stack in the workers
    queue = ctx.Queue()
    mp.start_processes(_centre_worker, args=(_free_port(), queue), nprocs=2, start_method='fork')
    results = dict(queue.get() for _ in range(2))
    assert results[0] == results[1] == [[1., 2.]]

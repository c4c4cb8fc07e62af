"""SCRL(channels_last=True) (issue 18's speed lever) computes what the default layout computes."""
import torch
from mmpretrain.registry import MODELS
from test_scrl import sample, scrl_cfg

import mmspatial  # noqa: F401


def _steps(channels_last: bool, num_steps: int = 2):
    torch.manual_seed(0)
    model = MODELS.build(scrl_cfg(channels_last=channels_last)).train()
    model.init_weights()
    model.set_target_schedule(100)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    gen = torch.Generator().manual_seed(1)
    views = [torch.randn(2, 3, 64, 64, generator=gen) for _ in range(2)]
    samples = [sample([[0, 0, 64, 64], [16, 8, 96, 88]], [False, True]) for _ in range(2)]
    losses = []
    for step in range(num_steps):
        torch.manual_seed(10 + step)  # the box sampler's draws
        loss = model.loss(views, samples)['loss']
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return model, losses


def test_channels_last_gives_the_same_losses_and_keeps_the_layout():
    model_nchw, ref = _steps(False)
    model_cl, got = _steps(True)
    assert ref[0] > 0
    torch.testing.assert_close(torch.tensor(got), torch.tensor(ref), rtol=1e-4, atol=1e-6)
    # the layout survives init_weights and the optimiser steps, on the online and the target backbone
    for backbone in (model_cl.backbone, model_cl.target_net.module[0]):
        conv = backbone.conv1.weight
        assert conv.is_contiguous(memory_format=torch.channels_last) and not conv.is_contiguous()
    assert model_nchw.backbone.conv1.weight.is_contiguous()
    # the state dicts hold the same values (checkpoints are interchangeable)
    sd_cl = model_cl.state_dict()
    model_nchw.load_state_dict(sd_cl)
    assert torch.equal(model_nchw.backbone.conv1.weight, sd_cl['backbone.conv1.weight'])

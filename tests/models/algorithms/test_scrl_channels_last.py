"""SCRL(channels_last=True) (issue 18's speed lever) computes what the default layout computes."""
import torch
from test_scrl import sgd_steps

import mmspatial  # noqa: F401


def test_channels_last_gives_the_same_losses_and_keeps_the_layout():
    model_nchw, ref = sgd_steps(channels_last=False)
    model_cl, got = sgd_steps(channels_last=True)
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

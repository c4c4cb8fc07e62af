"""SCRL(compile_cfg=True) (issue 18's torch.compile option) computes what the eager model computes."""
import shutil

import pytest
import torch
from mmpretrain.registry import MODELS
from test_scrl import sample, scrl_cfg

import mmspatial  # noqa: F401

# inductor builds C++ kernels on CPU
pytestmark = pytest.mark.skipif(
    not any(shutil.which(c) for c in ('g++', 'c++', 'clang++')), reason='torch.compile (inductor) needs a C++ compiler')


def _steps(compile_cfg, num_steps: int = 2):
    torch.manual_seed(0)
    model = MODELS.build(scrl_cfg(compile_cfg=compile_cfg)).train()
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


@pytest.mark.slow
def test_compiled_scrl_gives_the_eager_losses_and_state_dict_keys():
    model_eager, ref = _steps(None)
    model_compiled, got = _steps(dict(backend='inductor'))
    assert ref[0] > 0
    # compiled: backbone/projector/predictor really run through dynamo (in place: nn.Module.compile)
    for module in (model_compiled.backbone, model_compiled.neck, model_compiled.head.predictor,
                   *model_compiled.target_net.module):
        assert module._compiled_call_impl is not None
    assert model_eager.backbone._compiled_call_impl is None
    torch.testing.assert_close(torch.tensor(got), torch.tensor(ref), rtol=1e-4, atol=1e-6)
    # checkpoints are interchangeable: no `_orig_mod.` prefixes
    assert model_compiled.state_dict().keys() == model_eager.state_dict().keys()

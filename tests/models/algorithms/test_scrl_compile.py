"""SCRL(compile_cfg=True) (issue 18's torch.compile option) computes what the eager model computes."""
import shutil

import pytest
import torch
from test_scrl import sgd_steps

import mmspatial  # noqa: F401

# inductor builds C++ kernels on CPU
pytestmark = pytest.mark.skipif(
    not any(shutil.which(c) for c in ('g++', 'c++', 'clang++')), reason='torch.compile (inductor) needs a C++ compiler')


@pytest.mark.slow
def test_compiled_scrl_gives_the_eager_losses_and_state_dict_keys():
    model_eager, ref = sgd_steps(compile_cfg=None)
    model_compiled, got = sgd_steps(compile_cfg=dict(backend='inductor'))
    assert ref[0] > 0
    # compiled: backbone/projector/predictor really run through dynamo (in place: nn.Module.compile)
    for module in (model_compiled.backbone, model_compiled.neck, model_compiled.head.predictor,
                   *model_compiled.target_net.module):
        assert module._compiled_call_impl is not None
    assert model_eager.backbone._compiled_call_impl is None
    torch.testing.assert_close(torch.tensor(got), torch.tensor(ref), rtol=1e-4, atol=1e-6)
    # checkpoints are interchangeable: no `_orig_mod.` prefixes
    assert model_compiled.state_dict().keys() == model_eager.state_dict().keys()

"""ViTSimpleFPN: SelfPatch's deconv / identity / max-pool pyramid, registered for mmdet and mmseg."""
import pytest
import torch

import mmspatial  # noqa: F401
from mmspatial.models.necks.vit_simple_fpn import ViTSimpleFPN


def test_pyramid_shapes_and_branches():
    neck = ViTSimpleFPN(in_channels=8, norm_cfg=dict(type='BN'))
    feats = [torch.rand(2, 8, 4, 6) for _ in range(4)]  # stride 16 maps of a ViT/16
    outs = neck(feats)
    assert [tuple(o.shape) for o in outs] == [(2, 8, 16, 24), (2, 8, 8, 12), (2, 8, 4, 6), (2, 8, 2, 3)]
    # x4: deconv, norm, GELU, deconv; x2: one deconv; x1: identity; x0.5: 2x2 max-pool
    assert [type(m).__name__ for m in neck.ops[0]] == ['ConvTranspose2d', 'BatchNorm2d', 'GELU', 'ConvTranspose2d']
    assert type(neck.ops[1]).__name__ == 'ConvTranspose2d'
    assert outs[2] is feats[2]
    x = torch.tensor([[[[1., 5., 2., 0.], [3., 4., 7., 8.]]]])
    assert torch.equal(ViTSimpleFPN(1, scale_factors=(0.5, ))([x])[0], torch.tensor([[[[5., 8.]]]]))


def test_patch8_scales_and_errors():
    outs = ViTSimpleFPN(4, scale_factors=(2, 1, 0.5, 0.25))([torch.rand(1, 4, 8, 8)] * 4)
    assert [o.shape[-1] for o in outs] == [16, 8, 4, 2]
    with pytest.raises(ValueError, match='scale_factors'):
        ViTSimpleFPN(4, scale_factors=(3, ))
    with pytest.raises(ValueError, match='out_indices'):
        ViTSimpleFPN(4, norm_cfg=dict(type='BN'))([torch.rand(1, 4, 2, 2)] * 3)


def test_registered_for_mmdet_and_mmseg():
    from mmdet.registry import MODELS as DET
    from mmseg.registry import MODELS as SEG
    assert DET.get('ViTSimpleFPN') is ViTSimpleFPN and SEG.get('ViTSimpleFPN') is ViTSimpleFPN

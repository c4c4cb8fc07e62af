"""DepthFPNHead: mmseg's FPNHead with a sigmoid * max_depth output and SiLogLoss against gt_depth_map,
checked on constant outputs where both are hand-computable."""
import math

import pytest
import torch
from mmengine.registry import DefaultScope
from mmengine.structures import PixelData

from mmspatial.models.heads.depth_fpn_head import DepthFPNHead


def _head(**kwargs):
    cfg = dict(
        in_channels=[8, 8], in_index=[0, 1], feature_strides=[4, 8], channels=4, dropout_ratio=0., max_depth=10.0)
    cfg.update(kwargs)
    with DefaultScope.overwrite_default_scope('mmseg'):  # as in an mmseg config
        head = DepthFPNHead(**cfg)
    torch.nn.init.zeros_(head.conv_seg.weight)
    return head


def _sample(depth):
    from mmseg.structures import SegDataSample
    sample = SegDataSample()
    sample.gt_depth_map = PixelData(data=depth)
    return sample


def test_output_is_sigmoid_times_max_depth():
    head = _head()
    feats = [torch.rand(2, 8, 8, 8), torch.rand(2, 8, 4, 4)]
    torch.nn.init.constant_(head.conv_seg.bias, 0.)
    out = head(feats)
    assert out.shape == (2, 1, 8, 8)  # one channel at the first (stride-4) level
    torch.testing.assert_close(out, torch.full_like(out, 5.0))  # sigmoid(0) * 10
    torch.nn.init.constant_(head.conv_seg.bias, math.log(3.))  # sigmoid = 3/4
    torch.testing.assert_close(head(feats), torch.full_like(out, 7.5))


def test_silog_loss_on_the_label_grid():
    head = _head(max_depth=4.0)
    torch.nn.init.constant_(head.conv_seg.bias, 0.)  # prediction 2 m everywhere
    pred = head([torch.rand(1, 8, 4, 4), torch.rand(1, 8, 2, 2)])
    gt = torch.full((1, 12, 12), 4.0)  # larger than the prediction: resized to it
    gt[0, :2] = 0.  # invalid pixels are ignored
    losses = head.loss_by_feat(pred, [_sample(gt)])
    # d = log 4 - log 2 on every valid pixel: sqrt(d^2 - 0.5 d^2) = log(2) / sqrt(2)
    torch.testing.assert_close(losses['loss_silog'], torch.tensor(math.log(2.) / math.sqrt(2.)))
    # an exact prediction up to scale costs nothing: SiLog is scale invariant for a constant scene
    torch.testing.assert_close(
        head.loss_by_feat(pred, [_sample(torch.full((1, 12, 12), 2.0))])['loss_silog'], torch.tensor(0.))


def test_rejects_classes_and_bad_depth():
    with pytest.raises(ValueError, match='num_classes must be 1'):
        _head(num_classes=3)
    with pytest.raises(ValueError, match='max_depth must be positive'):
        _head(max_depth=0)

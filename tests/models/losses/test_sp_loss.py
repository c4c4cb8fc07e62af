import math

import pytest
import torch

from mmspatial.models.losses.sp_loss import SpatialRegressionLoss, spatial_prediction_boxes, spatial_prediction_targets


def test_targets_hand_placed_boxes():
    # Image 100 (h) x 200 (w). View 1: centre (30, 20), size 20 x 20. View 2: centre (130, 60),
    # size 40 x 10.
    b1 = torch.tensor([[20., 10., 40., 30.]])
    b2 = torch.tensor([[110., 55., 150., 65.]])
    t = spatial_prediction_targets(b1, b2, torch.tensor([[100., 200.]]))
    expected = torch.tensor([[100. / 200., 40. / 100., math.log(2.), math.log(0.5)]])
    assert torch.allclose(t, expected)
    t1 = spatial_prediction_targets(b1, b2, torch.tensor([[100., 200.]]), offset_norm='view1')
    assert torch.allclose(t1, torch.tensor([[100. / 20., 40. / 20., math.log(2.), math.log(0.5)]]))


def test_targets_swap_and_identity():
    b1 = torch.tensor([[0., 0., 10., 30.], [5., 5., 25., 15.]])
    b2 = torch.tensor([[40., 12., 60., 22.], [5., 5., 25., 15.]])
    size = torch.tensor([[50., 80.], [50., 80.]])
    t = spatial_prediction_targets(b1, b2, size)
    # Image-normalised targets are antisymmetric; identical boxes give 0.
    assert torch.allclose(spatial_prediction_targets(b2, b1, size), -t)
    assert torch.equal(t[1], torch.zeros(4))
    # numpy / list inputs and broadcast of one image size
    t_np = spatial_prediction_targets(b1.numpy(), b2.tolist(), [50., 80.])
    assert torch.allclose(t_np, t)


def test_targets_bad_input():
    with pytest.raises(ValueError, match='x2 > x1'):
        spatial_prediction_targets([[0., 0., 0., 5.]], [[0., 0., 5., 5.]], [10., 10.])
    with pytest.raises(ValueError, match='offset_norm'):
        spatial_prediction_targets([[0., 0., 1., 1.]], [[0., 0., 1., 1.]], [2., 2.], 'view2')


def test_loss_values():
    pred = torch.tensor([[0., 0., 0., 0.], [0.5, -2., 0., 1.]])
    target = torch.zeros(2, 4)
    # smooth-L1 (beta 1): 0.5 e^2 for |e| < 1, |e| - 0.5 otherwise -> (0.125 + 1.5 + 0.5) / 8
    assert torch.isclose(SpatialRegressionLoss()(pred, target), torch.tensor(2.125 / 8))
    assert torch.isclose(SpatialRegressionLoss('l1')(pred, target), torch.tensor(3.5 / 8))
    assert torch.isclose(SpatialRegressionLoss('l2')(pred, target), torch.tensor(5.25 / 8))
    weighted = SpatialRegressionLoss('l1', component_weights=[0, 0, 1, 1])(pred, target)
    assert torch.isclose(weighted, torch.tensor(1. / 8))
    with pytest.raises(ValueError, match='mode'):
        SpatialRegressionLoss('huber')
    with pytest.raises(ValueError, match='pred'):
        SpatialRegressionLoss()(pred, torch.zeros(2, 3))


@pytest.mark.parametrize('offset_norm', ['image', 'view1'])
def test_spatial_prediction_boxes_inverts_the_target(offset_norm):
    b1 = torch.tensor([[10., 20., 50., 40.], [0., 0., 30., 90.]])
    b2 = torch.tensor([[60., 5., 70., 45.], [40., 50., 100., 80.]])
    size = torch.tensor([120., 160.])
    target = spatial_prediction_targets(b1, b2, size.expand(2, 2), offset_norm)
    torch.testing.assert_close(spatial_prediction_boxes(b1, target, size, offset_norm), b2)
    # a zero target is view 1 itself
    torch.testing.assert_close(spatial_prediction_boxes(b1, torch.zeros(2, 4), size, offset_norm), b1)

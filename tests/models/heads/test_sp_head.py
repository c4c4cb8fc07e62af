import pytest
import torch

from mmspatial.models.heads.sp_head import SpatialPredictionHead, pair_features
from mmspatial.models.losses.sp_loss import spatial_prediction_targets


def test_pair_features():
    e1, e2 = torch.tensor([[1., 2.]]), torch.tensor([[3., 5.]])
    assert torch.equal(
        pair_features(e1, e2, ('concat', 'diff', 'prod')), torch.tensor([[1., 2., 3., 5., -2., -3., 3., 10.]]))
    with pytest.raises(ValueError, match='unknown pair feature'):
        pair_features(e1, e2, ('sum', ))


@pytest.mark.parametrize('fusion,num_layers,norm', [(('concat', ), 2, dict(type='BN1d')),
                                                    (('concat', 'diff', 'prod'), 3, dict(type='LN')),
                                                    (('diff', ), 1, None)])
def test_head_shapes(fusion, num_layers, norm):
    head = SpatialPredictionHead(in_channels=16, hid_channels=8, num_layers=num_layers, fusion=fusion, norm_cfg=norm)
    first = head.mlp[0]
    assert first.in_features == 16 * (len(fusion) + ('concat' in fusion))
    out = head(torch.randn(5, 16), torch.randn(5, 16))
    assert out.shape == (5, 4)
    with pytest.raises(ValueError, match='expects two'):
        head(torch.randn(5, 16), torch.randn(5, 8))


def test_head_loss_and_gradients():
    torch.manual_seed(0)
    head = SpatialPredictionHead(
        in_channels=4, hid_channels=8, num_layers=1, loss=dict(type='SpatialRegressionLoss', mode='l2'))
    e1 = torch.randn(3, 4, requires_grad=True)
    e2 = torch.randn(3, 4)
    b1 = torch.tensor([[0., 0., 10., 10.]] * 3)
    b2 = torch.tensor([[10., 0., 30., 10.]] * 3)
    size = torch.tensor([[20., 40.]] * 3)
    loss = head.loss(e1, e2, b1, b2, size)
    target = spatial_prediction_targets(b1, b2, size)
    assert torch.isclose(loss, ((head(e1, e2) - target)**2).mean())
    loss.backward()
    assert e1.grad is not None and e1.grad.abs().sum() > 0
    sym = SpatialPredictionHead(in_channels=4, num_layers=1, symmetric=True)
    sym.load_state_dict(head.state_dict())
    sym_loss = sym.loss(e1, e2, b1, b2, size)
    swapped = sym.loss_module(sym(e2, e1), spatial_prediction_targets(b2, b1, size))
    assert torch.isclose(sym_loss, (sym.loss_module(sym(e1, e2), target) + swapped) / 2)


def test_head_bad_config():
    with pytest.raises(ValueError, match='fusion'):
        SpatialPredictionHead(in_channels=4, fusion=())
    with pytest.raises(ValueError, match='offset_norm'):
        SpatialPredictionHead(in_channels=4, offset_norm='view2')
    with pytest.raises(ValueError, match='norm_cfg'):
        SpatialPredictionHead(in_channels=4, norm_cfg=dict(type='GN'))

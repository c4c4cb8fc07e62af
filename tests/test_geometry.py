"""Pure view-geometry functions against hand-computed coordinates."""
import pytest
import torch

from mmspatial.geometry import (ViewGeometry, box_intersection, box_iou_pairwise, boxes_image_to_view,
                                boxes_view_to_image, clip_boxes, map_boxes_between_views, points_image_to_view,
                                points_view_to_image)


def test_points_image_to_view_hand_computed():
    # crop x in [10, 50) -> 80 px wide view: scale 2; y in [20, 40) -> 40 px high view: scale 2
    crop, size = torch.tensor([10., 20., 50., 40.]), torch.tensor([40., 80.])
    pts = torch.tensor([[10., 20.], [30., 30.], [50., 40.]])
    out = points_image_to_view(pts, crop, False, size)
    assert torch.allclose(out, torch.tensor([[0., 0.], [40., 20.], [80., 40.]]))
    flipped = points_image_to_view(pts, crop, True, size)
    assert torch.allclose(flipped, torch.tensor([[80., 0.], [40., 20.], [0., 40.]]))


def test_points_round_trip_non_square():
    crop, size = torch.tensor([3., 7., 103., 57.]), torch.tensor([32., 96.])
    pts = torch.rand(20, 2) * 100
    for flip in (False, True):
        back = points_view_to_image(points_image_to_view(pts, crop, flip, size), crop, flip, size)
        assert torch.allclose(back, pts, atol=1e-4)


def test_boxes_flip_reorders_corners():
    crop, size = torch.tensor([0., 0., 100., 100.]), torch.tensor([100., 100.])
    box = torch.tensor([10., 20., 30., 60.])
    out = boxes_image_to_view(box, crop, True, size)
    # SCRL (after commit 33e8b6e): (l, r) <- (S - r, S - l)
    assert torch.allclose(out, torch.tensor([70., 20., 90., 60.]))
    assert torch.allclose(boxes_view_to_image(out, crop, True, size), box)


def test_scrl_formula_matches():
    """l_k = box_x * (s_wk / s_wmin) + (int_l - x_k) * s_wk from kakaobrain/scrl box_generator."""
    S = 224.
    x1, w1, x2, w2 = 40., 100., 80., 160.
    s_w1, s_w2 = S / w1, S / w2
    s_wmin = min(s_w1, s_w2)
    int_l = max(x1, x2)
    box_x = 10.  # in the canonical (less zoomed) frame, relative to the intersection
    expected_l2 = box_x * (s_w2 / s_wmin) + (int_l - x2) * s_w2
    box_in_image = int_l + box_x / s_wmin
    crop2 = torch.tensor([x2, 0., x2 + w2, 100.])
    got = points_image_to_view(torch.tensor([box_in_image, 0.]), crop2, False, torch.tensor([S, S]))
    assert got[0].item() == pytest.approx(expected_l2, rel=1e-5)


def test_batched_views_broadcast_over_boxes():
    crops = torch.tensor([[0., 0., 10., 10.], [10., 10., 30., 30.]])
    flips = torch.tensor([False, True])
    sizes = torch.tensor([[20., 20.], [20., 20.]])
    boxes = torch.tensor([[[0., 0., 5., 5.], [5., 5., 10., 10.]], [[10., 10., 20., 20.], [20., 20., 30.,
                                                                                          30.]]])  # B=2, N=2
    out = boxes_image_to_view(boxes, crops, flips, sizes)
    assert out.shape == (2, 2, 4)
    assert torch.allclose(out[0, 1], torch.tensor([10., 10., 20., 20.]))
    assert torch.allclose(out[1, 0], torch.tensor([10., 0., 20., 10.]))  # scale 1, flipped


def test_intersection_and_no_overlap():
    a = torch.tensor([[0., 0., 10., 10.], [0., 0., 10., 10.], [0., 0., 10., 10.]])
    b = torch.tensor([[5., 5., 15., 15.], [10., 0., 20., 10.], [20., 20., 30., 30.]])
    inter, valid = box_intersection(a, b)
    assert valid.tolist() == [True, False, False]  # touching edges do not overlap
    assert torch.allclose(inter[0], torch.tensor([5., 5., 10., 10.]))


def test_iou_and_clip():
    a = torch.tensor([[0., 0., 10., 10.]])
    b = torch.tensor([[0., 0., 10., 10.], [5., 0., 15., 10.], [20., 20., 30., 30.]])
    iou = box_iou_pairwise(a, b)
    assert torch.allclose(iou, torch.tensor([[1., 50. / 150., 0.]]))
    clipped = clip_boxes(torch.tensor([[-5., -1., 50., 8.]]), torch.tensor([10., 40.]))
    assert torch.allclose(clipped, torch.tensor([[0., 0., 40., 8.]]))


def test_map_between_views_and_back():
    g1 = ViewGeometry(
        torch.tensor([[10., 10., 60., 60.]]), torch.tensor([True]), torch.tensor([[32., 32.]]),
        torch.tensor([[100., 100.]]))
    g2 = ViewGeometry(
        torch.tensor([[30., 20., 90., 100.]]), torch.tensor([False]), torch.tensor([[64., 48.]]),
        torch.tensor([[100., 100.]]))
    box_img = torch.tensor([[[35., 25., 55., 45.]]])
    in1 = g1.image_to_view(box_img)
    in2 = map_boxes_between_views(in1, g1, g2)
    assert torch.allclose(in2, g2.image_to_view(box_img), atol=1e-4)
    assert torch.allclose(g2.view_to_image(in2), box_img, atol=1e-4)


def test_invalid_crop_raises():
    with pytest.raises(ValueError, match='crop_bbox'):
        points_image_to_view(torch.zeros(1, 2), torch.tensor([5., 5., 5., 10.]), False, torch.tensor([10., 10.]))

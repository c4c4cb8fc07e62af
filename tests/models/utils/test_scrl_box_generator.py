"""SCRL box pairs: canonical frame, mapping, flips, IoU rejection, skips, and pixel content."""
import numpy as np
import pytest
import torch
from torchvision.ops import roi_align

from mmspatial.geometry import ViewGeometry, box_iou_pairwise, boxes_view_to_image
from mmspatial.models.utils.scrl_box_generator import SCRLBoxes, SCRLBoxGenerator


def geometry(crops, flips, sizes, image=(200., 240.)) -> ViewGeometry:
    crops = torch.tensor(crops, dtype=torch.float32).view(-1, 4)
    n = crops.shape[0]
    return ViewGeometry(crops,
                        torch.tensor(flips, dtype=torch.bool).view(n),
                        torch.tensor(sizes, dtype=torch.float32).view(n, 2),
                        torch.tensor([image] * n, dtype=torch.float32))


# Image 1: view 1 shows x,y in [0, 100) at 2x (200 px), view 2 shows [50, 200) at 1x (150 px).
# The intersection is [50, 100)^2; the less zoomed view is view 2 (scale 1), so the canonical frame
# is the 50 x 50 intersection at original resolution.
V1 = dict(crops=[0., 0., 100., 100.], sizes=[200., 200.])
V2 = dict(crops=[50., 50., 200., 200.], sizes=[150., 150.])


def test_canonical_frame_hand_computed():
    gen = SCRLBoxGenerator()
    # second image, anisotropic zooms: view 1 (sx, sy) = (240/120, 60/60) = (2, 1),
    # view 2 = (90/60, 120/60) = (1.5, 2); the canonical frame takes (1.5, 1) = the less zoomed per axis
    v1 = geometry([V1['crops'], [0., 0., 120., 60.]], [False, False], [V1['sizes'], [60., 240.]])
    v2 = geometry([V2['crops'], [20., 10., 80., 70.]], [False, False], [V2['sizes'], [120., 90.]])
    inter, scale, size, valid = gen.canonical_frame(v1, v2)
    assert torch.equal(inter, torch.tensor([[50., 50., 100., 100.], [20., 10., 80., 60.]]))
    assert torch.allclose(scale, torch.tensor([[1., 1.], [1.5, 1.]]))
    assert torch.equal(size, torch.tensor([[50., 50.], [90., 50.]]))
    assert valid.tolist() == [True, True]


def test_to_view_hand_computed_with_flips():
    gen = SCRLBoxGenerator()
    canon = torch.tensor([[[10., 5., 45., 40.]]])  # -> original (60, 55, 95, 90)
    inter, scale = torch.tensor([[50., 50., 100., 100.]]), torch.tensor([[1., 1.]])
    v1 = geometry(V1['crops'], [False], V1['sizes'])
    v2 = geometry(V2['crops'], [False], V2['sizes'])
    assert torch.allclose(gen.to_view(canon, inter, scale, v1), torch.tensor([[[120., 110., 190., 180.]]]))
    assert torch.allclose(gen.to_view(canon, inter, scale, v2), torch.tensor([[[10., 5., 45., 40.]]]))
    # reference after commit 33e8b6e: (l, r) <- (S - r, S - l)
    v1f = geometry(V1['crops'], [True], V1['sizes'])
    v2f = geometry(V2['crops'], [True], V2['sizes'])
    assert torch.allclose(gen.to_view(canon, inter, scale, v1f), torch.tensor([[[10., 110., 80., 180.]]]))
    assert torch.allclose(gen.to_view(canon, inter, scale, v2f), torch.tensor([[[105., 5., 140., 40.]]]))


def test_to_view_clips_to_view():
    gen = SCRLBoxGenerator()
    canon = torch.tensor([[[-5., 0., 55., 50.]]])  # sticks out of the frame on both sides
    out = gen.to_view(canon, torch.tensor([[50., 50., 100., 100.]]), torch.tensor([[1., 1.]]),
                      geometry(V1['crops'], [False], V1['sizes']))
    assert torch.allclose(out, torch.tensor([[[90., 100., 200., 200.]]]))


def test_generated_pairs_cover_the_same_region():
    torch.manual_seed(0)
    n = 64
    crops1 = torch.tensor([[0., 0., 150., 120.]]).repeat(n, 1) + torch.rand(n, 1) * 40
    crops2 = torch.tensor([[30., 20., 230., 190.]]).repeat(n, 1) - torch.rand(n, 1) * 20
    flips1, flips2 = torch.rand(n) < 0.5, torch.rand(n) < 0.5
    v1 = ViewGeometry(crops1, flips1, torch.tensor([[96., 128.]]).repeat(n, 1), torch.zeros(n, 2))
    v2 = ViewGeometry(crops2, flips2, torch.tensor([[64., 64.]]).repeat(n, 1), torch.zeros(n, 2))
    for grid_based in (True, False):
        gen = SCRLBoxGenerator(min_size=16, grid_based=grid_based)
        out = gen.generate(v1, v2)
        assert out.valid.all()
        img1 = boxes_view_to_image(out.boxes1, crops1[:, None], flips1[:, None], v1.view_size[:, None])
        img2 = boxes_view_to_image(out.boxes2, crops2[:, None], flips2[:, None], v2.view_size[:, None])
        # the canonical frame is rounded to whole pixels, so it may overhang the intersection by half
        # a canonical pixel, which clipping removes in one view only
        overhang = 0.5 / gen.canonical_frame(v1, v2)[1].min(dim=1).values
        assert ((img1 - img2).abs().amax(dim=(1, 2)) <= overhang + 1e-3).all()
        assert (img1 - img2).abs().mean() < 0.05
        w = out.boxes1[..., 2] - out.boxes1[..., 0]
        assert (w > 0).all()


def test_canonical_boxes_respect_min_size_and_frame():
    torch.manual_seed(1)
    size = torch.tensor([[100., 70.], [33., 200.]])
    for grid_based in (True, False):
        gen = SCRLBoxGenerator(min_size=32, grid_based=grid_based)
        boxes = gen.sample_canonical(size, (50, 20))
        wh = boxes[..., 2:] - boxes[..., :2]
        assert (wh >= 32).all()
        assert (boxes[..., :2] >= 0).all()
        assert (boxes[..., 2:] <= size[:, None, None]).all()
        assert torch.equal(boxes, boxes.round())  # integer boxes, as the reference draws
    # grid-based sampling gives small boxes far more often than uniform sampling only if the grid
    # is actually used: in a 320 px frame most grid cells are narrower than 160 px
    big = torch.tensor([[320., 320.]])
    grid_w = SCRLBoxGenerator(grid_based=True).sample_canonical(big, (2000, ))
    unif_w = SCRLBoxGenerator(grid_based=False).sample_canonical(big, (2000, ))
    mean_width = lambda b: (b[..., 2] - b[..., 0]).float().mean()  # noqa: E731
    assert mean_width(grid_w) < mean_width(unif_w) - 30  # ~63 vs ~175 px


@pytest.mark.parametrize('inter_px, kept', [(32., False), (33., True)])
def test_min_size_skip_in_less_zoomed_frame(inter_px, kept):
    # view 1 zooms 4x and view 2 1x; the intersection is inter_px original pixels wide, i.e.
    # 4 * inter_px in view 1 but inter_px in the canonical (view 2) frame
    v1 = geometry([0., 0., 50., 50.], [False], [200., 200.])
    v2 = geometry([50. - inter_px, 50. - inter_px, 150., 150.], [False], [100. + inter_px] * 2)
    out = SCRLBoxGenerator(min_size=32).generate(v1, v2)
    assert out.valid.all().item() is kept and out.valid.any().item() is kept
    assert out.num_boxes == (10 if kept else 0)


def test_no_overlap_and_touching_give_no_boxes():
    v1 = geometry([[0., 0., 100., 100.], [0., 0., 100., 100.]], [False, True], [[64., 64.]] * 2)
    v2 = geometry([[100., 0., 200., 100.], [120., 120., 200., 200.]], [True, False], [[64., 64.]] * 2)
    out = SCRLBoxGenerator().generate(v1, v2)
    assert out.num_boxes == 0
    assert out.rois(0).shape == (0, 5) and out.rois(1, batch_offset=2).shape == (0, 5)


def test_number_of_boxes_and_roi_batch_index():
    torch.manual_seed(2)
    # images 0 and 2 overlap, image 1 does not
    v1 = geometry([[0., 0., 150., 150.], [0., 0., 50., 50.], [20., 20., 200., 200.]], [False] * 3, [[96., 96.]] * 3)
    v2 = geometry([[10., 10., 200., 200.], [100., 100., 200., 200.], [0., 0., 180., 180.]], [False, False, True],
                  [[96., 96.]] * 3)
    out = SCRLBoxGenerator(num_boxes=7).generate(v1, v2)
    assert out.valid.sum(1).tolist() == [7, 0, 7]
    r1, r2 = out.rois(0), out.rois(1, batch_offset=3)
    assert r1[:, 0].tolist() == [0.] * 7 + [2.] * 7
    assert r2[:, 0].tolist() == [3.] * 7 + [5.] * 7
    assert torch.equal(r1[:, 1:], out.boxes1[out.valid])


def test_first_acceptable_hand_computed():
    earlier = torch.tensor([[[0., 0., 10., 10.]], [[0., 0., 10., 10.]]])
    # row 0: IoU 1, 0.6, 0 -> the third draw is the first acceptable one
    # row 1: IoU 1, 0.6, 0.5 -> none (0.5 is rejected: the reference keeps a box if `max_iou < thr`)
    draws = torch.tensor([[[0., 0., 10., 10.], [0., 0., 10., 6.], [20., 20., 30., 30.]],
                          [[0., 0., 10., 10.], [0., 0., 10., 6.], [0., 0., 10., 5.]]])
    box, found = SCRLBoxGenerator(iou_threshold=0.5).first_acceptable(draws, earlier)
    assert found.tolist() == [True, False]
    assert torch.equal(box, torch.tensor([[20., 20., 30., 30.], [0., 0., 10., 5.]]))  # else the last


@pytest.mark.parametrize('on_failure', ['keep_last', 'stop'])
def test_on_failure_modes(on_failure):
    """A frame so small that a second box cannot avoid the first: every box after the first fails."""
    gen = SCRLBoxGenerator(num_boxes=3, min_size=32, on_failure=on_failure)
    v1 = geometry([[0., 0., 36., 36.], [0., 0., 20., 20.]], [False, False], [[36., 36.], [20., 20.]])
    v2 = geometry([[0., 0., 36., 36.], [0., 0., 20., 20.]], [True, False], [[36., 36.], [20., 20.]])
    out = gen.generate(v1, v2)
    # image 0: 36 px frame, two boxes of 32..36 px overlap with IoU >= 28^2 / (2 * 32^2 - 28^2) = 0.62;
    # image 1 is skipped (20 px)
    expected = [[True, True, True], [False] * 3] if on_failure == 'keep_last' else \
        [[True, False, False], [False] * 3]
    assert out.valid.tolist() == expected


def _random_pair(n=32, seed=0):
    g = torch.Generator().manual_seed(seed)
    crops1 = torch.tensor([[0., 0., 120., 120.]]).repeat(n, 1) + torch.rand(n, 1, generator=g) * 20
    crops2 = torch.tensor([[10., 10., 140., 140.]]).repeat(n, 1)
    size = torch.tensor([[112., 112.]]).repeat(n, 1)
    flips = torch.rand(n, generator=g) < 0.5
    return (ViewGeometry(crops1, flips, size, torch.zeros(n, 2)), ViewGeometry(crops2, ~flips, size, torch.zeros(n, 2)))


def test_iou_rejection_statistics():
    v1, v2 = _random_pair()

    def max_pairwise_iou(out: SCRLBoxes):
        iou = box_iou_pairwise(out.boxes1, out.boxes1)
        pair = out.valid[:, :, None] & out.valid[:, None, :]
        pair &= ~torch.eye(iou.shape[-1], dtype=torch.bool)
        return iou[pair]

    torch.manual_seed(0)
    unfiltered = max_pairwise_iou(SCRLBoxGenerator(iou_threshold=1.0).generate(v1, v2))
    assert (unfiltered >= 0.5).any()  # without filtering, overlapping boxes do occur
    torch.manual_seed(0)
    stop = SCRLBoxGenerator(on_failure='stop').generate(v1, v2)
    assert (max_pairwise_iou(stop) < 0.5).all()
    torch.manual_seed(0)
    keep = SCRLBoxGenerator(on_failure='keep_last').generate(v1, v2)
    assert keep.num_boxes == 10 * 32
    # keep_last violates the threshold only when 50 draws failed; that is rare here
    assert (max_pairwise_iou(keep) >= 0.5).float().mean() < 0.05


def test_generator_is_reproducible_with_a_generator():
    v1, v2 = _random_pair()
    a = SCRLBoxGenerator().generate(v1, v2, torch.Generator().manual_seed(3))
    b = SCRLBoxGenerator().generate(v1, v2, torch.Generator().manual_seed(3))
    assert torch.equal(a.boxes1, b.boxes1) and torch.equal(a.boxes2, b.boxes2)


def test_bad_arguments():
    with pytest.raises(ValueError, match='on_failure'):
        SCRLBoxGenerator(on_failure='drop')
    with pytest.raises(ValueError, match='num_boxes'):
        SCRLBoxGenerator(num_boxes=0)
    v1, v2 = _random_pair(4)
    with pytest.raises(ValueError, match='same batch'):
        SCRLBoxGenerator().generate(v1, ViewGeometry(v2.crop_bbox[:3], v2.flip[:3], v2.view_size[:3],
                                                     v2.image_size[:3]))


def test_boxes_show_the_same_pixels_in_both_views():
    """Real views from the pipeline transforms of an image whose pixels encode their own position."""
    from mmengine.registry import DefaultScope
    from mmpretrain.structures import DataSample

    from mmspatial.datasets.transforms.geometric import MultiViewWithGeometry
    from mmspatial.geometry import collect_view_geometry

    h, w = 180, 240
    yy, xx = np.mgrid[0:h, 0:w]
    img = np.stack([xx, yy, np.zeros_like(xx)], -1).astype(np.uint8)  # R = x, G = y (BGR order moot)
    view = [
        dict(type='RandomResizedCropWithBox', scale=96, crop_ratio_range=(0.3, 1.0)),
        dict(type='RandomFlipWithFlag', prob=0.5)
    ]
    with DefaultScope.overwrite_default_scope('mmpretrain'):  # as inside a Runner
        wrapper = MultiViewWithGeometry([view], num_views=2)
    np.random.seed(0)
    torch.manual_seed(0)
    samples, views = [], [[], []]
    for _ in range(12):
        res = wrapper.transform(dict(img=img.copy()))
        sample = DataSample()
        sample.set_field(res['view_bboxes'], 'view_bboxes')
        sample.set_field(res['view_flips'], 'view_flips')
        sample.set_field(res['view_shapes'], 'view_shapes')
        sample.set_field(res['ori_img_shape'], 'ori_img_shape')
        samples.append(sample)
        for v in range(2):
            views[v].append(torch.from_numpy(res['img'][v]).permute(2, 0, 1).float())
    geo = collect_view_geometry(samples)
    out = SCRLBoxGenerator(min_size=16).generate(geo[0], geo[1])
    assert out.num_boxes > 50
    # average position (R, G) of the pixels under each box, in both views
    pooled = [
        roi_align(torch.stack(views[v]), out.rois(v), output_size=1, sampling_ratio=4, aligned=True)[:, :2, 0, 0]
        for v in range(2)
    ]
    err = (pooled[0] - pooled[1]).abs()
    assert err.max() < 2.0, err.max()
    # and this is a real check: boxes paired with the wrong image region disagree
    shuffled = pooled[1].roll(1, dims=0)
    assert (pooled[0] - shuffled).abs().max() > 10

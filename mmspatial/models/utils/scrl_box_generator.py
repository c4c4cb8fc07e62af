"""Spatially matched box pairs for SCRL, sampled in the intersection of two views.

Reference: kakaobrain/scrl ``models/box_generator.py`` (``SCRLBoxGenerator``, master @62730fb, flip fix
of commit 33e8b6e), see also https://github.com/kakaobrain/scrl/issues/2. The reference loops over
images, boxes and tries in Python; here all images and all tries are drawn at once with torch and only
the (short, sequential) loop over the boxes of an image remains, so a batch of 256 costs a few ms.
"""
from dataclasses import dataclass
from typing import Optional, Tuple

import torch
from mmpretrain.registry import MODELS
from torch import Tensor

from mmspatial.geometry import ViewGeometry, box_intersection, box_iou_pairwise, clip_boxes

__all__ = ['SCRLBoxes', 'SCRLBoxGenerator']


@dataclass
class SCRLBoxes:
    """Box pairs for a batch, padded to ``num_boxes`` per image.

    Attributes:
        boxes1 (Tensor): ``(B, K, 4)`` boxes in view-1 pixels ``(x1, y1, x2, y2)``, clipped to the view.
        boxes2 (Tensor): ``(B, K, 4)`` the same regions in view-2 pixels.
        valid (Tensor): ``(B, K)`` bool; False for padding (image skipped, or a box given up on).
    """
    boxes1: Tensor
    boxes2: Tensor
    valid: Tensor

    @property
    def num_boxes(self) -> int:
        return int(self.valid.sum())

    def rois(self, view: int, batch_offset: int = 0) -> Tensor:
        """Valid boxes of one view as ``(N, 5)`` rows ``(batch_index, x1, y1, x2, y2)`` for
        ``torchvision.ops.roi_align``; ``batch_offset`` shifts the batch index (``B`` for view 2 when
        the two views run through the backbone as one concatenated batch)."""
        boxes = (self.boxes1, self.boxes2)[view]
        batch_idx = torch.arange(boxes.shape[0], device=boxes.device)[:, None].expand_as(self.valid)
        index = (batch_idx[self.valid] + batch_offset).to(boxes.dtype)
        return torch.cat([index[:, None], boxes[self.valid]], dim=1)


def _randint(low: Tensor, high: Tensor, generator: Optional[torch.Generator]) -> Tensor:
    """Integers uniform in ``[low, high)`` element-wise (``numpy.random.randint`` with tensor bounds;
    float bounds are truncated as numpy does)."""
    low, high = torch.broadcast_tensors(low.floor(), high.floor())
    u = torch.rand(low.shape, generator=generator, device=low.device)
    return (low + (u * (high - low)).floor()).clamp(max=high - 1)


@MODELS.register_module()
class SCRLBoxGenerator:
    """Sample ``num_boxes`` box pairs per image that cover the same image region in two views.

    For each image (reference ``SCRLBoxGenerator.generate``):

    1. intersect the two crops in original-image pixels; no overlap -> no boxes;
    2. work in the *canonical frame*: the intersection at the scale of the less-zoomed view
       (``s = min(view_size / crop_size)`` per axis), of integer size ``round(intersection * s)``;
       if a side is ``<= min_size`` the image is skipped;
    3. draw integer boxes with sides ``>= min_size`` in that frame: ``grid_based=True`` (reference
       default) splits it into a random ``div_w x div_h`` grid and places a box inside a random cell;
       ``grid_based=False`` draws plain uniform boxes;
    4. a box whose IoU (in view-1 pixels) with an earlier box of the same image is ``>= iou_threshold``
       is redrawn, up to ``max_tries`` draws; ``iou_threshold >= 1`` disables the check;
    5. map every box into each view (flip mirrored as ``w - x``, the reference after commit 33e8b6e)
       and clip it to the view.

    When all ``max_tries`` draws fail, ``on_failure='keep_last'`` keeps the last draw as the reference
    code does (so every kept image has exactly ``num_boxes`` boxes); ``on_failure='stop'`` stops
    sampling for that image, the rule the author describes in scrl issue #2 ("we just stop there").

    The reference's ``box_jittering`` (off in all its configs) is not implemented.

    Args:
        num_boxes (int): boxes per image (``num_patches_per_image``). Defaults to 10.
        min_size (float): minimum box side in the canonical frame, in pixels. Defaults to 32.
        iou_threshold (float): rejection threshold between boxes of one image. Defaults to 0.5.
        max_tries (int): draws per box. Defaults to 50.
        grid_based (bool): grid-based sampling (reference ``grid_based_box_gen``). Defaults to True.
        on_failure (str): ``'keep_last'`` (reference code) or ``'stop'`` (issue #2). Defaults to
            ``'keep_last'``.
    """

    ON_FAILURE = ('keep_last', 'stop')
    _FIRST_TRIES = 4  # draws made up front per box; enough for most boxes

    def __init__(self,
                 num_boxes: int = 10,
                 min_size: float = 32.,
                 iou_threshold: float = 0.5,
                 max_tries: int = 50,
                 grid_based: bool = True,
                 on_failure: str = 'keep_last') -> None:
        if num_boxes < 1 or max_tries < 1:
            raise ValueError(f'num_boxes and max_tries must be >= 1, got {num_boxes}, {max_tries}')
        if min_size < 1:
            raise ValueError(f'min_size must be >= 1 pixel, got {min_size}')
        if on_failure not in self.ON_FAILURE:
            raise ValueError(f'on_failure must be one of {self.ON_FAILURE}, got {on_failure!r}')
        self.num_boxes = num_boxes
        self.min_size = float(min_size)
        self.iou_threshold = iou_threshold
        self.max_tries = max_tries
        self.grid_based = grid_based
        self.on_failure = on_failure

    def canonical_frame(self, view1: ViewGeometry, view2: ViewGeometry):
        """Intersection of the crops and its canonical frame.

        Returns:
            tuple: ``inter (B, 4)`` in original pixels, ``scale (B, 2)`` = ``(sx, sy)`` of the
            less-zoomed view, ``size (B, 2)`` = ``(w, h)`` of the frame (integers, as floats) and
            ``valid (B,)`` (overlapping and larger than ``min_size`` on both sides).
        """
        inter, valid = box_intersection(view1.crop_bbox, view2.crop_bbox)
        scale = torch.minimum(self._scale(view1), self._scale(view2))
        size = torch.round((inter[:, 2:] - inter[:, :2]).clamp(min=0) * scale)
        valid = valid & (size > self.min_size).all(dim=1)
        return inter, scale, size, valid

    @staticmethod
    def _scale(view: ViewGeometry) -> Tensor:
        """``(B, 2)`` view pixels per original pixel, ``(sx, sy)``."""
        crop = view.crop_bbox.float()
        return view.view_size.float().flip(-1) / (crop[:, 2:] - crop[:, :2])

    def sample_canonical(self, size: Tensor, shape, generator: Optional[torch.Generator] = None) -> Tensor:
        """Draw integer boxes in canonical frames of sizes ``size (B, 2)``.

        Args:
            size (Tensor): ``(B, 2)`` frame sizes ``(w, h)``, each ``> min_size``.
            shape (tuple): extra sample dims, e.g. ``(K, T)``.

        Returns:
            Tensor: ``(B, *shape, 4)`` boxes ``(x1, y1, x2, y2)`` in the canonical frame.
        """
        size = size.view(size.shape[0], *([1] * len(shape)), 2).expand(size.shape[0], *shape, 2)
        lo = torch.full_like(size, self.min_size)
        if self.grid_based:
            div = _randint(torch.ones_like(size), (size / self.min_size).floor() + 1, generator)
            cell = size / div
            cell_idx = _randint(torch.zeros_like(size), div, generator)
            wh = _randint(lo, cell + 1, generator)
            xy = _randint(torch.zeros_like(size), cell - wh + 1, generator) + (cell_idx * cell).floor()
        else:
            wh = _randint(lo, size, generator)
            xy = _randint(torch.zeros_like(size), size - wh, generator)
        return torch.cat([xy, xy + wh], dim=-1)

    @staticmethod
    def to_view(boxes: Tensor, inter: Tensor, scale: Tensor, view: ViewGeometry) -> Tensor:
        """Map ``(B, ..., 4)`` canonical-frame boxes into ``view``'s pixels, clipped to the view."""
        shape = (inter.shape[0], *([1] * (boxes.dim() - 2)), 4)
        origin = torch.cat([inter[:, :2], inter[:, :2]], dim=1).view(shape)  # (x1, y1, x1, y1)
        scale = torch.cat([scale, scale], dim=1).view(shape)  # (sx, sy, sx, sy)
        return clip_boxes(view.image_to_view(origin + boxes / scale), view.view_size)

    def __call__(self,
                 view1: ViewGeometry,
                 view2: ViewGeometry,
                 generator: Optional[torch.Generator] = None) -> SCRLBoxes:
        return self.generate(view1, view2, generator)

    @torch.no_grad()
    def generate(self,
                 view1: ViewGeometry,
                 view2: ViewGeometry,
                 generator: Optional[torch.Generator] = None) -> SCRLBoxes:
        """Sample box pairs for a batch.

        Args:
            view1 (ViewGeometry): geometry of view 1 (``B`` images).
            view2 (ViewGeometry): geometry of view 2 of the same images.
            generator (torch.Generator, optional): random source (the global one by default).

        Returns:
            SCRLBoxes: ``(B, num_boxes)`` box pairs with their validity mask.
        """
        num_images = view1.crop_bbox.shape[0]
        if view2.crop_bbox.shape[0] != num_images:
            raise ValueError(f'the two views describe {num_images} and {view2.crop_bbox.shape[0]} '
                             'images; they must come from the same batch')
        inter, scale, size, image_valid = self.canonical_frame(view1, view2)
        # Skipped images get a dummy frame so that sampling stays well defined; masked out below.
        size = torch.where(image_valid[:, None], size, torch.full_like(size, self.min_size + 1))
        valid = image_valid[:, None].repeat(1, self.num_boxes)
        if self.iou_threshold < 1 and self.num_boxes > 1:
            chosen = self._sample_with_rejection(size, valid, generator)
        else:  # no filtering: every box is the first draw (reference: `iou_threshold == 1.0`)
            chosen = self.sample_canonical(size, (self.num_boxes, ), generator)
        return SCRLBoxes(self.to_view(chosen, inter, scale, view1), self.to_view(chosen, inter, scale, view2), valid)

    def _sample_with_rejection(self, size: Tensor, valid: Tensor, generator: Optional[torch.Generator]) -> Tensor:
        """Draw boxes one by one per image, redrawing those that overlap earlier ones too much.

        Distributionally this is the reference loop: box ``k`` is the first of up to ``max_tries``
        draws whose IoU with boxes ``0..k-1`` of the image is ``< iou_threshold``. The IoU is taken in
        the canonical frame; the reference takes it in view 1, which is the same up to clipping
        (both frames differ by a per-axis scale, a shift and maybe a mirror, which keep IoU).

        For speed, a few draws for every box of every image are made at once; only the rare
        (image, box) pairs where all of them fail get the remaining draws. ``valid`` is updated in
        place for ``on_failure='stop'``. Returns ``(B, K, 4)`` boxes in the canonical frame.
        """
        num_boxes = valid.shape[1]
        first_tries = min(self._FIRST_TRIES, self.max_tries)
        cand = self.sample_canonical(size, (num_boxes, first_tries), generator)  # B, K, T0, 4
        chosen = cand[:, :, 0].clone()  # box 0 is always the first draw
        for k in range(1, num_boxes):
            chosen[:, k], found = self.first_acceptable(cand[:, k], chosen[:, :k])
            if not bool(found.all()) and self.max_tries > first_tries:
                rows = (~found).nonzero()[:, 0]
                more = self.sample_canonical(size[rows], (self.max_tries - first_tries, ), generator)
                chosen[rows, k], found[rows] = self.first_acceptable(more, chosen[rows, :k])
            if self.on_failure == 'stop':
                valid[:, k] = valid[:, k - 1] & found
        return chosen

    def first_acceptable(self, draws: Tensor, earlier: Tensor) -> Tuple[Tensor, Tensor]:
        """Per row, the first draw whose IoU with every earlier box is ``< iou_threshold``.

        Args:
            draws (Tensor): ``(R, T, 4)`` successive draws.
            earlier (Tensor): ``(R, k, 4)`` boxes already kept.

        Returns:
            tuple[Tensor, Tensor]: ``(R, 4)`` the first acceptable draw, or the last draw where none
            is acceptable (the reference's quirk), and ``(R,)`` whether one was acceptable.
        """
        accept = box_iou_pairwise(draws, earlier).amax(dim=-1) < self.iou_threshold  # R, T
        found = accept.any(dim=1)
        last = torch.full_like(found, draws.shape[1] - 1, dtype=torch.long)
        pick = torch.where(found, accept.float().argmax(dim=1), last)
        return draws[torch.arange(draws.shape[0], device=draws.device), pick], found

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(num_boxes={self.num_boxes}, min_size={self.min_size}, '
                f'iou_threshold={self.iou_threshold}, max_tries={self.max_tries}, '
                f'grid_based={self.grid_based}, on_failure={self.on_failure!r})')

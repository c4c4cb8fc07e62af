"""Draw the box pairs SCRL samples on two views of an image (one PNG), paired by colour.

The PNG shows, left to right: the original image with both crops (view 1 white, view 2 grey) and the
boxes in original pixels, then view 1 and view 2 with the same boxes as the model pools them.

Examples::

    python tools/visualization/draw_scrl_boxes.py path/to/image.jpg --out scrl_boxes.png
    python tools/visualization/draw_scrl_boxes.py --synthetic 3 --out scrl_boxes.png
    # views and box settings of a config (photometric transforms included):
    python tools/visualization/draw_scrl_boxes.py img.jpg --config configs/scrl/scrl_resnet18_1xb32-coslr-3e_demo.py
"""
import argparse
import colorsys
import os.path as osp
import sys
from typing import List, Optional, Sequence, Tuple

import cv2
import mmcv
import numpy as np
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope

import mmspatial  # noqa: F401  (registers the transforms)
from mmspatial import compat
from mmspatial.datasets.transforms.geometric import MultiViewWithGeometry
from mmspatial.geometry import ViewGeometry
from mmspatial.models.utils.scrl_box_generator import SCRLBoxGenerator


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('image', nargs='?', help='image file (omit with --synthetic)')
    parser.add_argument(
        '--synthetic',
        type=int,
        default=None,
        metavar='INDEX',
        help='use scene INDEX of the embedded SyntheticScenes dataset instead')
    parser.add_argument(
        '--config',
        help='take the two view pipelines and model.box_generator '
        'from this SCRL config (default: crop + flip only, reference box settings)')
    parser.add_argument('--size', type=int, default=224, help='view size without --config')
    parser.add_argument('--out', default='scrl_boxes.png', help='output PNG')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--scale', type=float, default=2., help='display zoom of the views')
    return parser.parse_args(argv)


def find_multiview(pipeline: Sequence[dict]) -> dict:
    for t in pipeline:
        if t.get('type') == 'MultiViewWithGeometry':
            return t
    raise ValueError('the config pipeline (train_dataloader.dataset.pipeline) has no '
                     "'MultiViewWithGeometry' transform; is it an SCRL config?")


def build_views_and_generator(args) -> Tuple[MultiViewWithGeometry, SCRLBoxGenerator]:
    if args.config:
        cfg = Config.fromfile(args.config)
        multiview = find_multiview(cfg.train_dataloader.dataset.pipeline).to_dict()
        multiview.pop('type')
        box_cfg = dict(cfg.model.get('box_generator', {}))
    else:
        view = [
            dict(
                type='RandomResizedCropWithBox',
                scale=args.size,
                crop_ratio_range=(0.2, 1.),
                interpolation='bicubic',
                backend='pillow'),
            dict(type='RandomFlipWithFlag', prob=0.5)
        ]
        multiview, box_cfg = dict(transforms=[view, view], num_views=[1, 1]), {}
    box_cfg.pop('type', None)
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        return MultiViewWithGeometry(**multiview), SCRLBoxGenerator(**box_cfg)


def load_image(args) -> np.ndarray:
    if args.synthetic is not None:
        from mmspatial.datasets.synthetic_scenes import SyntheticScenes
        return SyntheticScenes(num_images=args.synthetic + 1).render(args.synthetic)['img']
    if not args.image:
        raise SystemExit('give an image file or --synthetic INDEX')
    img = cv2.imread(args.image, cv2.IMREAD_COLOR)
    if img is None:
        raise SystemExit(f'cannot read image {args.image!r}')
    return img


def colours(n: int) -> List[Tuple[int, int, int]]:
    """Distinct BGR colours."""
    out = []
    for i in range(n):
        r, g, b = colorsys.hsv_to_rgb(i / max(n, 1), 0.9, 1.)
        out.append((int(b * 255), int(g * 255), int(r * 255)))
    return out


def draw_boxes(img: np.ndarray, boxes: np.ndarray, scale: float, palette, thickness: int = 2) -> np.ndarray:
    canvas = cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST)
    for box, colour in zip(boxes, palette):
        x1, y1, x2, y2 = (np.asarray(box) * scale).round().astype(int)
        cv2.rectangle(canvas, (x1, y1), (x2 - 1, y2 - 1), colour, thickness)
    return canvas


def render(img: np.ndarray, result: dict, boxes, scale: float) -> np.ndarray:
    """Original (with crops) | view 1 | view 2, on one canvas."""
    valid = boxes.valid[0].numpy()
    palette = [c for c, v in zip(colours(len(valid)), valid) if v]
    b1, b2 = boxes.boxes1[0][boxes.valid[0]].numpy(), boxes.boxes2[0][boxes.valid[0]].numpy()
    crops, flips, shapes = result['view_bboxes'], result['view_flips'], result['view_shapes']
    # boxes in original pixels, from view 1
    geo = ViewGeometry(
        torch.as_tensor(crops[0]), torch.as_tensor(flips[0]), torch.as_tensor(shapes[0]),
        torch.as_tensor(result['ori_img_shape']))
    in_image = geo.view_to_image(torch.as_tensor(b1)).numpy()
    ori_scale = scale * float(shapes[0][0]) / img.shape[0]  # as tall as the views
    left = draw_boxes(img, in_image, ori_scale, palette)
    for crop, colour in zip(crops, [(255, 255, 255), (160, 160, 160)]):
        x1, y1, x2, y2 = (crop * ori_scale).round().astype(int)
        cv2.rectangle(left, (x1, y1), (x2 - 1, y2 - 1), colour, 3)
    panels = [left, draw_boxes(result['img'][0], b1, scale, palette), draw_boxes(result['img'][1], b2, scale, palette)]
    height = max(p.shape[0] for p in panels)
    gap = np.full((height, 8, 3), 255, np.uint8)
    padded = [np.pad(p, ((0, height - p.shape[0]), (0, 0), (0, 0)), constant_values=255) for p in panels]
    return np.concatenate([padded[0], gap, padded[1], gap, padded[2]], axis=1)


def sample_pairs(args: argparse.Namespace):
    """``(image, views, boxes)``: the two views of the image and the generator's box pairs (seeded)."""
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    img = load_image(args)
    views, generator = build_views_and_generator(args)
    # configs with mmpretrain's ColorJitter (hue > 0) need the numpy-2 hue fix; scoped to this call
    was_enabled = mmcv.adjust_hue is compat.adjust_hue
    compat.enable_numpy2_hue_fix()
    try:
        result = views.transform(dict(img=img.copy()))
    finally:
        compat.enable_numpy2_hue_fix(was_enabled)
    geometry = [
        ViewGeometry(
            torch.as_tensor(result['view_bboxes'][v:v + 1]), torch.as_tensor(result['view_flips'][v:v + 1]),
            torch.as_tensor(result['view_shapes'][v:v + 1]), torch.as_tensor(result['ori_img_shape'][None]))
        for v in range(2)
    ]
    return img, result, generator(*geometry)


def main(argv: Optional[Sequence[str]] = None) -> str:
    args = parse_args(argv)
    img, result, boxes = sample_pairs(args)
    canvas = render(img, result, boxes, args.scale)
    if not cv2.imwrite(args.out, canvas):
        raise SystemExit(f'cannot write {args.out!r}')
    print(f'{boxes.num_boxes} box pairs (crops {result["view_bboxes"].round(1).tolist()}, '
          f'flips {result["view_flips"].tolist()}) -> {osp.abspath(args.out)}')
    return args.out


if __name__ == '__main__':
    main(sys.argv[1:])

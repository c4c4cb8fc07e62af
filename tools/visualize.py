"""Pictures of what the spatial methods see, one entry point with sub-commands (PNG output).

Sub-commands:

* ``views``: the views a pipeline config produces for one image. Left: the original image with every
  view's crop box (recorded by the geometry-aware transforms) in that view's colour; right: the views
  themselves, framed in the same colour, each showing where the *other* views' crops land in it (thin
  boxes, mapped with :mod:`mmspatial.geometry`, so flips show as mirrored boxes). Works with any
  pipeline that records geometry: ``MultiViewWithGeometry`` (BYOL/SCRL demos), ``DINOMultiCrop``
  (DINO/SelfPatch) and ``SpatialPredictionViews`` (SP pairs, drawn as ``sp1``, ``sp2``...).
* ``scrl-boxes``: SCRL's sampled box pairs on both views (``tools/visualization/draw_scrl_boxes.py``).
* ``selfpatch-neighbours``: SelfPatch's matched neighbours
  (``tools/visualization/draw_selfpatch_neighbours.py``).
* ``sp-boxes``: SP's predicted vs true relative box (``tools/visualization/draw_sp_boxes.py``).

The last three forward their arguments to those scripts' ``main(argv)``; ``python tools/visualize.py
scrl-boxes -h`` shows their options.

Examples::

    python tools/visualize.py views ../shared/data/coco128/train2017/000000000009.jpg \
        --config configs/byol/byol_resnet18_1xb32-coslr-8e_demo.py --out /tmp/vis/views_byol.png
    python tools/visualize.py views --synthetic 3 --config configs/dino/dino_vit-tiny-p8_1xb32-coslr-10e_demo.py
    python tools/visualize.py scrl-boxes img.jpg --config configs/scrl/scrl_resnet18_1xb32-coslr-3e_demo.py --out b.png
    python tools/visualize.py selfpatch-neighbours configs/selfpatch/selfpatch_vit-tiny-p8_1xb32-coslr-10e_demo.py \
        --image img.jpg --out n.png
    python tools/visualize.py sp-boxes configs/sp/byol_sp_resnet18_1xb32-coslr-8e_demo.py --image img.jpg --out sp.png

Pictures of the demo configs on a coco128 image, and what to look at: ``docs/visualization.md``.
"""
import argparse
import colorsys
import importlib.util
import os
import os.path as osp
import sys
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np

TOOLS_DIR = osp.dirname(osp.abspath(__file__))
#: sub-command -> script under tools/visualization/ providing ``main(argv)``
DELEGATES = {
    'scrl-boxes': 'draw_scrl_boxes.py',
    'selfpatch-neighbours': 'draw_selfpatch_neighbours.py',
    'sp-boxes': 'draw_sp_boxes.py',
}
HEADER = 22  # px of title strip above every panel
GAP = 8  # px between panels
#: (image key, box key, flip key, label prefix) of the view groups a pipeline may record
VIEW_GROUPS = (('img', 'view_bboxes', 'view_flips', 'v'), ('sp_imgs', 'sp_boxes', 'sp_flips', 'sp'))


# ------------------------------------------------------------------------------------------- views
def palette(n: int) -> List[Tuple[int, int, int]]:
    """``n`` well-separated saturated BGR colours."""
    out = []
    for i in range(n):
        r, g, b = colorsys.hsv_to_rgb((i * 0.61803) % 1.0, 0.85, 1.0)
        out.append((int(b * 255), int(g * 255), int(r * 255)))
    return out


def find_pipeline(cfg) -> list:
    """The training pipeline of a config (``train_dataloader.dataset.pipeline``, or ``train_pipeline``)."""
    dataset = cfg.get('train_dataloader', {}).get('dataset', {})
    while 'pipeline' not in dataset and 'dataset' in dataset:  # RepeatDataset & co.
        dataset = dataset['dataset']
    pipeline = dataset.get('pipeline', cfg.get('train_pipeline'))
    if not pipeline:
        raise KeyError(f'{cfg.filename}: no train_dataloader.dataset.pipeline nor train_pipeline')
    return list(pipeline)


def run_view_pipeline(img: np.ndarray, pipeline: Sequence[dict], seed: int = 0) -> dict:
    """Apply ``pipeline`` to a loaded BGR image, skipping image loading and the final packing."""
    import random

    import torch
    from mmengine.dataset import Compose
    from mmengine.registry import DefaultScope
    steps = [t for t in pipeline if not (t['type'].split('.')[-1].startswith('Pack') or 'LoadImage' in t['type'])]
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        transform = Compose([dict(t) for t in steps])
    h, w = img.shape[:2]
    results = transform(dict(img=img.copy(), img_path='', ori_shape=(h, w), img_shape=(h, w), sample_idx=0, gt_label=0))
    if results is None:
        raise RuntimeError('the pipeline dropped the image (a transform returned None)')
    return results


def collect_groups(results: dict) -> List[Dict]:
    """Views with their crop boxes (original pixels) and flips, from every recorded group."""
    views = []
    for img_key, box_key, flip_key, prefix in VIEW_GROUPS:
        if box_key not in results:
            continue
        imgs = results[img_key]
        boxes = np.asarray(results[box_key], dtype=np.float32).reshape(-1, 4)
        flips = np.asarray(results.get(flip_key, np.zeros(len(boxes), bool)), dtype=bool).reshape(-1)
        if not isinstance(imgs, (list, tuple)) or len(imgs) != len(boxes):
            raise ValueError(f'{img_key!r} holds {len(imgs) if isinstance(imgs, (list, tuple)) else 1}'
                             f' views but {box_key!r} {len(boxes)} boxes')
        for i, (im, box, flip) in enumerate(zip(imgs, boxes, flips)):
            im = np.asarray(im)
            if im.ndim == 3 and im.shape[0] in (1, 3) and im.shape[-1] not in (1, 3):  # CHW
                im = im.transpose(1, 2, 0)
            views.append(
                dict(img=np.ascontiguousarray(im.astype(np.uint8)), box=box, flip=bool(flip), name=f'{prefix}{i + 1}'))
    if not views:
        raise KeyError('the pipeline recorded no view geometry (view_bboxes / sp_boxes): use '
                       'MultiViewWithGeometry, DINOMultiCrop or SpatialPredictionViews')
    return views


def _title(canvas: np.ndarray, text: str, x: int, colour=(0, 0, 0)) -> None:
    cv2.putText(canvas, text, (x + 2, HEADER - 7), cv2.FONT_HERSHEY_SIMPLEX, 0.45, colour, 1, cv2.LINE_AA)


def _rect(canvas, box, offset, scale, colour, thickness) -> None:
    x1, y1, x2, y2 = (np.asarray(box, dtype=np.float64) * scale).round().astype(int)
    ox, oy = offset
    cv2.rectangle(canvas, (ox + x1, oy + y1), (ox + max(x2 - 1, x1), oy + max(y2 - 1, y1)), colour, thickness,
                  cv2.LINE_AA)


def views_layout(image_shape: Tuple[int, int], view_shapes: Sequence[Tuple[int, int]],
                 height: int) -> Tuple[int, int, float, float]:
    """Canvas ``(H, W)``, the original's display scale and the views' display scale.

    The original is shown ``height`` px tall; views share one scale that makes the tallest
    ``height`` px tall, so local crops look as small as they are relative to global ones.
    """
    orig_scale = height / image_shape[0]
    view_scale = height / max(s[0] for s in view_shapes)
    width = int(round(image_shape[1] * orig_scale))
    width += sum(GAP + int(round(s[1] * view_scale)) for s in view_shapes)
    return HEADER + height, width, orig_scale, view_scale


def draw_views(img: np.ndarray, views: List[Dict], height: int = 256) -> np.ndarray:
    """The ``views`` figure (see the module docstring) as a BGR uint8 canvas."""
    import torch

    from mmspatial.geometry import box_intersection, boxes_image_to_view
    shapes = [v['img'].shape[:2] for v in views]
    canvas_h, canvas_w, orig_scale, view_scale = views_layout(img.shape[:2], shapes, height)
    canvas = np.full((canvas_h, canvas_w, 3), 255, np.uint8)
    colours = palette(len(views))
    orig = cv2.resize(img, (int(round(img.shape[1] * orig_scale)), height), interpolation=cv2.INTER_AREA)
    canvas[HEADER:HEADER + height, :orig.shape[1]] = orig
    _title(canvas, f'original {img.shape[1]}x{img.shape[0]}', 0)
    for view, colour in zip(views, colours):
        _rect(canvas, view['box'], (0, HEADER), orig_scale, colour, 2)
        x1, y1 = (view['box'][:2] * orig_scale).astype(int)
        cv2.putText(canvas, view['name'], (x1 + 3, HEADER + y1 + 14), cv2.FONT_HERSHEY_SIMPLEX, 0.45, colour, 1,
                    cv2.LINE_AA)
    x = orig.shape[1]
    for i, (view, colour) in enumerate(zip(views, colours)):
        x += GAP
        vh, vw = view['img'].shape[:2]
        w, h = int(round(vw * view_scale)), int(round(vh * view_scale))
        panel = cv2.resize(view['img'], (w, h), interpolation=cv2.INTER_NEAREST)
        canvas[HEADER:HEADER + h, x:x + w] = panel
        size = torch.tensor([vh, vw], dtype=torch.float32)
        for j, (other, other_colour) in enumerate(zip(views, colours)):
            if j == i:
                continue
            inter, valid = box_intersection(torch.as_tensor(view['box']), torch.as_tensor(other['box']))
            if not bool(valid):
                continue
            mapped = boxes_image_to_view(inter, torch.as_tensor(view['box']), torch.tensor(view['flip']), size)
            _rect(canvas, mapped.numpy(), (x, HEADER), view_scale, other_colour, 1)
        cv2.rectangle(canvas, (x, HEADER), (x + w - 1, HEADER + h - 1), colour, 3)
        _title(canvas, f"{view['name']} {vw}x{vh}{' flip' if view['flip'] else ''}", x, colour)
        x += w
    return canvas


def load_input_image(image: Optional[str], synthetic: Optional[int]) -> np.ndarray:
    if synthetic is not None:
        from mmspatial.datasets.synthetic_scenes import render_scene
        return render_scene(0, synthetic)['img']
    if not image:
        raise SystemExit('give an image file or --synthetic INDEX')
    img = cv2.imread(image, cv2.IMREAD_COLOR)
    if img is None:
        raise SystemExit(f'cannot read image {image!r}')
    return img


def views_main(argv: Optional[Sequence[str]] = None) -> str:
    parser = argparse.ArgumentParser(
        prog='visualize.py views', description='the views a pipeline config produces for an image')
    parser.add_argument('image', nargs='?', help='image file (or --synthetic INDEX)')
    parser.add_argument(
        '--synthetic', type=int, metavar='INDEX', help='scene INDEX of the embedded SyntheticScenes (seed 0)')
    parser.add_argument('--config', required=True, help='config whose training pipeline to use')
    parser.add_argument('--seed', type=int, default=0, help='random seed of the augmentations')
    parser.add_argument('--height', type=int, default=256, help='display height of the panels')
    parser.add_argument('--out', default='views.png', help='output PNG')
    args = parser.parse_args(argv)
    from mmengine.config import Config

    import mmspatial  # noqa: F401  (registers the transforms)
    img = load_input_image(args.image, args.synthetic)
    results = run_view_pipeline(img, find_pipeline(Config.fromfile(args.config)), args.seed)
    views = collect_groups(results)
    canvas = draw_views(img, views, args.height)
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    if not cv2.imwrite(args.out, canvas):
        raise SystemExit(f'cannot write {args.out!r}')
    print(f'{len(views)} views ' +
          ', '.join(f"{v['name']}: box {np.round(v['box'], 1).tolist()}{' flipped' if v['flip'] else ''}"
                    for v in views) + f' -> {osp.abspath(args.out)}')
    return args.out


# ---------------------------------------------------------------------------------------- dispatch
def delegate(command: str, argv: Sequence[str]):
    """Run ``tools/visualization/<script>.main(argv)``; a clear error if it does not exist yet."""
    path = osp.join(TOOLS_DIR, 'visualization', DELEGATES[command])
    if not osp.isfile(path):
        raise SystemExit(f'visualize.py {command}: not available yet ({osp.relpath(path)} is missing)')
    spec = importlib.util.spec_from_file_location(f'_mmspatial_vis_{command.replace("-", "_")}', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if not hasattr(module, 'main'):
        raise SystemExit(f'visualize.py {command}: {osp.relpath(path)} has no main(argv)')
    return module.main(list(argv))


def main(argv: Optional[Sequence[str]] = None):
    argv = list(sys.argv[1:] if argv is None else argv)
    commands = ['views', *DELEGATES]
    if not argv or argv[0] in ('-h', '--help'):
        print(__doc__)
        print('sub-commands: ' + ', '.join(commands))
        return None
    command, rest = argv[0], argv[1:]
    if command == 'views':
        return views_main(rest)
    if command in DELEGATES:
        return delegate(command, rest)
    raise SystemExit(f'unknown sub-command {command!r}; choose from {commands}')


if __name__ == '__main__':
    main()

"""Draw SP's predicted vs true relative box for pairs of local views of an image (one PNG).

For each pair of SP views (sampled with the config's ``SpatialPredictionViews``) the model embeds both
views with its online backbone and its SP head predicts ``(dx, dy, log sw, log sh)``, the position and
scale of view 2 relative to view 1 (``docs/sp_design.md`` §2). One row per pair:

* left: the original image with view 1's box (blue, ``1``), view 2's true box (green, ``2``) and the
  view-2 box implied by the prediction applied to view 1's box (red, ``p``), plus arrows from view 1's
  centre to both view-2 centres; the title strip gives the true and predicted 4-vectors and their L1
  error;
* right: the two views as the model saw them (view 1 above view 2), framed in their colours.

Without ``--checkpoint`` the model keeps its (seeded) random initialisation, so the red box only shows
the mechanics. A checkpoint without ``sp_head.*`` weights (a plain host checkpoint) is refused.

Examples::

    python tools/visualization/draw_sp_boxes.py configs/sp/byol_sp_resnet18_1xb32-coslr-8e_demo.py \\
        --image ../shared/data/coco128/train2017/000000000009.jpg --out sp_boxes.png
    python tools/visualization/draw_sp_boxes.py configs/sp/byol_sp_resnet18_1xb32-coslr-8e_demo.py --synthetic 0 \\
        --checkpoint work_dirs/byol_sp_resnet18_1xb32-coslr-8e_demo/epoch_8.pth --pairs 3
"""
import argparse
import os
import os.path as osp
import random
from typing import Dict, Optional, Sequence, Tuple

import cv2
import numpy as np
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmengine.runner.checkpoint import _load_checkpoint_to_model
from mmpretrain.registry import DATASETS, MODELS, TRANSFORMS

import mmspatial  # noqa: F401  (registers SpatialPrediction, the datasets and transforms)
from mmspatial.engine.safe_load import load_local_checkpoint
from mmspatial.models.losses.sp_loss import spatial_prediction_boxes, spatial_prediction_targets

# BGR colours: view 1, true view 2, view 2 implied by the prediction
BLUE, GREEN, RED = (230, 140, 0), (0, 190, 0), (0, 0, 255)
HEADER = 40  # px of the two-line title strip above every row
GAP = 8  # px between panels and rows


# ------------------------------------------------------------------------------------------- model
def find_sp_views(cfg: Config) -> dict:
    """The ``SpatialPredictionViews`` transform of the config's training pipeline."""
    dataset = cfg.get('train_dataloader', {}).get('dataset', {})
    while 'pipeline' not in dataset and 'dataset' in dataset:  # RepeatDataset & co.
        dataset = dataset['dataset']
    for t in dataset.get('pipeline', cfg.get('train_pipeline', [])):
        if str(t.get('type', '')).split('.')[-1] == 'SpatialPredictionViews':
            return dict(t)
    raise ValueError(f'{cfg.filename}: the training pipeline has no SpatialPredictionViews; '
                     'is it an SP config (configs/sp/)?')


def load_model(cfg: Config, checkpoint: Optional[str], trust_checkpoint: bool = False) -> torch.nn.Module:
    """Build the SP-wrapped model (seeded init), optionally load a checkpoint, eval mode.

    The checkpoint is read with ``weights_only=True`` and mmspatial's allow-list
    (:func:`~mmspatial.engine.safe_load.load_local_checkpoint`); ``trust_checkpoint`` unpickles it in full.
    """
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        model = MODELS.build(cfg.model)
    if not hasattr(model, 'sp_head'):
        raise TypeError(f'{cfg.filename}: model type {cfg.model.type!r} has no SP head; use '
                        "dict(type='SpatialPrediction', host=...)")
    model.init_weights()
    if checkpoint:
        state = load_local_checkpoint(checkpoint, map_location='cpu', trusted=[checkpoint] if trust_checkpoint else ())
        keys = state.get('state_dict', state).keys()
        # A plain host checkpoint would leave the head random: refuse rather than draw noise.
        if not any(k.startswith('sp_head.') for k in keys):
            raise KeyError(f'{checkpoint!r} has no sp_head.* weights: not an SP checkpoint')
        _load_checkpoint_to_model(model, state, strict=True)  # no partial loads
    else:
        print('no --checkpoint: random weights, the prediction only shows the mechanics')
    model.eval()  # (not chained: some mmpretrain modules' train() returns None)
    return model


@torch.no_grad()
def predict_pairs(model: torch.nn.Module, views: Sequence[np.ndarray], boxes: np.ndarray,
                  image_size: np.ndarray) -> Dict[str, torch.Tensor]:
    """True and predicted targets, and the implied boxes, of consecutive view pairs.

    Args:
        model: an SP-wrapped model (``sp_embed``, ``sp_head``, ``data_preprocessor``).
        views: ``2K`` uint8 ``(h, w, 3)`` views as the pipeline produced them (BGR).
        boxes: ``(2K, 4)`` their boxes in original pixels.
        image_size: ``(2,)`` original image size ``(h, w)``.

    Returns:
        dict: ``boxes1``, ``boxes2`` (true), ``pred_boxes2`` (implied by the prediction), ``target``
        and ``pred`` (``(K, 4)`` each).
    """
    imgs = torch.stack([torch.from_numpy(np.ascontiguousarray(v)).permute(2, 0, 1) for v in views])
    # Same normalisation path as SpatialPrediction.sp_loss: the host's own preprocessor.
    imgs = model.data_preprocessor(dict(inputs=imgs, data_samples=None), False)['inputs']
    emb = model.sp_embed(imgs)
    e1, e2 = emb[0::2], emb[1::2]
    boxes = torch.as_tensor(boxes, dtype=torch.float32)
    b1, b2 = boxes[0::2], boxes[1::2]
    size = torch.as_tensor(image_size, dtype=torch.float32).expand(len(b1), 2)
    norm = model.sp_head.offset_norm
    target = spatial_prediction_targets(b1, b2, size, norm)
    pred = model.sp_head(e1, e2).float().cpu()
    return dict(
        boxes1=b1, boxes2=b2, pred_boxes2=spatial_prediction_boxes(b1, pred, size, norm), target=target, pred=pred)


# ----------------------------------------------------------------------------------------- drawing
def _centre(box, scale: float) -> Tuple[int, int]:
    x1, y1, x2, y2 = (float(v) for v in box)
    return int(round((x1 + x2) / 2 * scale)), int(round((y1 + y2) / 2 * scale))


def _box(panel: np.ndarray, box, scale: float, colour, thickness: int, label: str) -> None:
    x1, y1, x2, y2 = (np.asarray(box, dtype=np.float64) * scale).round().astype(int)
    cv2.rectangle(panel, (x1, y1), (max(x2 - 1, x1), max(y2 - 1, y1)), colour, thickness, cv2.LINE_AA)
    h, w = panel.shape[:2]
    # label inside the box's top-left corner, kept on the panel when the box leaves it
    lx, ly = min(max(x1 + 3, 2), w - 12), min(max(y1 + 14, 14), h - 3)
    cv2.putText(panel, label, (lx, ly), cv2.FONT_HERSHEY_SIMPLEX, 0.5, colour, 2, cv2.LINE_AA)


def _fmt(v: torch.Tensor) -> str:
    return '(' + ', '.join(f'{float(x):+.2f}' for x in v) + ')'


def row_layout(image_shape: Tuple[int, int], view_shape: Tuple[int, int], height: int) -> Tuple[int, int, float, int]:
    """``(row height, row width, image scale, view panel height)`` of one pair's row."""
    scale = height / image_shape[0]
    view_h = (height - GAP) // 2
    view_w = int(round(view_shape[1] * view_h / view_shape[0]))
    width = int(round(image_shape[1] * scale)) + GAP + view_w
    return HEADER + height, width, scale, view_h


def draw_pairs(img: np.ndarray,
               views: Sequence[np.ndarray],
               result: Dict[str, torch.Tensor],
               height: int = 256) -> np.ndarray:
    """The figure (see the module docstring) as a BGR uint8 canvas, one row per pair."""
    num_pairs = len(result['boxes1'])
    row_h, width, scale, view_h = row_layout(img.shape[:2], views[0].shape[:2], height)
    canvas = np.full((num_pairs * row_h + (num_pairs - 1) * GAP, width, 3), 255, np.uint8)
    orig_w = int(round(img.shape[1] * scale))
    for k in range(num_pairs):
        top = k * (row_h + GAP)
        panel = cv2.resize(img, (orig_w, height), interpolation=cv2.INTER_AREA)
        b1, b2, bp = result['boxes1'][k], result['boxes2'][k], result['pred_boxes2'][k]
        # drawn on the panel alone so that a predicted box leaving the image is clipped there
        _box(panel, b1, scale, BLUE, 2, '1')
        _box(panel, b2, scale, GREEN, 2, '2')
        _box(panel, bp, scale, RED, 2, 'p')
        c1 = _centre(b1, scale)
        cv2.arrowedLine(panel, c1, _centre(b2, scale), GREEN, 1, cv2.LINE_AA, tipLength=0.08)
        cv2.arrowedLine(panel, c1, _centre(bp, scale), RED, 1, cv2.LINE_AA, tipLength=0.08)
        canvas[top + HEADER:top + row_h, :orig_w] = panel
        x = orig_w + GAP
        for j, colour in ((0, BLUE), (1, GREEN)):
            view = views[2 * k + j]
            vw = int(round(view.shape[1] * view_h / view.shape[0]))
            y = top + HEADER + j * (view_h + GAP)
            canvas[y:y + view_h, x:x + vw] = cv2.resize(view, (vw, view_h), interpolation=cv2.INTER_AREA)
            cv2.rectangle(canvas, (x, y), (x + vw - 1, y + view_h - 1), colour, 3)
        err = float((result['pred'][k] - result['target'][k]).abs().mean())
        lines = [(f'pair {k + 1}  true {_fmt(result["target"][k])}', GREEN),
                 (f'pred {_fmt(result["pred"][k])}  L1 {err:.2f}', RED)]
        for i, (text, colour) in enumerate(lines):
            cv2.putText(canvas, text, (3, top + 16 + 17 * i), cv2.FONT_HERSHEY_SIMPLEX, 0.45, colour, 1, cv2.LINE_AA)
    return canvas


# --------------------------------------------------------------------------------------------- CLI
def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', help='an SP config (configs/sp/*.py)')
    parser.add_argument('--checkpoint', help='trained SP weights (default: seeded random init)')
    parser.add_argument(
        '--trust-checkpoint',
        action='store_true',
        help='unpickle --checkpoint with weights_only=False (only for a file you trust; docs/safety.md)')
    src = parser.add_mutually_exclusive_group(required=True)
    src.add_argument('--image', help='image file')
    src.add_argument('--synthetic', type=int, metavar='INDEX', help='scene INDEX of the embedded SyntheticScenes')
    parser.add_argument('--pairs', type=int, default=2, help='number of view pairs (rows)')
    parser.add_argument(
        '--no-photometric',
        action='store_true',
        help="skip the SP views' colour/blur augmentation (geometry unchanged)")
    parser.add_argument('--height', type=int, default=256, help='display height of the image')
    parser.add_argument('--seed', type=int, default=0, help='seed of the views and the random init')
    parser.add_argument('--out', default='sp_boxes.png', help='output PNG')
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> str:
    args = parse_args(argv)
    if args.pairs < 1:
        raise SystemExit('--pairs must be >= 1')
    cfg = Config.fromfile(args.config)
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    model = load_model(cfg, args.checkpoint, args.trust_checkpoint)
    if args.image:
        img = cv2.imread(args.image, cv2.IMREAD_COLOR)
        if img is None:
            raise SystemExit(f'cannot read image {args.image!r}')
    else:
        img = DATASETS.build(dict(type='SyntheticScenes', num_images=args.synthetic + 1))[args.synthetic]['img']
    sp_cfg = find_sp_views(cfg)
    sp_cfg['num_pairs'] = args.pairs
    if args.no_photometric:
        sp_cfg['pipeline'] = []
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        sampler = TRANSFORMS.build(sp_cfg)
    sample = sampler.transform(dict(img=img.copy()))
    result = predict_pairs(model, sample['sp_imgs'], sample['sp_boxes'], sample['sp_img_shape'])
    canvas = draw_pairs(img, sample['sp_imgs'], result, args.height)
    if osp.dirname(args.out):
        os.makedirs(osp.dirname(args.out), exist_ok=True)
    if not cv2.imwrite(args.out, canvas):
        raise SystemExit(f'cannot write {args.out!r}')
    for k in range(args.pairs):
        print(f"pair {k + 1}: true {_fmt(result['target'][k])} pred {_fmt(result['pred'][k])}")
    print(f'wrote {args.out}: blue = view 1, green = true view 2, red = view 2 implied by the '
          'predicted (dx, dy, log sw, log sh)')
    return args.out


if __name__ == '__main__':
    main()

"""Draw, for chosen patches, the neighbours SelfPatch's teacher matched (PNG).

For each chosen patch (red), the candidate window (yellow, the 8 patches of its 3x3 neighbourhood,
wrapped around the borders unless ``--no-wrap``) and the ``k`` neighbours the teacher kept by cosine
similarity of its patch tokens (green, numbered by rank) are drawn on the resized input image.

Examples::

    # a trained SelfPatch checkpoint on an image
    python tools/visualization/draw_selfpatch_neighbours.py \\
        configs/selfpatch/selfpatch_vit-small-p16_8xb128-coslr-300e_in1k.py \\
        --checkpoint work_dirs/selfpatch/epoch_300.pth --image demo.jpg \\
        --patches 0 45 105 195 --out neighbours.png
    # no download: demo config, a synthetic scene, random weights
    python tools/visualization/draw_selfpatch_neighbours.py \\
        configs/selfpatch/selfpatch_vit-tiny-p8_1xb32-coslr-10e_demo.py --synthetic 0 --out neighbours.png
"""
import argparse
import os
import os.path as osp
from typing import Optional, Sequence, Tuple

import cv2
import numpy as np
import torch
from mmengine.config import Config
from mmengine.runner.checkpoint import _load_checkpoint_to_model
from mmpretrain.registry import DATASETS, MODELS

import mmspatial  # noqa: F401  (registers SelfPatch, the datasets and transforms)
from mmspatial.engine.safe_load import load_local_checkpoint
from mmspatial.models.utils.patch_neighbours import patch_neighbour_index

RED, YELLOW, GREEN = (0, 0, 255), (0, 215, 255), (0, 200, 0)


def patch_box(p: int, grid_w: int, patch: float) -> Tuple[int, int, int, int]:
    row, col = divmod(p, grid_w)
    return int(col * patch), int(row * patch), int((col + 1) * patch), int((row + 1) * patch)


def draw_neighbours(img: np.ndarray,
                    grid: Tuple[int, int],
                    patches: Sequence[int],
                    candidates: torch.Tensor,
                    cand_valid: torch.Tensor,
                    matched: torch.Tensor,
                    matched_valid: torch.Tensor,
                    scale: int = 3) -> np.ndarray:
    """One panel per chosen patch, side by side.

    Args:
        img (np.ndarray): ``(H, W, 3)`` BGR image the model saw.
        grid (tuple[int, int]): patch grid ``(h, w)``.
        patches (Sequence[int]): row-major indices of the patches to show.
        candidates, cand_valid: ``(N, K)`` window of every patch (:func:`patch_neighbour_index`).
        matched, matched_valid: ``(N, k)`` matched neighbours, most similar first.
        scale (int): upscaling of the image for legibility.

    Returns:
        np.ndarray: the BGR canvas.
    """
    h, w = grid
    big = cv2.resize(img, (img.shape[1] * scale, img.shape[0] * scale), interpolation=cv2.INTER_NEAREST)
    patch = big.shape[0] / h
    panels = []
    for p in patches:
        panel = big.copy()
        for q in range(1, h):  # faint grid
            cv2.line(panel, (0, int(q * patch)), (panel.shape[1], int(q * patch)), (90, 90, 90), 1)
        for q in range(1, w):
            cv2.line(panel, (int(q * patch), 0), (int(q * patch), panel.shape[0]), (90, 90, 90), 1)
        for q in candidates[p][cand_valid[p]].tolist():
            x1, y1, x2, y2 = patch_box(q, w, patch)
            cv2.rectangle(panel, (x1 + 1, y1 + 1), (x2 - 2, y2 - 2), YELLOW, 1)
        for rank, q in enumerate(matched[p][matched_valid[p]].tolist(), 1):
            x1, y1, x2, y2 = patch_box(q, w, patch)
            cv2.rectangle(panel, (x1 + 2, y1 + 2), (x2 - 3, y2 - 3), GREEN, 2)
            cv2.putText(panel, str(rank), (x1 + 4, y2 - 6), cv2.FONT_HERSHEY_SIMPLEX, max(patch / 40, 0.35), GREEN, 1,
                        cv2.LINE_AA)
        x1, y1, x2, y2 = patch_box(p, w, patch)
        cv2.rectangle(panel, (x1, y1), (x2 - 1, y2 - 1), RED, 2)
        panels.append(np.pad(panel, ((0, 0), (0, 6), (0, 0)), constant_values=255))
    return np.concatenate(panels, axis=1)


def load_model(cfg: Config, checkpoint: Optional[str], trust_checkpoint: bool = False) -> torch.nn.Module:
    """Build the SelfPatch model (seeded init), optionally load a checkpoint, eval mode.

    The checkpoint is read with ``weights_only=True`` and mmspatial's allow-list
    (:func:`~mmspatial.engine.safe_load.load_local_checkpoint`); ``trust_checkpoint`` unpickles it in full.
    It must fit the model exactly (no partial loads).
    """
    model = MODELS.build(cfg.model)
    if not hasattr(model, 'match_neighbours'):
        raise TypeError(f'{cfg.filename}: model type {cfg.model.type!r} is not SelfPatch')
    model.init_weights()
    if checkpoint:
        state = load_local_checkpoint(checkpoint, map_location='cpu', trusted=[checkpoint] if trust_checkpoint else ())
        _load_checkpoint_to_model(model, state, strict=True)
    else:
        print('no --checkpoint: random weights, the matches only show the mechanics')
    return model.eval()


def preprocess(img: np.ndarray, cfg: Config, size: int) -> Tuple[np.ndarray, torch.Tensor]:
    img = cv2.resize(img, (size, size), interpolation=cv2.INTER_CUBIC)
    pre = cfg.model.get('data_preprocessor', {})
    x = img[..., ::-1] if pre.get('to_rgb', True) else img
    mean = np.asarray(pre.get('mean', [123.675, 116.28, 103.53]), np.float32)
    std = np.asarray(pre.get('std', [58.395, 57.12, 57.375]), np.float32)
    x = (x.astype(np.float32) - mean) / std
    return img, torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1)))[None]


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', help='a SelfPatch config')
    parser.add_argument('--checkpoint', help='trained weights (the teacher is used)')
    parser.add_argument(
        '--trust-checkpoint',
        action='store_true',
        help='unpickle --checkpoint with weights_only=False (only for a file you trust; docs/safety.md)')
    src = parser.add_mutually_exclusive_group(required=True)
    src.add_argument('--image', help='image file')
    src.add_argument('--synthetic', type=int, help='index of an embedded synthetic scene')
    parser.add_argument(
        '--patches',
        type=int,
        nargs='+',
        help='row-major patch indices '
        '(default: a corner, an edge and two inner patches)')
    parser.add_argument('--size', type=int, help="input size (default: the backbone's img_size)")
    parser.add_argument('--student', action='store_true', help='match with the student instead')
    parser.add_argument('--no-wrap', action='store_true', help='plain borders instead of the torus')
    parser.add_argument('--out', default='selfpatch_neighbours.png', help='output PNG')
    return parser.parse_args(argv)


def main(argv=None) -> str:
    args = parse_args(argv)
    cfg = Config.fromfile(args.config)
    if args.no_wrap:
        cfg.model.wrap_neighbours = False
    model = load_model(cfg, args.checkpoint, args.trust_checkpoint)
    if args.image:
        img = cv2.imread(args.image)
        if img is None:
            raise FileNotFoundError(f'cannot read image {args.image!r}')
    else:
        img = DATASETS.build(dict(type='SyntheticScenes', num_images=args.synthetic + 1))[args.synthetic]['img']
    size = args.size or int(cfg.model.backbone.get('img_size', 224))
    img, x = preprocess(img, cfg, size)
    modules = model.student_modules() if args.student else model.teacher
    with torch.no_grad():
        tokens, grid = model.patch_tokens(modules['backbone'], x)
        matched, matched_valid = model.match_neighbours(tokens, grid)
    candidates, cand_valid = patch_neighbour_index(*grid, wrap=cfg.model.get('wrap_neighbours', True))
    n = grid[0] * grid[1]
    patches = args.patches or sorted({0, grid[1] // 2, n // 2 + grid[1] // 2, n - grid[1] - 2})
    bad = [p for p in patches if not 0 <= p < n]
    if bad:
        raise ValueError(f'--patches {bad} out of range for a {grid[0]}x{grid[1]} grid (0..{n - 1})')
    canvas = draw_neighbours(img, grid, patches, candidates, cand_valid, matched[0], matched_valid[0])
    if osp.dirname(args.out):
        os.makedirs(osp.dirname(args.out), exist_ok=True)
    cv2.imwrite(args.out, canvas)
    print(f'wrote {args.out}: patches {patches} of a {grid[0]}x{grid[1]} grid; red = patch, '
          f'yellow = 3x3 candidates, green = the {model.num_neighbours} matched (1 = most similar)')
    return args.out


if __name__ == '__main__':
    main()

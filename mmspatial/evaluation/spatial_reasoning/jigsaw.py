"""Jigsaw understanding: reorder the tiles, then recognise the reconstruction (evaluation 2 of SP,
arXiv 2605.09963).

Only the abstract names this task; the protocol is ours (``docs/sp_design.md``):

1. images are resized to ``grid * tile_size`` squared, split into train/test images (stratified,
   seeded) and cut into ``grid x grid`` tiles;
2. the frozen backbone embeds each tile on its own (pooled like the SP head); a closed-form ridge
   classifier (one-hot targets, strength by 3-fold CV grouped by image) maps a z-scored tile embedding to
   scores for the ``grid**2`` positions;
3. every test image is shuffled by a seeded random permutation; the tiles' score matrix is turned into a
   permutation with the Hungarian algorithm (each position used once) and the image is reassembled;
4. reported: per-tile position accuracy (Hungarian and plain argmax), whole-image permutation accuracy
   (all tiles right), and the accuracy of a ridge classifier trained on *intact* training images when
   applied to the intact, the shuffled and the reassembled test images (needs class sub-folders).
"""
from typing import Dict

import numpy as np
import torch

from .common import FrozenBackbone, Standardizer, fit_ridge, predict_ridge, select_alpha


def cut_tiles(images: np.ndarray, grid: int) -> np.ndarray:
    """``(N, S, S, 3)`` -> ``(N, grid*grid, S/grid, S/grid, 3)``, row-major positions."""
    n, s = images.shape[:2]
    if s % grid or images.shape[2] != s:
        raise ValueError(f'images must be square with a side divisible by grid={grid}, '
                         f'got {images.shape[1:3]}')
    t = s // grid
    tiles = images.reshape(n, grid, t, grid, t, 3).transpose(0, 1, 3, 2, 4, 5)
    return np.ascontiguousarray(tiles.reshape(n, grid * grid, t, t, 3))


def assemble(tiles: np.ndarray, positions: np.ndarray, grid: int) -> np.ndarray:
    """Place tile ``k`` of every image at ``positions[:, k]`` -> ``(N, S, S, 3)`` images."""
    n, m, t = tiles.shape[:3]
    out = np.empty_like(tiles)
    rows = np.arange(n)[:, None]
    out[rows, positions] = tiles
    out = out.reshape(n, grid, grid, t, t, 3).transpose(0, 1, 3, 2, 4, 5)
    return np.ascontiguousarray(out.reshape(n, grid * t, grid * t, 3))


def hungarian_positions(scores: np.ndarray) -> np.ndarray:
    """``(N, M, M)`` tile-by-position scores -> ``(N, M)`` one position per tile (max total score)."""
    from scipy.optimize import linear_sum_assignment
    out = np.empty(scores.shape[:2], np.int64)
    for i, s in enumerate(scores):
        rows, cols = linear_sum_assignment(-s)
        out[i, rows] = cols
    return out


def _accuracy(y: np.ndarray, scores: np.ndarray) -> float:
    return float((scores.argmax(-1) == y).mean())


def _one_hot(y: np.ndarray, k: int) -> np.ndarray:
    return np.eye(k)[y]


def _fit_classifier(x: np.ndarray, y: np.ndarray, k: int, groups: np.ndarray, seed: int):
    norm = Standardizer(x)
    xs = norm(x)
    alpha = select_alpha(xs, _one_hot(y, k), groups, lambda yt, p: _accuracy(yt.argmax(-1), p), seed)
    probe = fit_ridge(xs, _one_hot(y, k), alpha)
    return (lambda z: predict_ridge(norm(z), probe)), alpha


def evaluate_jigsaw(model: FrozenBackbone,
                    train_images: np.ndarray,
                    train_labels: np.ndarray,
                    test_images: np.ndarray,
                    test_labels: np.ndarray,
                    grid: int = 3,
                    seed: int = 0,
                    device: str = 'cpu',
                    batch_size: int = 64) -> dict:
    """Run the protocol of the module docstring; images are ``(N, S, S, 3)`` BGR uint8."""
    torch.manual_seed(seed)
    m = grid * grid
    tiles_tr, tiles_te = cut_tiles(train_images, grid), cut_tiles(test_images, grid)
    t = tiles_tr.shape[2]

    def embed_tiles(tiles: np.ndarray) -> np.ndarray:
        return model.embed(tiles.reshape(-1, t, t, 3), batch_size, device).reshape(len(tiles), m, -1)

    emb_tr, emb_te = embed_tiles(tiles_tr), embed_tiles(tiles_te)
    pos_tr = np.tile(np.arange(m), len(tiles_tr))
    position_probe, pos_alpha = _fit_classifier(
        emb_tr.reshape(-1, emb_tr.shape[-1]), pos_tr, m, np.repeat(np.arange(len(tiles_tr)), m), seed)

    # Shuffle the test images: shuffled tile k shows original position perm[:, k].
    rng = np.random.default_rng(seed + 1)
    perm = np.stack([rng.permutation(m) for _ in range(len(tiles_te))])
    rows = np.arange(len(tiles_te))[:, None]
    shuffled_tiles, shuffled_emb = tiles_te[rows, perm], emb_te[rows, perm]
    scores = position_probe(shuffled_emb.reshape(-1, shuffled_emb.shape[-1])).reshape(-1, m, m)
    pred_pos = hungarian_positions(scores)
    correct = pred_pos == perm
    result: Dict = dict(
        name=model.name,
        grid=grid,
        tile_size=int(t),
        num_train_images=int(len(tiles_tr)),
        num_test_images=int(len(tiles_te)),
        position_alpha=pos_alpha,
        patch_accuracy=float(correct.mean()),
        patch_accuracy_argmax=float((scores.argmax(-1) == perm).mean()),
        permutation_accuracy=float(correct.all(1).mean()),
        chance=dict(patch_accuracy=1 / m, permutation_accuracy=1 / float(np.prod(np.arange(1, m + 1)))),
        info=model.info)

    if (train_labels >= 0).all() and len(np.unique(train_labels)) > 1:
        k = int(max(train_labels.max(), test_labels.max())) + 1
        feats_tr = model.embed(train_images, batch_size, device)
        classifier, cls_alpha = _fit_classifier(feats_tr, train_labels, k, np.arange(len(train_labels)), seed)
        shuffled = assemble(shuffled_tiles, np.tile(np.arange(m), (len(tiles_te), 1)), grid)
        rebuilt = assemble(shuffled_tiles, pred_pos, grid)
        result['recognition'] = dict(
            alpha=cls_alpha,
            intact=_accuracy(test_labels, classifier(model.embed(test_images, batch_size, device))),
            shuffled=_accuracy(test_labels, classifier(model.embed(shuffled, batch_size, device))),
            reconstructed=_accuracy(test_labels, classifier(model.embed(rebuilt, batch_size, device))),
            chance=float(np.bincount(test_labels).max() / len(test_labels)))
    return result

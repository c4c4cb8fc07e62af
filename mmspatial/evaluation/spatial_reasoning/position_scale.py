"""Position-and-scale prediction on patch pairs (evaluation 1 of SP, arXiv 2605.09963).

Only the abstract names this task; the protocol is ours (``docs/sp_design.md``):

1. images are resized to ``image_size`` squared and split into train/test images (stratified, seeded);
2. from each image ``pairs_per_image`` pairs of patches are drawn with the SP crop sampler
   (``RandomResizedCropWithBox.sample_crop``, area ``scale_range``), each resized to ``patch_size``;
3. the frozen backbone embeds every patch (pooled like the SP head); embeddings are z-scored with
   training statistics and a pair is described by ``pair_features`` of the two (default ``[e1, e2,
   e1*e2]``: the product lets a linear probe compare the two patches, not only read each one's
   absolute position);
4. a closed-form ridge probe (strength picked by 3-fold cross-validation grouped by image) regresses
   the SP target ``(dx, dy, log w2/w1, log h2/h1)`` (image-normalised offsets);
5. on the held-out images we report MAE and R^2 of each component and of the log-scale
   ``0.5 * (dlogw + dlogh)``; a row "mean-predictor" (train mean) gives the floor.
"""
from typing import Dict, Sequence, Tuple

import mmcv
import numpy as np
import torch

from mmspatial.datasets.transforms.geometric import RandomResizedCropWithBox
from mmspatial.models.heads.sp_head import pair_features
from mmspatial.models.losses.sp_loss import spatial_prediction_targets

from .common import FrozenBackbone, Standardizer, fit_ridge, predict_ridge, r2_score, select_alpha

COMPONENTS = ('dx', 'dy', 'dlogw', 'dlogh', 'log_scale')


def sample_patch_pairs(images: np.ndarray, pairs_per_image: int, patch_size: int, scale_range: Tuple[float, float],
                       seed: int) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Draw pairs of patches from every image (global numpy RNG seeded, then restored).

    Returns:
        tuple: patches ``(N, P, 2, s, s, 3)`` uint8, boxes ``(N, P, 2, 4)`` in image pixels,
        targets ``(N, P, 4)``.
    """
    sampler = RandomResizedCropWithBox(patch_size, crop_ratio_range=scale_range)
    n, h, w = images.shape[:3]
    patches = np.empty((n, pairs_per_image, 2, patch_size, patch_size, 3), np.uint8)
    boxes = np.empty((n, pairs_per_image, 2, 4), np.float32)
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        for i in range(n):
            for p in range(pairs_per_image):
                for v in range(2):
                    top, left, ch, cw = sampler.sample_crop(h, w)
                    patches[i, p, v] = mmcv.imresize(
                        images[i, top:top + ch, left:left + cw], (patch_size, patch_size), interpolation='bicubic')
                    boxes[i, p, v] = (left, top, left + cw, top + ch)
    finally:
        np.random.set_state(state)
    targets = spatial_prediction_targets(boxes[..., 0, :], boxes[..., 1, :], [h, w]).numpy()
    return patches, boxes, targets.astype(np.float64)


def _with_log_scale(y: np.ndarray) -> np.ndarray:
    return np.concatenate([y, 0.5 * (y[:, 2:3] + y[:, 3:4])], axis=1)


def _metrics(y: np.ndarray, pred: np.ndarray) -> Dict[str, Dict[str, float]]:
    y, pred = _with_log_scale(y), _with_log_scale(pred)
    mae = np.abs(y - pred).mean(0)
    r2 = r2_score(y, pred)
    return {c: dict(mae=float(mae[i]), r2=float(r2[i])) for i, c in enumerate(COMPONENTS)}


def _neg_mse(y: np.ndarray, pred: np.ndarray) -> float:
    return -float(((y - pred)**2).mean())


def evaluate_position_scale(model: FrozenBackbone,
                            train_images: np.ndarray,
                            test_images: np.ndarray,
                            pairs_per_image: int = 8,
                            patch_size: int = 64,
                            scale_range: Tuple[float, float] = (0.05, 0.4),
                            fusion: Sequence[str] = ('concat', 'prod'),
                            seed: int = 0,
                            device: str = 'cpu',
                            batch_size: int = 64) -> dict:
    """Fit the probe on ``train_images`` and report on ``test_images`` (both ``(N, S, S, 3)`` BGR)."""
    torch.manual_seed(seed)
    split = {}
    for tag, imgs, s in (('train', train_images, seed), ('test', test_images, seed + 1)):
        patches, _, targets = sample_patch_pairs(imgs, pairs_per_image, patch_size, scale_range, s)
        emb = model.embed(patches.reshape(-1, patch_size, patch_size, 3), batch_size, device)
        split[tag] = (emb.reshape(len(imgs), pairs_per_image, 2, -1), targets.reshape(-1, 4))
    (emb_tr, y_tr), (emb_te, y_te) = split['train'], split['test']
    norm = Standardizer(emb_tr.reshape(-1, emb_tr.shape[-1]))

    def features(emb: np.ndarray) -> np.ndarray:
        e = torch.from_numpy(norm(emb))  # (N, P, 2, C)
        pair = pair_features(e[:, :, 0], e[:, :, 1], fusion)  # (N, P, F)
        return pair.reshape(-1, pair.shape[-1]).numpy()

    x_tr, x_te = features(emb_tr), features(emb_te)
    groups = np.repeat(np.arange(len(train_images)), pairs_per_image)
    alpha = select_alpha(x_tr, y_tr, groups, _neg_mse, seed)
    probe = fit_ridge(x_tr, y_tr, alpha)
    baseline = np.broadcast_to(y_tr.mean(0), y_te.shape)
    return dict(
        name=model.name,
        alpha=alpha,
        feature_dim=int(x_tr.shape[1]),
        num_train_pairs=int(len(y_tr)),
        num_test_pairs=int(len(y_te)),
        metrics=_metrics(y_te, predict_ridge(x_te, probe)),
        train_metrics=_metrics(y_tr, predict_ridge(x_tr, probe)),
        mean_predictor=_metrics(y_te, baseline),
        info=model.info)

"""Shared pieces of the spatial-reasoning probes (position-and-scale, jigsaw).

Both probes freeze a backbone, embed image regions (pooled exactly as the SP head pools them,
:func:`mmspatial.models.utils.embedding_pool.pool_embedding`) and fit closed-form ridge probes, so a run
is deterministic given its seed. Any checkpoint works: mmpretrain's, ours (SP-wrapped checkpoints keep
the backbone under ``backbone.``), or ``random`` (the config's initialisation, seeded).
"""
import json
import logging
import os
import os.path as osp
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import mmcv
import numpy as np
import torch
from mmengine.config import Config
from mmengine.logging import MMLogger
from mmengine.registry import DefaultScope
from torch import nn

from mmspatial.models.utils.embedding_pool import pool_embedding

IMG_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.ppm', '.webp', '.tif', '.tiff')
IMAGENET_MEAN = (123.675, 116.28, 103.53)
IMAGENET_STD = (58.395, 57.12, 57.375)
DEFAULT_ALPHAS = (1e-2, 1e-1, 1., 10., 1e2, 1e3, 1e4)


# ------------------------------------------------------------------------------------------ data
def list_image_folder(root: str) -> Tuple[List[str], np.ndarray, List[str]]:
    """Images of ``root``: class sub-folders give labels; loose files get label -1.

    Returns:
        tuple: sorted paths, integer labels, class names.
    """
    if not osp.isdir(root):
        raise FileNotFoundError(f'image folder {root!r} does not exist')
    classes = sorted(d for d in os.listdir(root) if osp.isdir(osp.join(root, d)))
    paths, labels = [], []
    for name in sorted(os.listdir(root)):
        if name.lower().endswith(IMG_EXTENSIONS) and osp.isfile(osp.join(root, name)):
            paths.append(osp.join(root, name))
            labels.append(-1)
    for idx, cls in enumerate(classes):
        for dirpath, _, files in sorted(os.walk(osp.join(root, cls), followlinks=True)):
            for name in sorted(files):
                if name.lower().endswith(IMG_EXTENSIONS):
                    paths.append(osp.join(dirpath, name))
                    labels.append(idx)
    if not paths:
        raise ValueError(f'no images with extensions {IMG_EXTENSIONS} under {root!r}')
    return paths, np.asarray(labels, dtype=np.int64), classes


def split_train_test(labels: np.ndarray,
                     test_fraction: float,
                     seed: int,
                     max_images: Optional[int] = None) -> Tuple[np.ndarray, np.ndarray]:
    """Deterministic split, stratified by label; ``max_images`` subsamples (also stratified) first."""
    if not 0 < test_fraction < 1:
        raise ValueError(f'test_fraction must be in (0, 1), got {test_fraction}')
    rng = np.random.default_rng(seed)
    train, test = [], []
    uniq = np.unique(labels)
    keep = 1.0 if not max_images else min(1.0, max_images / len(labels))
    for lab in uniq:
        idx = rng.permutation(np.flatnonzero(labels == lab))
        idx = idx[:max(2, int(round(len(idx) * keep)))]
        n_test = max(1, int(round(len(idx) * test_fraction)))
        test += idx[:n_test].tolist()
        train += idx[n_test:].tolist()
    return np.sort(np.asarray(train)), np.sort(np.asarray(test))


def load_images(paths: Sequence[str], size: int) -> np.ndarray:
    """Load BGR images resized to ``size x size`` -> ``(N, size, size, 3)`` uint8."""
    out = np.empty((len(paths), size, size, 3), np.uint8)
    for i, p in enumerate(paths):
        img = mmcv.imread(p, channel_order='bgr')
        if img is None:
            raise ValueError(f'cannot read image {p!r}')
        out[i] = mmcv.imresize(img, (size, size), interpolation='bicubic')
    return out


# -------------------------------------------------------------------------------------- backbone
@dataclass
class FrozenBackbone:
    """A backbone in eval mode plus how to normalise its inputs.

    ``to_rgb`` means the backbone was trained on RGB. :meth:`embed` is told the channel order of the
    arrays it gets (default BGR, as ``LoadImageFromFile`` gives them) and flips them only when it differs
    from the backbone's, so RGB arrays (``NpzImageDataset``, CIFAR) must be passed with
    ``channel_order='rgb'`` (:func:`dataset_channel_order` says which).
    """
    name: str
    backbone: nn.Module
    mean: Tuple[float, float, float] = IMAGENET_MEAN
    std: Tuple[float, float, float] = IMAGENET_STD
    to_rgb: bool = True
    pool: str = 'auto'
    info: Dict = field(default_factory=dict)

    @torch.no_grad()
    def embed(self,
              imgs: np.ndarray,
              batch_size: int = 64,
              device: str = 'cpu',
              channel_order: str = 'bgr') -> np.ndarray:
        """``(N, h, w, 3)`` uint8 images in ``channel_order`` -> ``(N, C)`` float64 pooled embeddings."""
        if channel_order not in ('rgb', 'bgr'):
            raise ValueError(f"channel_order must be 'rgb' or 'bgr', got {channel_order!r}")
        flip = (channel_order == 'bgr') == self.to_rgb
        self.backbone.to(device)
        self.backbone.eval()
        mean = torch.tensor(self.mean, device=device).view(1, 3, 1, 1)
        std = torch.tensor(self.std, device=device).view(1, 3, 1, 1)
        feats = []
        for start in range(0, len(imgs), batch_size):
            x = torch.from_numpy(np.ascontiguousarray(imgs[start:start + batch_size])).to(device)
            x = x.permute(0, 3, 1, 2).float()
            if flip:
                x = x[:, [2, 1, 0]]
            x = (x - mean) / std
            feats.append(pool_embedding(self.backbone(x), self.pool, self.backbone).double().cpu())
        return torch.cat(feats).numpy()


def _model_parts(cfg: Config) -> Tuple[dict, dict]:
    """Backbone config and data-preprocessor config of a (possibly SP-wrapped) algorithm config."""
    model = cfg.get('model')
    if model is None:
        raise KeyError(f'config {cfg.filename} has no model')
    algo = model.get('host', model) if model.get('type') == 'SpatialPrediction' else model
    if 'backbone' not in algo:
        raise KeyError(f'config {cfg.filename}: no model.backbone (nor model.host.backbone)')
    pre = algo.get('data_preprocessor') or model.get('data_preprocessor') or cfg.get('data_preprocessor') or {}
    return algo['backbone'], pre


#: datasets that give RGB arrays (no file loading), so their configs say ``to_rgb=False`` although the
#: backbone sees RGB: mmpretrain's CIFAR/MNIST and mmspatial's ScatSimCLR datasets. Every other dataset
#: gives BGR (``LoadImageFromFile``, ``SyntheticScenes``).
RGB_ARRAY_DATASETS = ('CIFAR10', 'CIFAR100', 'MNIST', 'FashionMNIST', 'CIFAR100_20', 'STL10', 'NpzImageDataset')


def dataset_channel_order(dataset_cfg: Optional[dict]) -> str:
    """Channel order (``'rgb'`` / ``'bgr'``) of the images a dataset config yields.

    The one place that decides it for training configs and probes alike (issue 14): RGB for the array
    datasets of :data:`RGB_ARRAY_DATASETS`, BGR for everything else. Wrappers (``RepeatDataset`` & co.)
    are looked through; a dataset config may state ``channel_order`` itself.
    """
    dataset = dict(dataset_cfg or {})
    while isinstance(dataset.get('dataset'), dict):  # RepeatDataset & co.
        dataset = dict(dataset['dataset'])
    if dataset.get('channel_order') in ('rgb', 'bgr'):
        return dataset['channel_order']
    return 'rgb' if str(dataset.get('type', '')).split('.')[-1] in RGB_ARRAY_DATASETS else 'bgr'


def _flip(order: str) -> str:
    return {'rgb': 'bgr', 'bgr': 'rgb'}[order]


def backbone_channel_order(cfg: Config, pre: Optional[dict] = None) -> str:
    """Channel order the backbone of ``cfg`` saw in training: the data's, flipped if the preprocessor
    converts (``to_rgb`` / ``bgr_to_rgb``). Without any preprocessor config: mmpretrain's usual BGR files
    with ``to_rgb=True``, i.e. RGB."""
    if pre is None:
        pre = _model_parts(cfg)[1]
    if not pre:
        return 'rgb'
    order = dataset_channel_order((cfg.get('train_dataloader') or {}).get('dataset'))
    return _flip(order) if pre.get('to_rgb', pre.get('bgr_to_rgb', False)) else order


def _trained_on_rgb(cfg: Config, pre: dict) -> bool:
    """Whether the backbone of ``cfg`` saw RGB images in training."""
    return backbone_channel_order(cfg, pre) == 'rgb'


def preprocessor_norm(preprocessor) -> Tuple[Tuple[float, ...], Tuple[float, ...], bool]:
    """``(mean, std, converts_channels)`` of a built ``SelfSupDataPreprocessor`` / ``DataPreprocessor``
    (mmengine's ``ImgDataPreprocessor`` family), for probes that normalise arrays themselves."""
    mean = getattr(preprocessor, 'mean', None)
    std = getattr(preprocessor, 'std', None)
    if mean is None or std is None or not getattr(preprocessor, '_enable_normalize', True):
        raise ValueError(f'{type(preprocessor).__name__} does not normalise (no mean/std): a probe '
                         'would feed the backbone other inputs than training did')
    return (tuple(float(v) for v in mean.reshape(-1)), tuple(float(v) for v in std.reshape(-1)),
            bool(getattr(preprocessor, '_channel_conversion', False)))


def _extract_backbone_state(state: dict, key: str, backbone: nn.Module, source: str) -> dict:
    """Keys of ``state`` under ``key`` (also ``module.<key>``, ``host.<key>``), prefix removed."""
    if 'state_dict' in state and isinstance(state['state_dict'], dict):
        state = state['state_dict']
    for prefix in (key, f'module.{key}', f'host.{key}'):
        sub = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
        if sub:
            return sub
    own = set(backbone.state_dict())
    if own & set(state):  # a bare backbone checkpoint
        return state
    raise KeyError(f'{source}: no key starts with {key!r} (nor module./host. variants) and the keys do '
                   f'not match the backbone; first keys: {list(state)[:5]}. Set --key.')


def _load_checkpoint(path: str) -> dict:
    """``weights_only=True`` loading with mmspatial's scoped allow-list (mmengine checkpoints pickle a
    few non-tensor objects); a file needing more raises, naming them (``mmspatial.engine.safe_load``)."""
    from mmengine.runner.checkpoint import CheckpointLoader

    from mmspatial.engine.safe_load import checkpoint_loading
    with checkpoint_loading():
        return CheckpointLoader.load_checkpoint(path, map_location='cpu')


def load_frozen_backbone(config: str,
                         checkpoint: str,
                         key: str = 'backbone.',
                         name: str = '',
                         seed: int = 0,
                         pool: str = 'auto') -> FrozenBackbone:
    """Build the backbone of ``config`` and load ``checkpoint`` (``'random'``: seeded init only)."""
    from mmengine.model import revert_sync_batchnorm
    from mmpretrain.registry import MODELS

    import mmspatial  # noqa: F401  (registers our modules)
    cfg = Config.fromfile(config)
    backbone_cfg, pre = _model_parts(cfg)
    torch.manual_seed(seed)
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        backbone = MODELS.build(dict(backbone_cfg))
    backbone = revert_sync_batchnorm(backbone)
    if hasattr(backbone, 'init_weights'):
        logger = MMLogger.get_current_instance()
        level = logger.level
        logger.setLevel(logging.WARNING)  # init_weights logs every parameter at INFO
        try:
            backbone.init_weights()
        finally:
            logger.setLevel(level)
    info = dict(config=config, checkpoint=checkpoint)
    if checkpoint != 'random':
        state = _load_checkpoint(checkpoint)
        sub = _extract_backbone_state(state, key, backbone, checkpoint)
        result = backbone.load_state_dict(sub, strict=False)
        if len(result.missing_keys) == len(backbone.state_dict()):
            raise KeyError(f'{checkpoint}: none of the backbone weights were found (key={key!r})')
        if result.missing_keys or result.unexpected_keys:  # a partial load would evaluate a hybrid
            raise KeyError(f'{checkpoint} does not match the backbone of {config} (key={key!r}): '
                           f'missing {result.missing_keys[:5]} ({len(result.missing_keys)} in all), '
                           f'unexpected {result.unexpected_keys[:5]} '
                           f'({len(result.unexpected_keys)} in all)')
        info.update(missing_keys=0, unexpected_keys=0)  # reported by the tools: a full load
    to_rgb = _trained_on_rgb(cfg, pre)
    backbone.eval()  # (some backbones' train() returns None, so no chaining)
    return FrozenBackbone(
        name=name or osp.basename(checkpoint),
        backbone=backbone,
        mean=tuple(pre.get('mean', IMAGENET_MEAN)),
        std=tuple(pre.get('std', IMAGENET_STD)),
        to_rgb=to_rgb,
        pool=pool,
        info=info)


# ------------------------------------------------------------------------------------------ probes
class Standardizer:
    """Per-dimension z-scoring with statistics of the training set."""

    def __init__(self, x: np.ndarray) -> None:
        self.mean = x.mean(0)
        self.std = x.std(0) + 1e-8

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return (x - self.mean) / self.std


def fit_ridge(x: np.ndarray, y: np.ndarray, alpha: float) -> Tuple[np.ndarray, np.ndarray]:
    """Closed-form ridge with an unpenalised intercept; primal or dual form, whichever is smaller.

    Returns:
        tuple: weights ``(D, T)`` and intercept ``(T,)``.
    """
    x_mean, y_mean = x.mean(0), y.mean(0)
    xc, yc = x - x_mean, y - y_mean
    n, d = xc.shape
    if d <= n:
        w = np.linalg.solve(xc.T @ xc + alpha * np.eye(d), xc.T @ yc)
    else:
        w = xc.T @ np.linalg.solve(xc @ xc.T + alpha * np.eye(n), yc)
    return w, y_mean - x_mean @ w


def predict_ridge(x: np.ndarray, model: Tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    w, b = model
    return x @ w + b


def select_alpha(x: np.ndarray,
                 y: np.ndarray,
                 groups: np.ndarray,
                 score_fn,
                 seed: int,
                 alphas: Sequence[float] = DEFAULT_ALPHAS,
                 folds: int = 3) -> float:
    """Ridge strength with the best mean validation score over ``folds`` folds split by ``groups``
    (an image's pairs/tiles never sit on both sides). Higher ``score_fn(y_true, y_pred)`` is better."""
    uniq = np.random.default_rng(seed).permutation(np.unique(groups))
    fold_of = {g: i % folds for i, g in enumerate(uniq)}
    fold = np.array([fold_of[g] for g in groups])
    best, best_score = alphas[0], -np.inf
    for alpha in alphas:
        scores = []
        for f in range(folds):
            tr, va = fold != f, fold == f
            if not tr.any() or not va.any():
                continue
            scores.append(score_fn(y[va], predict_ridge(x[va], fit_ridge(x[tr], y[tr], alpha))))
        if scores and np.mean(scores) > best_score:
            best, best_score = alpha, float(np.mean(scores))
    return float(best)


def r2_score(y: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """Per-column coefficient of determination."""
    ss_res = ((y - pred)**2).sum(0)
    ss_tot = ((y - y.mean(0))**2).sum(0)
    return 1 - ss_res / np.maximum(ss_tot, 1e-12)


# ------------------------------------------------------------------------------------------ output
def markdown_table(header: Sequence[str], rows: Sequence[Sequence]) -> str:

    def fmt(v):
        return f'{v:.4f}' if isinstance(v, float) else str(v)

    lines = ['| ' + ' | '.join(header) + ' |', '|' + '---|' * len(header)]
    lines += ['| ' + ' | '.join(fmt(v) for v in row) + ' |' for row in rows]
    return '\n'.join(lines) + '\n'


def write_report(out_dir: str, stem: str, results: dict, table: str) -> Tuple[str, str]:
    os.makedirs(out_dir, exist_ok=True)
    json_path, md_path = osp.join(out_dir, f'{stem}.json'), osp.join(out_dir, f'{stem}.md')
    with open(json_path, 'w') as f:
        json.dump(results, f, indent=2)
    with open(md_path, 'w') as f:
        f.write(table)
    return json_path, md_path


def resolve_specs(checkpoints: Sequence[str],
                  configs: Sequence[str],
                  names: Optional[Sequence[str]] = None) -> List[Tuple[str, str, str]]:
    """Pair every checkpoint with its config (one config for all, or one each) and a display name."""
    if len(configs) not in (1, len(checkpoints)):
        raise ValueError(f'give one config or one per checkpoint: {len(configs)} configs for '
                         f'{len(checkpoints)} checkpoints')
    if names and len(names) != len(checkpoints):
        raise ValueError(f'{len(names)} names for {len(checkpoints)} checkpoints')
    cfgs = list(configs) * len(checkpoints) if len(configs) == 1 else list(configs)
    out = []
    for i, (ckpt, cfg) in enumerate(zip(checkpoints, cfgs)):
        name = names[i] if names else (ckpt if ckpt == 'random' else osp.splitext(osp.basename(ckpt))[0])
        out.append((name, cfg, ckpt))
    return out


def prepare_split(data_root: str,
                  image_size: int,
                  test_fraction: float,
                  seed: int,
                  max_images: Optional[int] = None) -> dict:
    """Load an image folder, resized to ``image_size`` squared, split into train/test images."""
    paths, labels, classes = list_image_folder(data_root)
    train, test = split_train_test(labels, test_fraction, seed, max_images)
    return dict(
        classes=classes,
        train_images=load_images([paths[i] for i in train], image_size),
        train_labels=labels[train],
        test_images=load_images([paths[i] for i in test], image_size),
        test_labels=labels[test])

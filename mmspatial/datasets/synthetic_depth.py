"""Depth maps for the embedded :class:`~mmspatial.datasets.synthetic_scenes.SyntheticScenes`, exported in
NYU-Depth-v2's layout so mmseg's depth path (``NYUDataset`` + ``LoadDepthAnnotation`` + ``DepthMetric``) runs with
no download.

The scene geometry is defined here, on top of what the scenes draw (their public ``render`` output only):

- background: a plane receding towards the top of the image, ``depth = far + tilt * (1 - y / (H - 1))`` plus a
  horizontal slope, with ``far``, ``tilt`` and the slope drawn per scene;
- objects: fronto-parallel, each at one depth. Objects drawn later occlude earlier ones in the image, so they
  are nearer: the depths, drawn per scene, are sorted to decrease in drawing order and all lie in front of the
  background's nearest point. Each visible object mask gets its depth.

Limitation: ``render`` drops objects with fewer than 16 visible pixels from its masks; those few pixels keep the
background depth although they show the object's texture.

Files (as ``mmseg.datasets.NYUDataset`` reads them): ``images/<split>/synthetic_<i>.jpg`` and
``annotations/<split>/synthetic_<i>.png``, the depth as 16-bit PNG in millimetres (NYU's encoding, read back with
``LoadDepthAnnotation(depth_rescale_factor=1e-3)``).
"""
import os
import os.path as osp
from typing import Sequence, Tuple

import cv2
import numpy as np

from .synthetic_scenes import SyntheticScenes

# depth ranges in metres: every value is inside NYU's DepthMetric window (0.001, 10)
OBJECT_DEPTH = (1.0, 4.5)
BACKGROUND_FAR = (6.0, 8.0)
BACKGROUND_TILT = (0.5, 1.5)
BACKGROUND_SLOPE = 0.3  # max |depth change| across the width
DEPTH_SCALE = 1000.0  # PNG units per metre (millimetres, as NYU)


def scene_depth(masks: Sequence[np.ndarray], seed: int, index: int, img_size: Tuple[int, int]) -> np.ndarray:
    """Depth map (metres, float32, ``img_size``) of a scene from its visible object masks in drawing order.

    The depths come from their own generator, seeded by ``(seed, index)``, so they do not depend on how the
    scene was drawn, only on which scene it is.
    """
    h, w = img_size
    rng = np.random.default_rng([seed, index, 0xDE97])
    far, tilt = rng.uniform(*BACKGROUND_FAR), rng.uniform(*BACKGROUND_TILT)
    slope = rng.uniform(-BACKGROUND_SLOPE, BACKGROUND_SLOPE)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    depth = far + tilt * (1 - yy / max(h - 1, 1)) + slope * (xx / max(w - 1, 1) - 0.5)
    # objects: drawn later = nearer; strictly decreasing so adjacent objects never share a depth
    object_depths = np.sort(rng.uniform(*OBJECT_DEPTH, size=len(masks)))[::-1]
    for mask, d in zip(masks, object_depths):
        depth[mask] = d
    return depth.astype(np.float32)


def encode_depth(depth: np.ndarray) -> np.ndarray:
    """Metres -> NYU's 16-bit millimetre PNG values (rounded)."""
    if depth.min() < 0 or depth.max() * DEPTH_SCALE > np.iinfo(np.uint16).max:
        raise ValueError(f'depth must be in [0, {np.iinfo(np.uint16).max / DEPTH_SCALE}] m, got '
                         f'[{depth.min()}, {depth.max()}]')
    return np.round(depth * DEPTH_SCALE).astype(np.uint16)


def render_depth(dataset: SyntheticScenes, index: int) -> Tuple[np.ndarray, np.ndarray]:
    """Image (BGR uint8) and depth map (metres) of scene ``index`` of ``dataset``."""
    scene = dataset.render(index)
    img = scene['img']
    return img, scene_depth(scene['masks'], dataset.seed, index, img.shape[:2])


def export_nyu_depth(dataset: SyntheticScenes, out_dir: str, split: str = 'train') -> Tuple[str, str]:
    """Write every scene of ``dataset`` as an NYU-Depth-v2 sample under ``out_dir``.

    Args:
        dataset (SyntheticScenes): the scenes (their seed, size and count define the export).
        out_dir (str): dataset root (``data_root`` of ``NYUDataset``).
        split (str): split folder, ``'train'`` or ``'test'`` in mmseg's NYU configs.

    Returns:
        tuple[str, str]: the image and depth directories.
    """
    img_dir, ann_dir = osp.join(out_dir, 'images', split), osp.join(out_dir, 'annotations', split)
    os.makedirs(img_dir, exist_ok=True)
    os.makedirs(ann_dir, exist_ok=True)
    for i in range(len(dataset)):
        img, depth = render_depth(dataset, i)
        name = f'synthetic_{i:06d}'
        # JPEG as NYU's images (quality 95 keeps the textures); the depth PNG is lossless
        if not cv2.imwrite(osp.join(img_dir, name + '.jpg'), img, [cv2.IMWRITE_JPEG_QUALITY, 95]):
            raise OSError(f'could not write {osp.join(img_dir, name + ".jpg")}')
        if not cv2.imwrite(osp.join(ann_dir, name + '.png'), encode_depth(depth)):
            raise OSError(f'could not write {osp.join(ann_dir, name + ".png")}')
    return img_dir, ann_dir

"""Rotation and jigsaw pretext inputs for ScatSimCLR's regulariser (https://arxiv.org/abs/2108.13939).

Why a pipeline transform and not the model: the reference (``src/data/rotation_dataset.py`` and
``src/data/jigsaw_dataset.py`` of vkinakh/scatsimclr) builds these inputs in the dataset, from the
*un-augmented* image: every rotated copy gets its *own* random contrastive augmentation (Lanczos crop,
jitter, blur on PIL images), and jigsaw tiles are cut from the raw image and resized with PIL. Doing
this on the batch in the model would share one augmentation across the 4 rotations and could not apply
the PIL/cv2 augmentations, so it would not be the same task. The data workers pay the cost (4 or 9
extra images per sample), as in the reference.

Usage (before ``MultiView``; ``MergePretextViews`` appends the pretext images after the two views)::

    dict(type='RotationPretext', transforms=view_pipeline),   # or JigsawPretext(tile_size=96)
    dict(type='MultiView', num_views=2, transforms=[view_pipeline]),
    dict(type='MergePretextViews'),
    dict(type='PackInputs', algorithm_keys=['pretext_label']),

The model then receives ``inputs = [view1, view2, pretext_0, ..., pretext_{T-1}]`` and
``data_sample.pretext_label``.
"""
import copy
import itertools
import math
from functools import lru_cache
from typing import Dict, List, Sequence, Tuple, Union

import numpy as np
from mmcv.transforms import BaseTransform, Compose
from PIL import Image
from mmpretrain.registry import TRANSFORMS

# k quarter-turns clockwise for label k: 0, 90 CW, 180, 90 CCW (cv2.ROTATE_* order of the reference).
ROTATION_LABELS = (0, 1, 2, 3)


def rotate_clockwise(img: np.ndarray, label: int) -> np.ndarray:
    """Rotate an HWC image by ``label`` quarter-turns clockwise."""
    return np.ascontiguousarray(np.rot90(img, k=-label, axes=(0, 1)))


@TRANSFORMS.register_module()
class RotationPretext(BaseTransform):
    """All 4 rotations of the image, each through its own run of ``transforms``.

    Reference: ``RotationDataset.__getitem__``: ``[aug(img), aug(rot90cw(img)), aug(rot180(img)),
    aug(rot90ccw(img))]`` with labels ``[0, 1, 2, 3]``, where ``aug`` is the first view of the
    contrastive augmentation.

    Added keys: ``pretext_img`` (list of 4 images), ``pretext_label`` (int64 array [0, 1, 2, 3]).

    Args:
        transforms (list): the view pipeline applied to every rotated copy.
    """

    def __init__(self, transforms: List[Union[dict, callable]]) -> None:
        self.pipeline = Compose(transforms)

    def transform(self, results: Dict) -> Dict:
        imgs = []
        for label in ROTATION_LABELS:
            rotated = copy.deepcopy(results)
            rotated['img'] = rotate_clockwise(results['img'], label)
            rotated['img_shape'] = rotated['img'].shape[:2]
            imgs.append(self.pipeline(rotated)['img'])
        results['pretext_img'] = imgs
        results['pretext_label'] = np.array(ROTATION_LABELS, dtype=np.int64)
        return results

    def __repr__(self) -> str:
        return f'{type(self).__name__}(transforms={self.pipeline})'


@lru_cache(maxsize=None)
def jigsaw_permutations(num: int = 35, num_tiles: int = 9) -> np.ndarray:
    """``num`` permutations of ``num_tiles`` tiles far apart in Hamming distance, deterministically.

    Greedy farthest-point selection (as in Noroozi & Favaro's "maximal Hamming distance" sets): start
    from the identity; repeatedly add the permutation whose minimum distance to the chosen ones is
    largest (ties: the largest summed distance, then the first in lexicographic order). For the
    default 35 of 9 tiles the minimum pairwise distance is 7 and the mean 8.23 (tests check both).
    The reference loads a file of unknown provenance (``data/permutations_35.npy``) instead.

    Returns:
        np.ndarray: (num, num_tiles) int64; row p maps output slot t to source tile ``perm[p, t]``.
    """
    if num_tiles > 10:
        raise ValueError(f'{num_tiles}! permutations are too many to search')
    perms = np.array(list(itertools.permutations(range(num_tiles))), dtype=np.int8)
    if num > len(perms):
        raise ValueError(f'only {len(perms)} permutations of {num_tiles} tiles exist, asked for {num}')
    chosen = [0]
    dist = (perms != perms[0]).sum(1, dtype=np.int64)
    dmin, dsum = dist.copy(), dist.copy()
    for _ in range(num - 1):
        nxt = int(np.argmax(dmin * (num * num_tiles + 1) + dsum))
        chosen.append(nxt)
        dist = (perms != perms[nxt]).sum(1, dtype=np.int64)
        dmin, dsum = np.minimum(dmin, dist), dsum + dist
    return perms[chosen].astype(np.int64)


def tile_boxes(height: int, width: int, grid: int = 3) -> List[Tuple[int, int, int, int]]:
    """Row-major (x1, y1, x2, y2) tile boxes with the reference's rounding.

    The reference cuts tile (i, j) as ``[ceil(j*s), int(j*s + s))`` with ``s = width / grid`` in both
    directions (it assumes square images), so when the side is not a multiple of ``grid`` 1-px seams
    between tiles are dropped (e.g. columns 10 and 21 of a 32-px image). We use the height for rows.
    """
    sy, sx = height / grid, width / grid
    return [(math.ceil(j * sx), math.ceil(i * sy), int(j * sx + sx), int(i * sy + sy))
            for i in range(grid) for j in range(grid)]


@TRANSFORMS.register_module()
class JigsawPretext(BaseTransform):
    """3x3 tiles of the image, each resized to ``tile_size``, shuffled by a random permutation.

    Reference: ``JigsawDataset._get_patches``: tiles of the *un-augmented* image, each resized
    (PIL bilinear, torchvision ``Resize``) to the input size and converted with ``ToTensor`` only, i.e. no
    colour augmentation and no mean/std normalisation (``ScatSimCLR(raw_pretext_inputs=True)`` undoes the
    data preprocessor's normalisation for them); slot t holds tile ``perms[label][t]``.

    Added keys: ``pretext_img`` (list of grid^2 images), ``pretext_label`` (int64 permutation index).

    Args:
        tile_size (int | Sequence[int]): (h, w) every tile is resized to, the views' input size.
        grid (int): tiles per side. Defaults to 3.
        num_permutations (int): size of the permutation set (:func:`jigsaw_permutations`). Defaults to 35.
        interpolation (str): PIL resampling filter name. Defaults to 'bilinear' (torchvision's default).
    """

    def __init__(self, tile_size: Union[int, Sequence[int]], grid: int = 3, num_permutations: int = 35,
                 interpolation: str = 'bilinear') -> None:
        self.tile_size = (tile_size, tile_size) if isinstance(tile_size, int) else tuple(tile_size)
        self.grid = grid
        self.permutations = jigsaw_permutations(num_permutations, grid * grid)
        self.resample = getattr(Image.Resampling, interpolation.upper())

    def tiles(self, img: np.ndarray) -> List[np.ndarray]:
        """Un-resized tiles of ``img`` in row-major order."""
        return [img[y1:y2, x1:x2] for x1, y1, x2, y2 in tile_boxes(*img.shape[:2], self.grid)]

    def transform(self, results: Dict) -> Dict:
        h, w = self.tile_size
        tiles = [np.array(Image.fromarray(np.ascontiguousarray(t)).resize((w, h), self.resample))
                 for t in self.tiles(results['img'])]
        label = np.random.randint(len(self.permutations))
        results['pretext_img'] = [tiles[src] for src in self.permutations[label]]
        results['pretext_label'] = np.int64(label)
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(tile_size={self.tile_size}, grid={self.grid}, '
                f'num_permutations={len(self.permutations)})')


@TRANSFORMS.register_module()
class MergePretextViews(BaseTransform):
    """Append ``results['pretext_img']`` to the list of views in ``results['img']`` (after ``MultiView``)."""

    def transform(self, results: Dict) -> Dict:
        if not isinstance(results['img'], list):
            raise TypeError('MergePretextViews expects the list of views made by MultiView in "img"')
        results['img'] = results['img'] + results.pop('pretext_img')
        return results

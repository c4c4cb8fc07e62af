"""Rotation and jigsaw pretext inputs for ScatSimCLR's regulariser (https://arxiv.org/abs/2108.13939).

Reference: ``src/data/rotation_dataset.py`` and ``src/data/jigsaw_dataset.py`` of vkinakh/scatsimclr,
which build these inputs in the dataset from the un-augmented image (why they are pipeline transforms
here and not batch operations in the model: ``configs/scatsimclr/README.md``).

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
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
from mmcv.transforms import BaseTransform, Compose
from mmpretrain.registry import TRANSFORMS
from PIL import Image

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
    The reference loads a fixed file instead (``data/permutations_35.npy``);
    ``JigsawPretext(permutations_file=...)`` uses such a file.

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


def load_permutations(path: str, num: int = 35, num_tiles: int = 9) -> np.ndarray:
    """Load and validate a user's permutation set: a ``.npy`` array of shape (num, num_tiles).

    Rows may be 0- or 1-based: as the reference's ``retrive_permutations``, a set whose minimum is 1 is
    shifted down by one. Every row must then be a permutation of ``0 .. num_tiles - 1`` and no row may
    repeat; otherwise a ``ValueError`` names the file and the row.

    Returns:
        np.ndarray: (num, num_tiles) int64, as :func:`jigsaw_permutations`.
    """
    try:
        perms = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as err:
        raise ValueError(f'permutations_file {path!r}: cannot read a .npy array ({err})') from err
    if perms.shape != (num, num_tiles):
        raise ValueError(f'permutations_file {path!r}: expected shape ({num}, {num_tiles}), got {perms.shape}')
    if not np.issubdtype(perms.dtype, np.number) or not np.array_equal(perms, np.round(perms)):
        raise ValueError(f'permutations_file {path!r}: entries must be integers, got dtype {perms.dtype}')
    perms = perms.astype(np.int64)
    if perms.min() == 1:  # 1-based file (the reference accepts both)
        perms = perms - 1
    identity = np.arange(num_tiles)
    seen = {}
    for row, perm in enumerate(perms):
        if not np.array_equal(np.sort(perm), identity):
            raise ValueError(f'permutations_file {path!r}: row {row} {perm.tolist()} is not a permutation of '
                             f'0..{num_tiles - 1} (or 1..{num_tiles})')
        key = perm.tobytes()
        if key in seen:
            raise ValueError(f'permutations_file {path!r}: row {row} repeats row {seen[key]} ({perm.tolist()})')
        seen[key] = row
    return perms


def tile_boxes(height: int, width: int, grid: int = 3) -> List[Tuple[int, int, int, int]]:
    """Row-major (x1, y1, x2, y2) tile boxes, computed in floating point exactly as the reference.

    Reference (``JigsawDataset._get_patches``): with ``s = side / grid`` and ``a = s / 2``, tile (i, j) has
    centre ``c = a * 2 * k + a`` per axis (k = j for x, i for y) and spans ``[ceil(c - a), int(c + a))``.
    The float rounding drops pixels: at 32 px the spans are [0, 10), [11, 21), [22, 31), so columns 10
    and 21 (seams) and column 31 (the last one) are never used; at 64 px the last span ends at 63; at
    96 px (a multiple of 3 with exact halves) the tiles cover the image. The reference assumes square
    images (it uses the width for both axes); we use the height for rows.
    """

    def spans(side: int) -> List[Tuple[int, int]]:
        half = float(side) / grid / 2
        centres = [half * k * 2 + half for k in range(grid)]
        return [(math.ceil(c - half), int(c + half)) for c in centres]

    rows, cols = spans(height), spans(width)
    return [(x1, y1, x2, y2) for y1, y2 in rows for x1, x2 in cols]


@TRANSFORMS.register_module()
class JigsawPretext(BaseTransform):
    """3x3 tiles of the image, each resized to ``tile_size``, shuffled by a random permutation.

    Reference: ``JigsawDataset._get_patches``: tiles of the *un-augmented* image, each resized
    (PIL bilinear, torchvision ``Resize``) to the input size and converted with ``ToTensor`` only, i.e. no
    colour augmentation and no mean/std normalisation (``ScatSimCLR(raw_pretext_inputs=True)`` undoes the
    data preprocessor's normalisation for them); slot t holds tile ``perms[label][t]``.

    Tile edges follow the reference's float rounding (:func:`tile_boxes`). The permutation set is
    generated (:func:`jigsaw_permutations`, minimum pairwise Hamming distance 7) unless
    ``permutations_file`` gives one, e.g. the reference's ``data/permutations_35.npy`` (a different set:
    labels, and heads trained with one set, do not transfer to the other).

    Added keys: ``pretext_img`` (list of grid^2 images), ``pretext_label`` (int64 permutation index).

    Args:
        tile_size (int | Sequence[int]): (h, w) every tile is resized to, the views' input size.
        grid (int): tiles per side. Defaults to 3.
        num_permutations (int): size of the permutation set. Defaults to 35.
        interpolation (str): PIL resampling filter name. Defaults to 'bilinear' (torchvision's default).
        permutations_file (str, optional): ``.npy`` of shape (num_permutations, grid^2), 0- or 1-based
            (:func:`load_permutations` validates it). Defaults to None (the generated set).
    """

    def __init__(self,
                 tile_size: Union[int, Sequence[int]],
                 grid: int = 3,
                 num_permutations: int = 35,
                 interpolation: str = 'bilinear',
                 permutations_file: Optional[str] = None) -> None:
        self.tile_size = (tile_size, tile_size) if isinstance(tile_size, int) else tuple(tile_size)
        self.grid = grid
        self.permutations_file = permutations_file
        if permutations_file is None:
            self.permutations = jigsaw_permutations(num_permutations, grid * grid)
        else:
            self.permutations = load_permutations(permutations_file, num_permutations, grid * grid)
        self.resample = getattr(Image.Resampling, interpolation.upper())

    def tiles(self, img: np.ndarray) -> List[np.ndarray]:
        """Un-resized tiles of ``img`` in row-major order."""
        return [img[y1:y2, x1:x2] for x1, y1, x2, y2 in tile_boxes(*img.shape[:2], self.grid)]

    def transform(self, results: Dict) -> Dict:
        h, w = self.tile_size
        tiles = [
            np.array(Image.fromarray(np.ascontiguousarray(t)).resize((w, h), self.resample))
            for t in self.tiles(results['img'])
        ]
        label = np.random.randint(len(self.permutations))
        results['pretext_img'] = [tiles[src] for src in self.permutations[label]]
        results['pretext_label'] = np.int64(label)
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(tile_size={self.tile_size}, grid={self.grid}, '
                f'num_permutations={len(self.permutations)}, permutations_file={self.permutations_file!r})')


@TRANSFORMS.register_module()
class MergePretextViews(BaseTransform):
    """Append ``results['pretext_img']`` to the list of views in ``results['img']`` (after ``MultiView``)."""

    def transform(self, results: Dict) -> Dict:
        if not isinstance(results['img'], list):
            raise TypeError('MergePretextViews expects the list of views made by MultiView in "img"')
        results['img'] = results['img'] + results.pop('pretext_img')
        return results

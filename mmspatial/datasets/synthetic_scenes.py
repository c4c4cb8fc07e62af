"""Procedurally generated scenes: the embedded demo dataset (no download needed).

Each image shows 2-5 objects (ellipse, rectangle, triangle, star) of random size, colour and texture on a
textured background. Rendering is deterministic per ``(seed, index)``, so the same dataset can be
re-created anywhere. Besides images it yields instance masks, so it can be exported as COCO instance
annotations (for mmdet) and as semantic label maps in ADE20K or Cityscapes layout (for mmseg).
"""
import json
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple, Union

import cv2
import numpy as np
from mmengine.dataset import BaseDataset
from mmpretrain.registry import DATASETS
from pycocotools import mask as mask_utils

SHAPES = ('ellipse', 'rectangle', 'triangle', 'star')

TEXTURES = ('flat', 'stripes', 'checks', 'noise')

TEXTURE_AMPLITUDE = (20, 60)  # default (min, max) swing of a texture's pattern around its colour, grey levels

Scene = Dict[str, Union[np.ndarray, List]]  # what render_scene returns


def _texture(rng: np.random.Generator,
             h: int,
             w: int,
             colour: np.ndarray,
             out: Optional[list] = None,
             kind: Optional[int] = None,
             amplitude: Tuple[float, float] = TEXTURE_AMPLITUDE) -> np.ndarray:
    """A colour field with one of four textures (:data:`TEXTURES`, random unless ``kind`` is given) whose
    pattern swings by a uniform ``amplitude`` range around the colour; appends its index to ``out`` if given."""
    kind = rng.integers(4) if kind is None else kind
    if out is not None:
        out.append(int(kind))
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    if kind == 0:
        pattern = np.zeros((h, w), np.float32)
    elif kind == 1:
        angle, period = rng.uniform(0, np.pi), rng.uniform(4, 16)
        pattern = np.sin((xx * np.cos(angle) + yy * np.sin(angle)) * 2 * np.pi / period)
    elif kind == 2:
        cell = int(rng.integers(4, 12))
        pattern = (((xx // cell) + (yy // cell)) % 2) * 2 - 1
    else:
        small = rng.normal(size=(max(h // 8, 2), max(w // 8, 2))).astype(np.float32)
        pattern = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
        pattern /= max(np.abs(pattern).max(), 1e-6)
    img = colour[None, None, :] + rng.uniform(*amplitude) * pattern[..., None]
    return np.clip(img, 0, 255)


def _shape_mask(rng: np.random.Generator,
                shape: str,
                h: int,
                w: int,
                min_size: float,
                max_size: float = 0.45) -> np.ndarray:
    """A binary mask with one object of the given shape at a random place and size.

    The size (ellipse major axis, rectangle width, star / triangle circumscribed diameter) is uniform in
    ``[min_size, max_size]`` times the shorter image side.
    """
    mask = np.zeros((h, w), np.uint8)
    size = rng.uniform(min_size, max_size) * min(h, w)
    cx, cy = rng.uniform(size / 2, w - size / 2), rng.uniform(size / 2, h - size / 2)
    angle = rng.uniform(0, 360)
    if shape == 'ellipse':
        axes = (int(size / 2), int(size / 2 * rng.uniform(0.5, 1.0)))
        cv2.ellipse(mask, (int(cx), int(cy)), axes, angle, 0, 360, 1, -1)
    else:
        if shape == 'rectangle':
            aspect = rng.uniform(0.5, 1.0)
            pts = np.array([[-1, -aspect], [1, -aspect], [1, aspect], [-1, aspect]]) * size / 2
        elif shape == 'triangle':
            t = np.deg2rad([90, 210, 330])
            pts = np.stack([np.cos(t), np.sin(t)], 1) * size / 2
        else:  # five-pointed star
            t = np.deg2rad(np.arange(10) * 36 + 90)
            r = np.where(np.arange(10) % 2 == 0, 1.0, 0.45)
            pts = np.stack([np.cos(t) * r, np.sin(t) * r], 1) * size / 2
        a = np.deg2rad(angle)
        rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
        pts = pts @ rot.T + np.array([cx, cy])
        cv2.fillPoly(mask, [np.round(pts).astype(np.int32)], 1)
    return mask.astype(bool)


def render_scene(seed: int,
                 index: int,
                 img_size: Tuple[int, int] = (128, 160),
                 num_objects: Tuple[int, int] = (2, 5),
                 min_object_size: float = 0.15,
                 max_object_size: float = 0.45,
                 background: str = 'texture',
                 gray: bool = False,
                 texture_amplitude: Tuple[float, float] = TEXTURE_AMPLITUDE) -> Scene:
    """Render scene ``index`` of the dataset with ``seed``.

    Object sizes are uniform in ``[min_object_size, max_object_size]`` times the shorter image side. The
    background has a random texture (``background='texture'``) or is one flat colour (``'flat'``). ``gray=True``
    draws every colour as a gray level (the mean of the random colour's channels: same scenes otherwise).
    ``texture_amplitude`` is the (min, max) swing of a texture's pattern around its colour, in grey levels.

    Returns:
        dict: ``img`` (H, W, 3) uint8 BGR; ``masks`` list of (H, W) bool visible masks; ``labels`` list of
        shape indices into :data:`SHAPES` (objects drawn later occlude earlier ones; fully hidden ones
        are dropped); ``textures`` their texture indices into :data:`TEXTURES`; ``label`` the shape and
        ``texture_label`` the texture of the largest visible object (image-level classes);
        ``background_texture`` the background's texture index.
    """
    if background not in ('texture', 'flat'):
        raise ValueError(f"background must be 'texture' or 'flat', got {background!r}")
    rng = np.random.default_rng([seed, index])
    h, w = img_size
    background_texture: List[int] = []

    def colour(low: float, high: float) -> np.ndarray:
        c = rng.uniform(low, high, size=3)
        return np.full(3, c.mean()) if gray else c

    background_kind = None if background == 'texture' else 0  # 'flat' is texture 0
    img = _texture(rng, h, w, colour(40, 215), background_texture, background_kind, amplitude=texture_amplitude)
    masks: List[np.ndarray] = []
    labels: List[int] = []
    textures: List[int] = []
    for _ in range(int(rng.integers(num_objects[0], num_objects[1] + 1))):
        label = int(rng.integers(len(SHAPES)))
        mask = _shape_mask(rng, SHAPES[label], h, w, min_object_size, max_object_size)
        img[mask] = _texture(rng, h, w, colour(0, 255), textures, amplitude=texture_amplitude)[mask]
        masks = [m & ~mask for m in masks]  # later objects occlude earlier ones
        masks.append(mask)
        labels.append(label)
    keep = [i for i, m in enumerate(masks) if m.sum() >= 16]
    masks, labels, textures = [masks[i] for i in keep], [labels[i] for i in keep], [textures[i] for i in keep]
    areas = [int(m.sum()) for m in masks]
    largest = int(np.argmax(areas)) if areas else None
    return dict(
        img=img.astype(np.uint8),
        masks=masks,
        labels=labels,
        textures=textures,
        label=labels[largest] if areas else 0,
        texture_label=textures[largest] if areas else 0,
        background_texture=background_texture[0])


@DATASETS.register_module()
class SyntheticScenes(BaseDataset):
    """Embedded demo dataset of procedurally generated scenes (see module docstring).

    Each item has ``img`` (BGR uint8, as ``LoadImageFromFile`` would give), ``img_path`` (a virtual
    name), ``ori_shape``, ``img_shape`` and ``gt_label`` (shape of the largest object, 4 classes), so
    pipelines start directly with augmentations (no loading transform).

    Args:
        num_images (int): dataset length. Defaults to 256.
        img_size (tuple[int, int]): ``(h, w)`` of every image. Defaults to (128, 160).
        num_objects (tuple[int, int]): min/max objects per image. Defaults to (2, 5).
        object_size (tuple[float, float]): min/max object size as a fraction of the shorter image side.
            Defaults to (0.15, 0.45).
        label (str): what ``gt_label`` means: ``'shape'`` (of the largest object, :data:`SHAPES`) or
            ``'texture'`` (of the largest object, :data:`TEXTURES`) or ``'background_texture'``. Defaults to
            ``'shape'``.
        background (str): ``'texture'`` (a random texture of :data:`TEXTURES`) or ``'flat'`` (one colour).
            Defaults to ``'texture'``.
        gray (bool): draw every colour as a gray level. Defaults to False.
        texture_amplitude (tuple[float, float]): (min, max) swing of a texture's pattern around its colour, in
            grey levels (uniform per texture). Defaults to (20, 60).
        cache (bool): keep rendered images in memory (per dataloader worker), for sets that are read
            many times such as a kNN bank. Defaults to False.
        seed (int): the dataset's identity; a different seed gives different scenes. Defaults to 0.
        pipeline (list): transforms applied to each item.
        test_mode (bool): as in :class:`mmengine.dataset.BaseDataset`.
    """
    METAINFO = dict(classes=SHAPES)
    LABELS = {
        'shape': ('label', SHAPES),
        'texture': ('texture_label', TEXTURES),
        'background_texture': ('background_texture', TEXTURES)
    }

    def __init__(self,
                 num_images: int = 256,
                 img_size: Sequence[int] = (128, 160),
                 num_objects: Sequence[int] = (2, 5),
                 object_size: Sequence[float] = (0.15, 0.45),
                 label: str = 'shape',
                 background: str = 'texture',
                 gray: bool = False,
                 texture_amplitude: Sequence[float] = TEXTURE_AMPLITUDE,
                 cache: bool = False,
                 seed: int = 0,
                 pipeline: Sequence = (),
                 test_mode: bool = False,
                 **kwargs) -> None:
        if num_images <= 0:
            raise ValueError(f'num_images must be positive, got {num_images}')
        self.num_images = num_images
        self.img_size = tuple(int(s) for s in img_size)
        self.num_objects = tuple(int(n) for n in num_objects)
        self.object_size = tuple(float(f) for f in object_size)
        if len(self.object_size) != 2 or not 0 < self.object_size[0] <= self.object_size[1] <= 1:
            raise ValueError(f'object_size must be (min, max) with 0 < min <= max <= 1, got {object_size}')
        if label not in self.LABELS:
            raise ValueError(f'label must be one of {sorted(self.LABELS)}, got {label!r}')
        if background not in ('texture', 'flat'):
            raise ValueError(f"background must be 'texture' or 'flat', got {background!r}")
        self.label = label
        self.background = background
        self.gray = gray
        self.texture_amplitude = tuple(float(a) for a in texture_amplitude)
        if len(self.texture_amplitude) != 2 or not 0 <= self.texture_amplitude[0] <= self.texture_amplitude[1]:
            raise ValueError(f'texture_amplitude must be (min, max) with 0 <= min <= max, got {texture_amplitude}')
        self.cache = cache
        self._cache: Dict[int, np.ndarray] = {}
        self.seed = seed
        metainfo = kwargs.pop('metainfo', None) or dict(classes=self.LABELS[label][1])
        super().__init__(ann_file='', metainfo=metainfo, pipeline=list(pipeline), test_mode=test_mode, **kwargs)

    def load_data_list(self) -> List[dict]:
        # Labels need rendering; it is cheap (~1 ms an image), and keeps get_cat_ids exact.
        data_list = []
        for i in range(self.num_images):
            scene = self.render(i)
            if self.cache:
                self._cache[i] = scene['img']
            data_list.append(
                dict(
                    img_path=f'synthetic://seed{self.seed}/{i:06d}.png',
                    scene_index=i,
                    gt_label=scene[self.LABELS[self.label][0]]))
        return data_list

    def render(self, index: int) -> Scene:
        return render_scene(self.seed, index, self.img_size, self.num_objects, *self.object_size, self.background,
                            self.gray, self.texture_amplitude)

    def get_data_info(self, idx: int) -> dict:
        info = super().get_data_info(idx)
        index = info['scene_index']
        img = self._cache.get(index) if self.cache else None
        if img is None:
            img = self.render(index)['img']
            if self.cache:
                self._cache[index] = img
        img = img.copy() if self.cache else img  # transforms may write in place
        info.update(img=img, ori_shape=img.shape[:2], img_shape=img.shape[:2])
        return info

    def export_images(self, out_dir: str) -> List[str]:
        """Write every image as PNG under ``out_dir`` (class sub-folders); returns the paths."""
        paths = []
        for i in range(self.num_images):
            scene = self.render(i)
            folder = osp.join(out_dir, SHAPES[scene['label']])
            os.makedirs(folder, exist_ok=True)
            path = osp.join(folder, f'{i:06d}.png')
            cv2.imwrite(path, scene['img'])
            paths.append(path)
        return paths

    def export_coco(self, out_dir: str, img_dir: str = 'images', ann_file: str = 'annotations/instances.json') -> str:
        """Export images and COCO instance annotations (masks as compressed RLE).

        Returns:
            str: path of the annotation file.
        """
        os.makedirs(osp.join(out_dir, img_dir), exist_ok=True)
        os.makedirs(osp.dirname(osp.join(out_dir, ann_file)), exist_ok=True)
        images, annotations = [], []
        categories = [dict(id=i + 1, name=n, supercategory='shape') for i, n in enumerate(SHAPES)]
        for i in range(self.num_images):
            scene = self.render(i)
            name = f'{i:06d}.png'
            cv2.imwrite(osp.join(out_dir, img_dir, name), scene['img'])
            h, w = scene['img'].shape[:2]
            images.append(dict(id=i + 1, file_name=name, height=h, width=w))
            for mask, label in zip(scene['masks'], scene['labels']):
                # Compressed RLE is exact (polygons traced through pixel centres lose half a pixel
                # all round, a lot for small objects); mmdet decodes it with poly2mask=True (default).
                rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
                rle['counts'] = rle['counts'].decode('ascii')
                ys, xs = np.nonzero(mask)
                x0, y0 = float(xs.min()), float(ys.min())
                bw, bh = float(xs.max() - x0 + 1), float(ys.max() - y0 + 1)
                annotations.append(
                    dict(
                        id=len(annotations) + 1,
                        image_id=i + 1,
                        category_id=label + 1,
                        segmentation=rle,
                        area=float(mask.sum()),
                        bbox=[x0, y0, bw, bh],
                        iscrowd=0))
        path = osp.join(out_dir, ann_file)
        with open(path, 'w') as f:
            json.dump(dict(images=images, annotations=annotations, categories=categories), f)
        return path

    def export_semantic(self, out_dir: str, layout: str = 'ade20k', split: str = 'training') -> Tuple[str, str]:
        """Export images and semantic label maps in an mmseg dataset layout.

        Args:
            out_dir (str): dataset root.
            layout (str): ``'ade20k'`` (``images/<split>/*.jpg`` + ``annotations/<split>/*.png``, label
                0 = background/ignored with ``reduce_zero_label``, shapes 1..4) or ``'cityscapes'``
                (``leftImg8bit/<split>/synth/*_leftImg8bit.png`` + ``gtFine/<split>/synth/
                *_gtFine_labelTrainIds.png``, shapes 0..3 and 255 = background/ignore).
            split (str): split folder name (e.g. ``training``/``validation`` or ``train``/``val``).

        Returns:
            tuple[str, str]: the image and label directories.
        """
        if layout == 'ade20k':
            img_dir, seg_dir = osp.join('images', split), osp.join('annotations', split)
        elif layout == 'cityscapes':
            img_dir = osp.join('leftImg8bit', split, 'synth')
            seg_dir = osp.join('gtFine', split, 'synth')
        else:
            raise ValueError(f"layout must be 'ade20k' or 'cityscapes', got {layout!r}")
        os.makedirs(osp.join(out_dir, img_dir), exist_ok=True)
        os.makedirs(osp.join(out_dir, seg_dir), exist_ok=True)
        for i in range(self.num_images):
            scene = self.render(i)
            if layout == 'ade20k':
                seg = np.zeros(scene['img'].shape[:2], np.uint8)
                offset = 1
                img_name, seg_name = f'{i:06d}.jpg', f'{i:06d}.png'
            else:
                seg = np.full(scene['img'].shape[:2], 255, np.uint8)
                offset = 0
                img_name = f'synth_{i:06d}_000019_leftImg8bit.png'
                seg_name = f'synth_{i:06d}_000019_gtFine_labelTrainIds.png'
            for mask, label in zip(scene['masks'], scene['labels']):
                seg[mask] = label + offset
            cv2.imwrite(osp.join(out_dir, img_dir, img_name), scene['img'])
            cv2.imwrite(osp.join(out_dir, seg_dir, seg_name), seg)
        return osp.join(out_dir, img_dir), osp.join(out_dir, seg_dir)


def build_demo_dataset(num_images: int = 64,
                       seed: int = 0,
                       img_size: Optional[Tuple[int, int]] = None) -> SyntheticScenes:
    """Shortcut used by tools and tests."""
    return SyntheticScenes(num_images=num_images, seed=seed, img_size=img_size or (128, 160))

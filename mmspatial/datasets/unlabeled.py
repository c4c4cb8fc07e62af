"""Unlabeled image datasets for self-supervised pretraining."""
import json
import os
import os.path as osp
from typing import List, Sequence

from mmengine.dataset import BaseDataset
from mmpretrain.registry import DATASETS

IMG_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.ppm', '.bmp', '.pgm', '.tif', '.tiff', '.webp')

DEMO_HINT = ('To try mmspatial without any dataset, run the embedded demo instead: '
             '`make demo` (or `python tools/train.py configs/scrl/scrl_resnet18_1xb32-coslr-3e_demo.py`).')


@DATASETS.register_module()
class UnlabeledImages(BaseDataset):
    """Images without labels, listed from a folder, a text file or a COCO annotation file.

    * ``ann_file=''``: every image under ``data_root/data_prefix`` (recursively, sorted);
    * ``ann_file='*.txt'``: one relative path per line (relative to ``data_root/data_prefix``);
    * ``ann_file='*.json'``: a COCO-style file; only its ``images[*].file_name`` list is used (SCRL's
      COCO setting reads ``train2017`` with ``instances_train2017.json`` for the image list only).

    For ImageNet-style class folders use mmpretrain's ``ImageNet`` / ``CustomDataset``.

    Args:
        data_root (str): dataset root, e.g. ``data/coco/``.
        data_prefix (str | dict): image folder relative to ``data_root`` (``'train2017'`` or
            ``dict(img_path='train2017')``). Defaults to ''.
        ann_file (str): see above. Defaults to ''.
        pipeline (Sequence): transforms (start with ``LoadImageFromFile``).
        extensions (Sequence[str]): accepted suffixes when scanning a folder.
    """

    def __init__(self,
                 data_root: str = '',
                 data_prefix='',
                 ann_file: str = '',
                 pipeline: Sequence = (),
                 extensions: Sequence[str] = IMG_EXTENSIONS,
                 test_mode: bool = False,
                 lazy_init: bool = False,
                 max_refetch: int = 1000,
                 **kwargs) -> None:
        if isinstance(data_prefix, str):
            data_prefix = dict(img_path=data_prefix)
        self.extensions = tuple(e.lower() for e in extensions)
        super().__init__(
            ann_file=ann_file,
            data_root=data_root,
            data_prefix=data_prefix,
            pipeline=list(pipeline),
            test_mode=test_mode,
            lazy_init=lazy_init,
            max_refetch=max_refetch,
            **kwargs)

    def _missing(self, what: str, path: str) -> FileNotFoundError:
        return FileNotFoundError(
            f'{type(self).__name__}: {what} {path!r} does not exist (data_root={self.data_root!r}). '
            f'Put the data there (see README "Datasets") or point data_root to it with '
            f'--cfg-options train_dataloader.dataset.data_root=... {DEMO_HINT}')

    def load_data_list(self) -> List[dict]:
        img_dir = self.data_prefix.get('img_path', '') or self.data_root
        if not osp.isdir(img_dir):
            raise self._missing('image folder', img_dir)
        if not self.ann_file:
            names = self._scan(img_dir)
        elif not osp.isfile(self.ann_file):
            raise self._missing('annotation file', self.ann_file)
        elif self.ann_file.endswith('.json'):
            names = self._coco_names(self.ann_file)
        else:
            with open(self.ann_file) as f:
                names = [line.strip() for line in f if line.strip()]
        if not names:
            raise ValueError(f'{type(self).__name__}: no images found in {img_dir!r} '
                             f'(ann_file={self.ann_file!r}, extensions={self.extensions})')
        return [dict(img_path=osp.join(img_dir, n)) for n in names]

    def _scan(self, img_dir: str) -> List[str]:
        found = []
        for root, _, files in os.walk(img_dir, followlinks=True):
            for name in files:
                if name.lower().endswith(self.extensions):
                    found.append(osp.relpath(osp.join(root, name), img_dir))
        return sorted(found)

    @staticmethod
    def _coco_names(ann_file: str) -> List[str]:
        with open(ann_file) as f:
            try:
                coco = json.load(f)
            except json.JSONDecodeError as e:
                raise ValueError(f'{ann_file} is not valid JSON: {e}') from e
        if 'images' not in coco:
            raise KeyError(f"{ann_file} has no 'images' list (not a COCO annotation file)")
        return [img['file_name'] for img in sorted(coco['images'], key=lambda i: i['file_name'])]

"""Data of the benchmark: the demo configs' train pipelines and DataLoaders, at the benchmark's sizes."""
import copy
import os.path as osp
from typing import Any, Dict

from .settings import ROOT


def _resize_node(node: Any, sizes: Dict[str, Any]) -> None:
    """Set view sizes, crop counts and scene size in a (nested) pipeline / dataset config, in place."""
    if isinstance(node, dict):
        kind = node.get('type')
        if kind == 'RandomResizedCropWithBox' and 'view' in sizes:
            node['scale'] = sizes['view']
        elif kind == 'SpatialPredictionViews' and 'sp' in sizes:
            node['scale'] = sizes['sp']
        elif kind == 'DINOMultiCrop':
            for key in ('global_crop_size', 'local_crop_size', 'num_local_crops'):
                if key in sizes:
                    node[key] = sizes[key]
        elif kind in ('torchvision/Resize', 'torchvision/RandomResizedCrop') and 'scat' in sizes:
            node['size'] = (sizes['scat'], sizes['scat'])
        elif kind == 'SyntheticScenes':
            side = max(sizes.get('view', 0), sizes.get('global_crop_size', 0), 96)
            node['img_size'] = (side, side * 4 // 3)  # the demo's 3:4 scenes, big enough for the views
            node['num_images'] = max(node.get('num_images', 256), sizes.get('min_images', 0))
        for value in node.values():
            _resize_node(value, sizes)
    elif isinstance(node, (list, tuple)):
        for value in node:
            _resize_node(value, sizes)


def dataloader_cfg(config: str, sizes: Dict[str, Any], batch_size: int, num_workers: int) -> dict:
    """The config's ``train_dataloader`` with the benchmark's sizes, batch and workers."""
    from mmengine.config import Config
    cfg = Config.fromfile(osp.join(ROOT, config))
    loader = copy.deepcopy(cfg.train_dataloader.to_dict())
    _resize_node(loader['dataset'], sizes)
    dataset = loader['dataset']
    ann = dataset.get('ann_file')
    if dataset.get('type') == 'NpzImageDataset' and ann and not osp.isabs(ann):
        path = osp.normpath(osp.join(ROOT, ann))  # configs give it relative to the project root
        if osp.isfile(path):
            dataset['ann_file'] = path
        else:  # no shared data (e.g. a user's clone): same transforms on the embedded scenes
            dataset.clear()
            dataset.update(
                type='SyntheticScenes',
                num_images=256,
                img_size=(96, 128),
                seed=0,
                pipeline=cfg.train_dataloader.dataset.pipeline.to_list() if hasattr(
                    cfg.train_dataloader.dataset.pipeline, 'to_list') else list(cfg.train_dataloader.dataset.pipeline))
            _resize_node(dataset, sizes)
    loader.update(batch_size=batch_size, num_workers=num_workers, persistent_workers=num_workers > 0, drop_last=True)
    loader['sampler'] = dict(type='DefaultSampler', shuffle=True)
    return loader


def build_loader(config: str, sizes: Dict[str, Any], batch_size: int, num_workers: int):
    """The config's DataLoader, built as the Runner builds it (seeded sampler, collate function)."""
    from mmengine.runner import Runner
    return Runner.build_dataloader(dataloader_cfg(config, sizes, batch_size, num_workers), seed=0)


def data_preprocessor_of(config: str) -> dict:
    """The config's data preprocessor (top level or the model's)."""
    from mmengine.config import Config
    cfg = Config.fromfile(osp.join(ROOT, config))
    pre = cfg.get('data_preprocessor') or cfg.model.get('data_preprocessor')
    return pre.to_dict() if hasattr(pre, 'to_dict') else dict(pre)


def one_batch(config: str, sizes: Dict[str, Any], batch_size: int) -> dict:
    """One collated batch of the config's pipeline (made in this process)."""
    return next(iter(build_loader(config, sizes, batch_size, num_workers=0)))

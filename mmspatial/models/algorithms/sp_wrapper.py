"""Spatial Prediction (SP) as a plug-in for any self-supervised algorithm, from config alone.

Shen et al., "Learning to Perceive 'Where': Spatial Pretext Tasks for Robust Self-Supervised Learning",
https://arxiv.org/abs/2605.09963 (2026; abstract only, no reference code). Our design; why a subclass and not
a wrapper holding the host: ``docs/sp_design.md`` §4.

``dict(type='SpatialPrediction', host=dict(type='BYOL', ...), sp_head=dict(...))`` builds an instance of
``SpatialPrediction<Host>``, a subclass of both :class:`SpatialPrediction` and the host class (created once
per host class). Attributes, hooks, ``extract_feat``, ``forward(mode='tensor')``, EMA updates and the
state-dict layout are the host's. SP only adds

* ``sp_head`` (state-dict keys ``sp_head.*``; the backbone stays under ``backbone.*``, so transfer
  converters and the spatial-reasoning probes read SP checkpoints like plain host checkpoints);
* ``loss()``: the host's losses, plus ``loss_sp = sp_weight * SP loss`` (logged separately; mmengine sums
  every key containing ``loss``), with gradients into the host's online backbone.
"""
import sys
from typing import Dict, List, Optional, Union

import torch
from mmengine.model import BaseModel
from mmpretrain.registry import MODELS
from torch import Tensor, nn

from mmspatial.models.utils.embedding_pool import POOLS, infer_embedding_dim, pool_embedding

_PREFIX = 'SpatialPrediction'
_COMBINED: Dict[type, type] = {}


def _host_class(host: Union[dict, type]) -> type:
    if isinstance(host, type):
        return host
    if not isinstance(host, dict) or 'type' not in host:
        raise TypeError("SpatialPrediction needs host=dict(type='<algorithm>', ...), got "
                        f'{host!r}')
    host_type = host['type']
    if isinstance(host_type, type):
        return host_type
    host_cls = MODELS.get(host_type)
    if host_cls is None:
        raise KeyError(f'SpatialPrediction: host type {host_type!r} is not in the MODELS registry '
                       "(is custom_imports=dict(imports=['mmspatial']) set?)")
    return host_cls


def with_spatial_prediction(host_cls: type) -> type:
    """Return the class ``SpatialPrediction<Host>(SpatialPrediction, host_cls)`` (cached)."""
    if not (isinstance(host_cls, type) and issubclass(host_cls, BaseModel)):
        raise TypeError(f'SpatialPrediction: the host must be a BaseModel subclass, got {host_cls!r}')
    if issubclass(host_cls, SpatialPrediction):
        raise TypeError(f'SpatialPrediction: host {host_cls.__name__} already has SP')
    if host_cls not in _COMBINED:
        name = f'{_PREFIX}{host_cls.__name__}'
        module = sys.modules[__name__]
        if name in vars(module):  # two hosts with the same class name: keep both importable
            name = f'{name}_{len(_COMBINED)}'
        combined = type(name, (SpatialPrediction, host_cls), {'__module__': __name__, '__qualname__': name})
        setattr(module, name, combined)  # so pickle finds it by name
        _COMBINED[host_cls] = combined
    return _COMBINED[host_cls]


def __getattr__(name: str) -> type:
    """Let pickle/import find ``SpatialPrediction<Host>`` in a process that has not built it yet."""
    if name.startswith(_PREFIX) and len(name) > len(_PREFIX):
        host_cls = MODELS.get(name[len(_PREFIX):])
        if host_cls is not None:
            return with_spatial_prediction(host_cls)
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')


@MODELS.register_module()
class SpatialPrediction(BaseModel):
    """Add the SP pretext task to a host self-supervised algorithm.

    The pipeline must contain :class:`~mmspatial.datasets.transforms.sp_views.SpatialPredictionViews`
    and pack its keys (``PackInputs(algorithm_keys=SP_KEYS + host keys)``). The SP views are normalised
    by the host's own data preprocessor (same mean/std/channel order as the host's inputs), embedded by
    the host's online backbone and pooled
    (:func:`~mmspatial.models.utils.embedding_pool.pool_embedding`).

    Args:
        host (dict): the host algorithm's config (``type`` is any registered ``BaseModel``, e.g.
            ``'BYOL'``, ``'SimCLR'``, ``'MoCoV3'``, ``'DINO'``, ``'SCRL'``).
        sp_head (dict): the SP head; ``in_channels`` is inferred from the backbone when missing.
            Defaults to ``dict(type='SpatialPredictionHead')``.
        sp_weight (float): λ, weight of the SP loss added to the host's losses. Defaults to 1.0.
        sp_backbone (str): attribute of the host holding its *online* backbone. Defaults to 'backbone'.
        sp_pool (str): ``'auto'``, ``'gap'``, ``'cls'`` or ``'mean'``. Defaults to 'auto'.
        sp_probe_size (int): input size used to infer the embedding width (set it to the SP view size
            for backbones that only accept one size). Defaults to 96.
        data_preprocessor (dict, optional): passed to the host when its config has none (the Runner
            puts the top-level ``data_preprocessor`` here).
        init_cfg (dict, optional): passed to the host when its config has none.
    """

    def __new__(cls, *args, **kwargs):
        if cls is SpatialPrediction:
            cls = with_spatial_prediction(_host_class(kwargs.get('host')))
        return object.__new__(cls)

    def __init__(self,
                 host: dict,
                 sp_head: Optional[dict] = None,
                 sp_weight: float = 1.0,
                 sp_backbone: str = 'backbone',
                 sp_pool: str = 'auto',
                 sp_probe_size: int = 96,
                 data_preprocessor: Optional[Union[dict, nn.Module]] = None,
                 init_cfg: Optional[dict] = None) -> None:
        host_kwargs = {k: v for k, v in dict(host).items() if k not in ('type', '_scope_')}
        if data_preprocessor is not None:
            host_kwargs.setdefault('data_preprocessor', data_preprocessor)
        if init_cfg is not None:
            host_kwargs.setdefault('init_cfg', init_cfg)
        super().__init__(**host_kwargs)  # the host's __init__ (next in the MRO)
        if sp_pool not in POOLS:
            raise ValueError(f'SpatialPrediction: sp_pool must be one of {POOLS}, got {sp_pool!r}')
        backbone = getattr(self, sp_backbone, None)
        if not isinstance(backbone, nn.Module):
            raise AttributeError(f'SpatialPrediction: the host {type(self).__mro__[2].__name__} has no '
                                 f'module {sp_backbone!r} (set sp_backbone=...)')
        self.sp_weight = float(sp_weight)
        self.sp_backbone = sp_backbone
        self.sp_pool = sp_pool
        head_cfg = dict(sp_head or dict(type='SpatialPredictionHead'))
        if head_cfg.get('in_channels') is None:
            head_cfg['in_channels'] = infer_embedding_dim(backbone, sp_probe_size, sp_pool)
        self.sp_head = MODELS.build(head_cfg)

    # ------------------------------------------------------------------------------------------------
    def forward(self, inputs, data_samples=None, mode: str = 'tensor'):
        out = super().forward(inputs, data_samples, mode=mode)
        if mode == 'loss' and 'loss_sp' not in out:
            raise RuntimeError(f"SpatialPrediction: {type(self).__name__}'s forward(mode='loss') did "
                               'not go through self.loss(), so SP was not applied')
        return out

    def loss(self, inputs, data_samples: List, **kwargs) -> Dict[str, Tensor]:
        """The host's losses plus ``loss_sp``."""
        losses = super().loss(inputs, data_samples, **kwargs)
        if 'loss_sp' in losses:
            raise KeyError(f'SpatialPrediction: the host {type(self).__name__} already returns '
                           "'loss_sp'")
        losses['loss_sp'] = self.sp_weight * self.sp_loss(data_samples)
        return losses

    def sp_embed(self, imgs: Tensor) -> Tensor:
        """Pooled online-backbone embeddings of normalised views ``(N, 3, h, w)`` -> ``(N, C)``."""
        backbone = getattr(self, self.sp_backbone)
        return pool_embedding(backbone(imgs), self.sp_pool, backbone)

    def sp_loss(self, data_samples: List) -> Tensor:
        """SP loss of the batch from the packed SP views (see :data:`SP_KEYS`)."""
        imgs, boxes, image_size = self._collect_sp(data_samples)
        batch, num_views = boxes.shape[:2]
        # Normalise exactly as the host's inputs: same preprocessor, same mean/std/channel order.
        imgs = self.data_preprocessor(dict(inputs=imgs, data_samples=None), False)['inputs']
        emb = self.sp_embed(imgs)
        emb = emb.reshape(batch, num_views // 2, 2, -1)
        boxes = boxes.reshape(batch, num_views // 2, 2, 4)
        image_size = image_size[:, None].expand(batch, num_views // 2, 2)
        return self.sp_head.loss(emb[:, :, 0].flatten(0, 1), emb[:, :, 1].flatten(0, 1), boxes[:, :, 0].flatten(0, 1),
                                 boxes[:, :, 1].flatten(0, 1), image_size.flatten(0, 1))

    @staticmethod
    def _collect_sp(data_samples: List):
        """Stack ``sp_imgs`` to ``(B * 2K, 3, h, w)`` uint8 and ``sp_boxes`` to ``(B, 2K, 4)``."""
        if not data_samples or 'sp_imgs' not in data_samples[0]:
            raise KeyError("SpatialPrediction: data samples carry no 'sp_imgs'; add "
                           "dict(type='SpatialPredictionViews') before the host's multi-view transform "
                           "and pack SP_KEYS ('sp_imgs', 'sp_boxes', 'sp_flips', 'sp_img_shape') with "
                           'PackInputs(algorithm_keys=...)')
        imgs, boxes, sizes = [], [], []
        for sample in data_samples:
            views = sample.sp_imgs
            if isinstance(views, Tensor):  # (2K, 3, h, w) already
                imgs.append(views)
            else:
                imgs.append(torch.stack([torch.as_tensor(v).permute(2, 0, 1) for v in views]))
            boxes.append(torch.as_tensor(sample.sp_boxes, dtype=torch.float32))
            sizes.append(torch.as_tensor(sample.sp_img_shape, dtype=torch.float32))
        boxes = torch.stack(boxes)
        if boxes.shape[1] % 2 or boxes.shape[1] == 0:
            raise ValueError('SpatialPrediction: sp_boxes must hold pairs of views, got '
                             f'{boxes.shape[1]} views')
        return torch.cat(imgs).contiguous(), boxes, torch.stack(sizes)

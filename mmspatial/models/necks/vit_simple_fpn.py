"""Multi-scale features from a plain ViT for dense transfer (SelfPatch's detection protocol).

Reference: alinlab/SelfPatch @ 929f45a, ``detection/backbone/vit_SelfPatch.py`` (``fpn1``..``fpn4``,
inherited from XCiT's detection code): the outputs of blocks ``[3, 5, 7, 11]`` (stride 16) become
strides 4, 8, 16, 32 by ``deconv-BN-GELU-deconv`` (x4), ``deconv`` (x2), identity and 2x2 max-pooling.
The reference keeps these layers inside its backbone; here they are a neck, so the backbone keeps the
plain ViT keys of the pretraining checkpoint and the new layers are visibly new (outside ``backbone.*``).
Used in front of mmdet's ``FPN``: ``neck=[dict(type='ViTSimpleFPN', ...), dict(type='FPN', ...)]``
(mmengine builds a list of module configs as ``Sequential``).

Registered in mmdet's and mmseg's ``MODELS`` when those libraries are installed and have no model of
that name (an existing one is kept, with a warning).
"""
import warnings
from typing import Sequence, Tuple

from mmcv.cnn import build_activation_layer, build_norm_layer
from mmengine.model import BaseModule
from torch import Tensor, nn

_SCALES = (4.0, 2.0, 1.0, 0.5, 0.25)


class ViTSimpleFPN(BaseModule):
    """Resample ViT feature maps of one stride to a pyramid.

    Args:
        in_channels (int): ViT width (384 for ViT-S). Output channels are the same.
        scale_factors (Sequence[float]): one per input map, each in ``(4, 2, 1, 0.5, 0.25)``.
            Defaults to ``(4, 2, 1, 0.5)`` (patch 16 -> strides 4, 8, 16, 32; patch 8: ``(2, 1, 0.5,
            0.25)``).
        norm_cfg (dict): norm between the two deconvolutions of the x4 branch. Defaults to SyncBN
            (the reference's ``nn.SyncBatchNorm``).
        act_cfg (dict): activation there. Defaults to GELU.
        init_cfg (dict, optional): initialisation config.
    """

    def __init__(self,
                 in_channels: int,
                 scale_factors: Sequence[float] = (4, 2, 1, 0.5),
                 norm_cfg: dict = dict(type='SyncBN', requires_grad=True),
                 act_cfg: dict = dict(type='GELU'),
                 init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg)
        bad = [s for s in scale_factors if float(s) not in _SCALES]
        if bad:
            raise ValueError(f'ViTSimpleFPN: scale_factors must be in {_SCALES}, got {bad}')
        self.in_channels = in_channels
        self.scale_factors = tuple(float(s) for s in scale_factors)
        self.ops = nn.ModuleList([self._branch(s, in_channels, norm_cfg, act_cfg) for s in self.scale_factors])

    @staticmethod
    def _branch(scale: float, c: int, norm_cfg: dict, act_cfg: dict) -> nn.Module:
        if scale == 4:
            return nn.Sequential(
                nn.ConvTranspose2d(c, c, kernel_size=2, stride=2),
                build_norm_layer(norm_cfg, c)[1], build_activation_layer(act_cfg),
                nn.ConvTranspose2d(c, c, kernel_size=2, stride=2))
        if scale == 2:
            return nn.ConvTranspose2d(c, c, kernel_size=2, stride=2)
        if scale == 1:
            return nn.Identity()
        k = int(round(1 / scale))
        return nn.MaxPool2d(kernel_size=k, stride=k)

    def forward(self, inputs: Sequence[Tensor]) -> Tuple[Tensor, ...]:
        if len(inputs) != len(self.ops):
            raise ValueError(f'ViTSimpleFPN: got {len(inputs)} feature maps for '
                             f'{len(self.ops)} scale factors {self.scale_factors} (set the '
                             'backbone out_indices to one block per scale)')
        return tuple(op(x) for op, x in zip(self.ops, inputs))


def _register() -> None:
    """Add ``ViTSimpleFPN`` to mmdet's / mmseg's ``MODELS`` where installed, never replacing their names."""
    import importlib
    for library in ('mmdet', 'mmseg'):
        try:
            registry = importlib.import_module(f'{library}.registry').MODELS
        except ImportError:  # mmdet / mmseg are optional
            continue
        existing = registry.module_dict.get(ViTSimpleFPN.__name__)
        if existing is None:
            registry.register_module(module=ViTSimpleFPN)
        elif existing is not ViTSimpleFPN:
            warnings.warn(f'{library} already has a model named {ViTSimpleFPN.__name__} ({existing.__module__}); '
                          "it is kept, so type='ViTSimpleFPN' in a " + library + ' config builds that one, '
                          "not mmspatial's (mmspatial.models.necks.vit_simple_fpn.ViTSimpleFPN)")


_register()

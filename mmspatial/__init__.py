"""mmspatial: spatially aware self-supervised pretraining for OpenMMLab.

``import mmspatial`` (or ``custom_imports=dict(imports=['mmspatial'])`` in a config) registers every
model, transform, dataset and hook of the package into mmpretrain's registries (and the few transfer
modules into mmdet's / mmseg's), and makes mmengine's checkpoint loading work with torch >= 2.6.
"""
from .version import __version__
from . import compat  # noqa: F401,E402  (patches must be in place before any checkpoint is loaded)
from . import datasets, engine, evaluation, models  # noqa: F401,E402

__all__ = ['__version__']

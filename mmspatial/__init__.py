"""mmspatial: spatially aware self-supervised pretraining for OpenMMLab.

``import mmspatial`` (or ``custom_imports=dict(imports=['mmspatial'])`` in a config) registers every
model, transform, dataset and hook of the package into mmpretrain's registries (the runner, optimiser
wrapper and checkpoint hook into mmengine's, the few transfer modules into mmdet's / mmseg's). It adds
names only: no function, method or registry entry of another library is replaced (docs/safety.md).
"""
from . import datasets, engine, evaluation, models  # noqa: F401,E402
from .version import __version__

__all__ = ['__version__']

"""Import every module of a package so that its ``register_module`` decorators run."""
import importlib
import pkgutil
from typing import Iterable


def import_submodules(package_name: str, package_path: Iterable[str]) -> None:
    """Import all direct submodules and subpackages of a package.

    mmspatial's sub-packages call this from their ``__init__.py`` so that a new module registers its
    models/transforms/hooks into the OpenMMLab registries just by being added to the folder.
    Names starting with ``_`` are skipped. Import errors are not swallowed: a broken module must fail
    loudly at ``import mmspatial`` rather than surface later as "X is not in the registry".
    """
    for info in sorted(pkgutil.iter_modules(package_path), key=lambda i: i.name):
        if not info.name.startswith('_'):
            importlib.import_module(f'{package_name}.{info.name}')

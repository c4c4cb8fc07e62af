from mmspatial.utils.imports import import_submodules

import_submodules(__name__, __path__)

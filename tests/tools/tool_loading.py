"""Import a command-line script under ``tools/`` as a module, so tests can call its functions."""
import importlib.util
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]


def load_tool(relative_path: str) -> ModuleType:
    """Load ``<project>/<relative_path>`` (e.g. ``'tools/visualize.py'``) as a fresh module."""
    path = ROOT / relative_path
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module

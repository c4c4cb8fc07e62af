"""``import mmspatial`` imports no optional package and emits no warning of its own (fresh interpreter).

``imagecorruptions`` (only the robustness evaluation needs it) is imported lazily by
``mmspatial.evaluation.robustness.require_imagecorruptions``. With it installed, ``import mmpretrain.models``
alone already imports it (mmpretrain -> ``mmdet.models`` -> ``mmdet.datasets.transforms``:
``try: from imagecorruptions import corrupt``) and shows its pkg_resources warning; that import is mmdet's,
which mmspatial cannot prevent without patching mmdet. This test checks what is ours.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

_CHECK = r'''
import importlib.abc, json, sys, traceback, warnings

OPTIONAL = ('imagecorruptions', 'skimage')
attempts = []


class RecordAndBlock(importlib.abc.MetaPathFinder):
    """Records who imports an optional package and refuses it (so every attempt is seen, none cached)."""

    def find_spec(self, name, path, target=None):
        if name.split('.')[0] in OPTIONAL:
            frames = [f.filename for f in traceback.extract_stack()[:-1] if not f.filename.startswith('<')]
            attempts.append([name, frames[-1] if frames else '?'])
            raise ImportError(f'{name} blocked by the test')
        return None


sys.meta_path.insert(0, RecordAndBlock())
# What mmspatial registers into (mmseg.models: DepthFPNHead subclasses mmseg's FPNHead).
import mmpretrain.models, mmpretrain.datasets, mmpretrain.engine, mmpretrain.evaluation  # noqa: E401,F401
import mmdet.models, mmseg.models  # noqa: E401,F401
before = set(sys.modules)
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter('always')
    import mmspatial  # noqa: F401
new = sorted({m.split('.')[0] for m in set(sys.modules) - before})
at_import = list(attempts)
from mmspatial.evaluation import robustness
try:
    robustness.require_imagecorruptions()
    lazy_error = ''
except ImportError as err:
    lazy_error = str(err)
print(json.dumps(dict(attempts=at_import, new=new, lazy_error=lazy_error,
                      warnings=[f'{w.filename}:{w.lineno}: {w.message}' for w in caught])))
'''


def test_import_mmspatial_imports_no_optional_package_and_warns_nothing(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS='1')
    proc = subprocess.run([sys.executable, '-c', _CHECK],
                          cwd=tmp_path,
                          env=env,
                          capture_output=True,
                          text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-5000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    ours = [(name, who) for name, who in out['attempts'] if f'{os.sep}mmspatial{os.sep}' in who]
    assert not ours, f'mmspatial modules import optional packages at import time: {ours}'
    assert out['new'] == ['mmspatial'], f"import mmspatial pulls in more than its dependencies: {out['new']}"
    assert not out['warnings'], f"import mmspatial warns: {out['warnings']}"
    # the robustness evaluation still finds (or clearly asks for) the package when it is used
    assert 'pip install imagecorruptions==1.1.2' in out['lazy_error']

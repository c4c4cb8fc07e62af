"""Importing mmspatial registers into mmpretrain's registries; plain OpenMMLab entry points work."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / 'configs' / 'byol' / 'byol_r18_demo.py'
OPTIONS = {'train_dataloader.dataset.num_images': 8, 'train_dataloader.batch_size': 4,
           'train_dataloader.num_workers': 0, 'train_dataloader.persistent_workers': False,
           'train_cfg.max_epochs': 1}
OPTS = [f'{k}={v}' for k, v in OPTIONS.items()]


def test_import_registers_into_mmpretrain():
    import mmspatial  # noqa: F401
    from mmpretrain.registry import DATASETS, TRANSFORMS
    assert TRANSFORMS.get('MultiViewWithGeometry') is not None
    assert DATASETS.get('SyntheticScenes') is not None
    assert DATASETS.get('UnlabeledImages') is not None


def _run(code_or_cmd, tmp_path):
    env = dict(os.environ, PYTHONPATH='', OMP_NUM_THREADS='1')  # mmspatial comes from the install
    proc = subprocess.run(code_or_cmd, cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-5000:]
    return proc.stdout + proc.stderr


@pytest.mark.slow
def test_config_with_only_custom_imports_trains_through_runner_from_cfg(tmp_path):
    code = f"""
import sys
from mmengine.config import Config
from mmengine.runner import Runner
assert 'mmspatial' not in sys.modules
cfg = Config.fromfile({str(CONFIG)!r})   # custom_imports=['mmspatial'] is executed here
assert 'mmspatial' in sys.modules
cfg.merge_from_dict({OPTIONS!r})
cfg.work_dir = {str(tmp_path / 'w')!r}
runner = Runner.from_cfg(cfg)
runner.train()
print('ITER', runner.iter)
"""
    out = _run([sys.executable, '-c', code], tmp_path)
    assert 'ITER 2' in out


@pytest.mark.slow
def test_mmpretrain_own_train_tool_runs_our_config(tmp_path):
    import mmpretrain
    tool = Path(mmpretrain.__file__).parent / '.mim' / 'tools' / 'train.py'
    if not tool.is_file():
        pytest.skip(f'mmpretrain wheel without tools ({tool})')
    out = _run([sys.executable, str(tool), str(CONFIG), '--work-dir', str(tmp_path / 'w'),
                '--no-pin-memory', '--no-persistent-workers', '--cfg-options', *OPTS], tmp_path)
    assert (tmp_path / 'w' / 'epoch_1.pth').is_file(), out[-2000:]

"""Importing mmspatial registers into mmpretrain's registries; plain OpenMMLab entry points work."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / 'configs' / 'byol' / 'byol_resnet18_1xb32-coslr-8e_demo.py'
OPTIONS = {
    'train_dataloader.dataset.num_images': 8,
    'train_dataloader.batch_size': 4,
    'train_dataloader.num_workers': 0,
    'train_dataloader.persistent_workers': False,
    'train_cfg.max_epochs': 1
}
OPTS = [f'{k}={v}' for k, v in OPTIONS.items()]


def test_import_registers_into_mmpretrain():
    from mmpretrain.registry import DATASETS, TRANSFORMS

    import mmspatial  # noqa: F401
    assert TRANSFORMS.get('MultiViewWithGeometry') is not None
    assert DATASETS.get('SyntheticScenes') is not None
    assert DATASETS.get('UnlabeledImages') is not None


def _run(code_or_cmd, tmp_path):
    env = dict(os.environ, PYTHONPATH='', OMP_NUM_THREADS='1')  # mmspatial comes from the install
    proc = subprocess.run(code_or_cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
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
    out = _run([
        sys.executable,
        str(tool),
        str(CONFIG), '--work-dir',
        str(tmp_path / 'w'), '--no-pin-memory', '--no-persistent-workers', '--cfg-options', *OPTS
    ], tmp_path)
    assert (tmp_path / 'w' / 'epoch_1.pth').is_file(), out[-2000:]


# Everything `import mmspatial` could patch: these modules' attributes and their classes' attributes.
_SNAPSHOT = r'''
import inspect, sys, warnings
import torch, torch.serialization, mmcv, mmcv.image, mmcv.image.photometric
import mmengine.hooks, mmengine.optim, mmengine.runner, mmengine.runner.checkpoint, mmengine.runner.runner
import mmengine.optim.optimizer.amp_optimizer_wrapper, mmengine.hooks.checkpoint_hook
import mmpretrain.datasets, mmpretrain.engine, mmpretrain.models, mmpretrain.registry
import mmdet.models, mmdet.registry, mmseg.models, mmseg.registry
import mmengine.registry
assert 'mmspatial' not in sys.modules

MODULES = [torch, torch.serialization, mmcv, mmcv.image, mmcv.image.photometric, mmengine.hooks, mmengine.optim,
           mmengine.runner, mmengine.runner.checkpoint, mmengine.runner.runner, mmengine.hooks.checkpoint_hook,
           mmengine.optim.optimizer.amp_optimizer_wrapper, mmpretrain.datasets.transforms.processing]
REGISTRY_MODULES = [mmengine.registry, mmpretrain.registry, mmdet.registry, mmseg.registry]


def snapshot():
    attrs = {}
    for module in MODULES:
        for name, value in list(vars(module).items()):
            attrs[f'{module.__name__}.{name}'] = value
            if inspect.isclass(value) and value.__module__.split('.')[0] in ('torch', 'mmcv', 'mmengine',
                                                                               'mmpretrain'):
                for attr, member in list(vars(value).items()):
                    attrs[f'{module.__name__}.{name}.{attr}'] = member
    from mmengine.registry import Registry
    registries = {}
    for module in REGISTRY_MODULES:
        for name, value in vars(module).items():
            if isinstance(value, Registry):
                registries[f'{module.__name__}.{name}'] = dict(value.module_dict)
    extra = dict(schemes=dict(mmengine.runner.checkpoint.CheckpointLoader._schemes),
                 safe_globals=list(torch.serialization.get_safe_globals()), warnings=list(warnings.filters))
    return attrs, registries, extra


attrs, registries, extra = snapshot()
import mmspatial  # noqa: E402
attrs2, registries2, extra2 = snapshot()
changed = [k for k, v in attrs.items() if attrs2.get(k, v) is not v]
shadowed = [f'{r}[{k}]' for r, d in registries.items() for k, v in d.items() if registries2[r].get(k) is not v]
added = sorted(f'{r}[{k}]' for r, d in registries2.items() for k in d if k not in registries[r])
assert not changed, f'import mmspatial replaced: {changed}'
assert not shadowed, f'import mmspatial replaced registry entries: {shadowed}'
for key in extra:
    assert extra[key] == extra2[key], f'import mmspatial changed {key}'
assert len(attrs) > 1000 and 'mmengine.runner.runner.Runner.load_checkpoint' in attrs
print('ADDED', len(added), ' '.join(a for a in added if 'mmpretrain' not in a))
print('ORIGINALS OK')
'''


def test_import_replaces_nothing_of_other_libraries(tmp_path):
    """Fresh interpreter: mmengine's, mmcv's, torch's (and mmpretrain's transform module's) functions,
    methods and classes, every registry entry of mmengine/mmpretrain/mmdet/mmseg, mmengine's checkpoint
    loaders, torch's weights_only allow-list and the warning filters are the same objects after
    `import mmspatial`; it only adds names."""
    out = _run([sys.executable, '-c', _SNAPSHOT], tmp_path)
    assert 'ORIGINALS OK' in out, out[-3000:]
    added = out.split('ADDED', 1)[1]
    for name in ('RUNNERS[SpatialRunner]', 'HOOKS[AtomicCheckpointHook]', 'OPTIM_WRAPPERS[CPUAmpOptimWrapper]',
                 'mmdet.registry.MODELS[ViTSimpleFPN]', 'mmseg.registry.MODELS[ViTSimpleFPN]'):
        assert name in added, (name, added[:2000])


def test_existing_mmdet_name_is_not_shadowed(tmp_path):
    code = r'''
import warnings
from mmdet.registry import MODELS
from mmengine.model import BaseModule

@MODELS.register_module()
class ViTSimpleFPN(BaseModule):  # a codebase's own neck of the same name
    pass

with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter('always')
    import mmspatial
from mmseg.registry import MODELS as SEG_MODELS
assert MODELS.get('ViTSimpleFPN') is ViTSimpleFPN
assert SEG_MODELS.get('ViTSimpleFPN').__module__ == 'mmspatial.models.necks.vit_simple_fpn'
assert any('mmdet already has a model named ViTSimpleFPN' in str(w.message) for w in caught)
print('KEPT')
'''
    assert 'KEPT' in _run([sys.executable, '-c', code], tmp_path)

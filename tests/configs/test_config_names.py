"""Config file names follow the OpenMMLab conventions (issue 17 §3), checked over the whole ``configs/`` tree.

* Pretraining configs (``configs/<method>/``): mmpretrain's ``{algorithm}_{backbone}_{N}xb{B}-{schedule}_{dataset}.py``;
  SP configs name their host: ``{host}_sp_{backbone}_...``; demos put ``demo`` in the dataset field. The one
  exception is ``configs/scrl/scrl_r50_coco.py``, a name our users already type.
* ``configs/benchmarks/classification/``: mmpretrain's benchmark form ``{backbone}_{linear|fine-tune}-{N}xb{B}-
  {schedule}_{dataset}.py``.
* ``configs/benchmarks/{mmdet,mmseg}/``: mmdet's / mmseg's ``{algorithm}_{components...}_{[NxbB-]schedule}_
  {dataset}[-{crop}].py`` (e.g. ``mask-rcnn_r50_fpn_syncbn-ms-1x_coco.py``, ``fcn_r50-d8_..._cityscapes-512x1024.py``).
* ``_base_`` files: lower case words joined by ``_`` and ``-``.
"""
import re
from pathlib import Path

CONFIGS = Path(__file__).resolve().parents[2] / 'configs'
EXCEPTIONS = {'scrl/scrl_r50_coco.py'}
# Old-style names whose renames were still in progress (by their owners) when this test was written: listed so the
# test guards every other config now; each entry must go once its file is renamed (test_pending_renames_exist).
PENDING = set()

WORD = r'[a-z0-9]+(?:[-.][a-z0-9]+)*'  # one field: lower-case words joined by '-' (and '.' in numbers)
TRAIN = r'\d+xb\d+(?:-[a-z0-9.]+)*'  # {N}xb{B}-{schedule...}
PRETRAIN = re.compile(rf'^(?P<algo>{WORD})(?:_sp)?_(?P<backbone>{WORD})_(?P<train>{TRAIN})_(?P<data>{WORD})\.py$')
CLASSIFICATION = re.compile(rf'^(?P<backbone>{WORD})_(?:linear|fine-tune)-(?P<train>{TRAIN})_(?P<data>{WORD})\.py$')
DOWNSTREAM = re.compile(rf'^(?P<algo>{WORD})(?:_{WORD})+_(?P<train>(?:\d+xb\d+-)?(?:[a-z0-9]+-)*\d+[xke])'
                        rf'_(?P<data>[a-z0-9]+(?:-[a-z0-9]+)*)\.py$')
BASE = re.compile(rf'^{WORD}(?:_{WORD})*\.py$')


def rule_for(rel: Path):
    """The pattern a config path (relative to ``configs/``) must match, and its name for messages."""
    parts = rel.parts
    if '_base_' in parts:
        return BASE, '_base_ file: lower-case words joined by _ and -'
    if parts[0] == 'benchmarks':
        if parts[1] == 'classification':
            return CLASSIFICATION, '{backbone}_{linear|fine-tune}-{N}xb{B}-{schedule}_{dataset}.py'
        return DOWNSTREAM, '{algorithm}_{components...}_{[NxbB-]schedule}_{dataset}[-crop].py (mmdet/mmseg)'
    return PRETRAIN, '{algorithm}[_sp]_{backbone}_{N}xb{B}-{schedule}_{dataset}.py (dataset "demo" for demos)'


def violations():
    bad = []
    for path in sorted(CONFIGS.rglob('*.py')):
        rel = path.relative_to(CONFIGS)
        if rel.as_posix() in EXCEPTIONS | PENDING:
            continue
        pattern, rule = rule_for(rel)
        m = pattern.match(rel.name)
        if m is None:
            bad.append(f'configs/{rel}: expected {rule}')
        elif pattern is PRETRAIN and 'demo' in rel.name and m['data'] != 'demo':
            bad.append(f'configs/{rel}: a demo says "demo" in the dataset field')
    return bad


def test_every_config_name_follows_the_convention():
    bad = violations()
    rules = 'rules in the docstring of tests/configs/test_config_names.py'
    assert not bad, f'config names off the convention ({rules}):\n' + '\n'.join(bad)


def test_exceptions_exist():
    """The documented exception is a real file (a stale exception would hide nothing but mislead)."""
    for rel in EXCEPTIONS:
        assert (CONFIGS / rel).is_file(), rel


def test_pending_renames_exist():
    """A pending entry whose file was renamed must leave PENDING (the new name is then checked like any other)."""
    stale = sorted(rel for rel in PENDING if not (CONFIGS / rel).is_file())
    assert not stale, f'renamed: remove {stale} from PENDING in tests/configs/test_config_names.py'


def test_patterns_reject_off_convention_names():
    """The rules can fail: names in the old styles and malformed ones are rejected."""
    for name in ('byol_r18_demo.py', 'scatsimclr8_1xb64_cifar10.py', 'scrl_resnet50_coslr-200e_in1k.py',
                 'DINO_vit-small-p16_8xb64-coslr-100e_in1k.py', 'dino_vit small_8xb64-100e_in1k.py'):
        assert PRETRAIN.match(name) is None, name
    for name in ('scrl_resnet50_32xb256-coslr-200e_in1k.py', 'byol_sp_resnet18_1xb32-coslr-8e_demo.py',
                 'scatsimclr-jigsaw_scatnet8_1xb64-100e_cifar100-20.py'):
        assert PRETRAIN.match(name) is not None, name
    assert DOWNSTREAM.match('mask-rcnn_r50_fpn_syncbn-ms-1x_coco.py')
    assert DOWNSTREAM.match('fcn_r50-d8_syncbn_4xb2-40k_cityscapes-512x1024.py')
    assert DOWNSTREAM.match('mask-rcnn_r50_coco.py') is None  # no schedule
    assert CLASSIFICATION.match('vit-small-p16_linear-8xb128-coslr-100e_in1k.py')
    assert CLASSIFICATION.match('resnet50_8xb32-coslr-100e_in1k.py') is None  # no protocol

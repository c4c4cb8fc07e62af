"""``model-index.yml`` and the per-method ``metafile.yml`` files (the index ``mim search/train mmspatial`` reads):
they parse, name existing configs by their file names, and name every config (recipes, demos, CPU-budget runs)."""
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
NAME = re.compile(r'_(?P<n>\d+)xb(?P<b>\d+)(?P<sched>(?:-[a-z0-9.]+)*)_')


def load(path: Path) -> dict:
    with open(path, encoding='utf-8') as f:
        return yaml.safe_load(f)


@pytest.fixture(scope='module')
def index():
    data = load(ROOT / 'model-index.yml')
    assert list(data) == ['Import'], 'model-index.yml holds only the list of metafiles (Import)'
    missing = [p for p in data['Import'] if not (ROOT / p).is_file()]
    assert not missing, f'model-index.yml imports metafiles that do not exist: {missing}'
    return {p: load(ROOT / p) for p in data['Import']}


def indexed_configs():
    """Every pretraining config under configs/: all but ``_base_`` folders and ``configs/benchmarks/``."""
    out = set()
    for path in (ROOT / 'configs').rglob('*.py'):
        rel = path.relative_to(ROOT)
        if '_base_' in rel.parts or rel.parts[1] == 'benchmarks':
            continue
        out.add(rel.as_posix())
    return out


def test_metafiles_are_well_formed(index):
    names, problems = set(), []
    for meta_path, meta in index.items():
        collections = {c['Name']: c for c in meta['Collections']}
        for c in collections.values():
            for key in ('Paper', 'README'):
                if key not in c:
                    problems.append(f'{meta_path}: collection {c["Name"]} has no {key}')
            if 'README' in c and not (ROOT / c['README']).is_file():
                problems.append(f'{meta_path}: README {c["README"]} does not exist')
        for model in meta['Models']:
            name, config = model['Name'], model.get('Config', '')
            if name in names:
                problems.append(f'{meta_path}: model name {name} is used twice (mim looks models up by name)')
            names.add(name)
            if model.get('In Collection') not in collections:
                problems.append(f'{meta_path}: {name} is in unknown collection {model.get("In Collection")}')
            if not (ROOT / config).is_file():
                problems.append(f'{meta_path}: {name} names a config that does not exist: {config}')
            elif Path(config).stem != name:
                problems.append(f'{meta_path}: {name} must be named after its config {config}')
            m = NAME.search(Path(config).name)
            meta_data = model.get('Metadata', {})
            if m:
                epochs = re.search(r'-(\d+)e(?:-|$)', m['sched'])
                if epochs and meta_data.get('Epochs') != int(epochs[1]):
                    problems.append(f'{meta_path}: {name}: Epochs {meta_data.get("Epochs")} but the name says '
                                    f'{epochs[1]}')
                if meta_data.get('Batch Size') != int(m['n']) * int(m['b']):
                    problems.append(f'{meta_path}: {name}: Batch Size {meta_data.get("Batch Size")} but the name '
                                    f'says {m["n"]} x {m["b"]}')
    assert not problems, 'metafile problems (stale names after a rename?):\n' + '\n'.join(problems)


def test_every_config_is_indexed(index):
    named = {m['Config'] for meta in index.values() for m in meta['Models']}
    configs = indexed_configs()
    assert {'configs/byol/byol_resnet18_1xb32-coslr-8e_demo.py', 'configs/scrl/scrl_r50_coco.py'} <= configs
    missing = sorted(configs - named)
    assert not missing, ('configs missing from the metafiles (add them to configs/<method>/metafile.yml):'
                         '\n' + '\n'.join(missing))


def test_setup_ships_the_index_for_mim():
    """``mim`` reads ``mmspatial/.mim/{model-index.yml,configs,tools}``; setup.py must put them there."""
    text = (ROOT / 'setup.py').read_text()
    for name in ("'model-index.yml'", "'configs'", "'tools'", "'.mim/model-index.yml'"):
        assert name in text, name

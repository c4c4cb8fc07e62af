import os
from pathlib import Path

import pytest
from mmengine.registry import init_default_scope

import mmspatial  # noqa: F401  (registers our modules)

# Tests build modules by type name, as configs do with default_scope='mmpretrain'.
init_default_scope('mmpretrain')

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = (PROJECT_ROOT / '..' / 'shared' / 'data').resolve()


@pytest.fixture
def shared_data() -> Path:
    """``<project>/../shared/data``; tests using it skip when it is absent (e.g. a user's clone)."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f'shared data not found at {SHARED_DATA}')
    return SHARED_DATA


@pytest.fixture
def project_root() -> Path:
    return PROJECT_ROOT


@pytest.fixture(autouse=True)
def _mmpretrain_scope():
    # An mmdet/mmseg Runner built in one test leaves its scope current; later tests build by
    # mmpretrain type names, so every test starts in mmpretrain's scope whatever ran before.
    init_default_scope('mmpretrain')
    yield


@pytest.fixture(autouse=True)
def _quiet_threads():
    # 2-core machines: keep torch from oversubscribing when tests spawn workers.
    os.environ.setdefault('OMP_NUM_THREADS', '2')
    yield

"""tools/analysis/robustness.py end to end on flowers128: probe mode, 2 corruptions at one severity."""
import json

import pytest
from tool_loading import load_tool


@pytest.mark.slow
def test_probe_mode_on_flowers128(shared_data, tmp_path, project_root):
    pytest.importorskip('imagecorruptions')
    tool = load_tool('tools/analysis/robustness.py')
    cfg = str(project_root / 'configs' / 'sp' / 'byol_r18_1xb32-cpu_flowers128.py')
    results = tool.main([
        str(shared_data / 'flowers128'), '--configs', cfg, '--checkpoints', 'random', 'random', '--names', 'a', 'b',
        '--corruptions', 'gaussian_noise', 'fog', '--severities', '3', '--img-size', '64', '--max-images', '60',
        '--weight-decay', '0.01', '--no-progress', '--out-dir',
        str(tmp_path)
    ])
    saved = json.loads((tmp_path / 'robustness.json').read_text())
    assert (tmp_path / 'robustness.md').is_file() and (tmp_path / 'robustness_severity.png').is_file()
    a, b = saved['models']['a'], saved['models']['b']
    assert set(a['accuracy']) == {'gaussian_noise', 'fog'} and set(a['accuracy']['fog']) == {'3'}
    # the same seeded backbone twice: identical numbers, and the baseline's mCE is exactly 100%
    assert a['accuracy'] == b['accuracy'] and a['summary']['mCE'] == pytest.approx(1.0)
    assert 0 <= a['summary']['mCA'] <= 1 and results['num_test'] > 0

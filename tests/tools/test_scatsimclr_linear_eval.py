"""tools/analysis/scatsimclr_linear_eval.py: the scaler, the classifier, and a run on a tiny npz."""
import numpy as np
import pytest
from tool_loading import ROOT, load_tool

tool = load_tool('tools/analysis/scatsimclr_linear_eval.py')


def test_standardize_is_train_statistics():
    train, test = np.array([[1., 5.], [3., 5.]]), np.array([[2., 6.]])
    tr, te = tool.standardize(train, test)
    assert np.allclose(tr, [[-1, 0], [1, 0]]) and np.allclose(te, [[0, 1]])  # constant feature: std 1


@pytest.mark.parametrize('shuffle', [True, False])
def test_logistic_regression_separates_separable_classes(shuffle):
    rng = np.random.default_rng(0)
    y = np.arange(120) % 3  # interleaved classes (sorted ones with shuffle=False end epochs on one class)
    x = rng.normal(size=(120, 5)) * 0.3
    x[np.arange(120), y] += 3.0  # class c is large in dimension c
    acc = tool.logistic_regression(x, y, x, y, num_classes=3, epochs=30, lr=1e-2, shuffle=shuffle)
    assert acc == 1.0
    chance = tool.logistic_regression(x, y, x, (y + 1) % 3, num_classes=3, epochs=30, lr=1e-2)
    assert chance == 0.0  # labels rotated by one class: every prediction wrong


def test_runs_on_a_tiny_npz(tmp_path):
    rng = np.random.default_rng(0)
    npz = tmp_path / 'tiny.npz'
    imgs = rng.integers(0, 256, (12, 32, 32, 3), dtype=np.uint8)
    np.savez(npz, train_images=imgs, train_labels=np.arange(12) % 2, val_images=imgs[:6], val_labels=np.arange(6) % 2)
    out = tool.main([
        str(ROOT / 'configs' / 'scatsimclr' / 'scatsimclr_scatnet8_1xb64-cpu_cifar10-subset.py'), 'random', '--data',
        str(npz), '--epochs', '2', '--runs', '2', '--out',
        str(tmp_path / 'r.json')
    ])
    assert out['feature_dim'] == 2048 and out['num_train'] == 12 and out['num_test'] == 6
    assert out['knn_top1'] == 100.0  # each test image is its own nearest neighbour in the bank
    assert len(out['linear_top1']) == 2
    # the train and test splits are the same images with the same labels: every run scores the
    # classifier on images it fitted, so 2 epochs on 12 distinct 2048-d features must separate them
    # far above the 50 % of chance (an RGB/BGR or normalisation mix-up does not change that; the
    # channel order itself is pinned by tests/evaluation/test_probe_preprocessing.py)
    assert (tmp_path / 'r.json').is_file()

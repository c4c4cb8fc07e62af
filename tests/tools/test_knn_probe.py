"""tools/analysis/knn_probe.py ranks a briefly trained backbone above a random one.

The dataset is built so that a random backbone is a poor kNN feature: the class is the colour of a
small square, while a random, strongly varying background colour (plus pixel noise) dominates the
globally pooled features of an untrained network. 100 supervised steps on other images teach the
backbone to look at the square; if the tool ignored the checkpoint, or mixed up the two, the test
fails.
"""
import json
from pathlib import Path

import numpy as np
import torch
from tool_loading import load_tool
from torch import nn

SIZE = 32
#: RGB colours of the square, one per class
COLOURS = np.array([[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 0]], np.float32)
CONFIG = """
model = dict(
    type='ImageClassifier',
    backbone=dict(type='ResNet', depth=18, stem_channels=16, base_channels=16, out_indices=(3, )),
    data_preprocessor=dict(mean=[127.5, 127.5, 127.5], std=[64., 64., 64.], to_rgb=True))
"""


def make_split(n: int, seed: int):
    """``n`` RGB uint8 images (random background colour + noise, class-coloured 10-px square)."""
    rng = np.random.RandomState(seed)
    labels = np.arange(n) % len(COLOURS)
    imgs = rng.uniform(0, 255, (n, 1, 1, 3)) + rng.normal(0, 30, (n, SIZE, SIZE, 3))
    for img, label in zip(imgs, labels):
        y, x = rng.randint(0, SIZE - 10, 2)
        img[y:y + 10, x:x + 10] = COLOURS[label]
    return np.clip(imgs, 0, 255).astype(np.uint8), labels.astype(np.int64)


def briefly_train(cfg_path: Path, images: np.ndarray, labels: np.ndarray, out: Path) -> None:
    """Supervised steps of the config's backbone + a linear layer; saves ``backbone.*`` weights."""
    from mmengine.config import Config
    from mmpretrain.registry import MODELS

    import mmspatial  # noqa: F401
    torch.manual_seed(0)
    backbone = MODELS.build(Config.fromfile(str(cfg_path)).model.backbone)
    backbone.init_weights()
    head = nn.Linear(128, len(COLOURS))
    optim = torch.optim.Adam([*backbone.parameters(), *head.parameters()], lr=3e-3)
    # same input convention as the probe: RGB uint8 here, normalised with the config's mean/std
    x = (torch.from_numpy(images).permute(0, 3, 1, 2).float() - 127.5) / 64.
    y = torch.from_numpy(labels)
    backbone.train()
    gen = torch.Generator().manual_seed(0)
    for _ in range(100):
        idx = torch.randint(0, len(x), (32, ), generator=gen)
        loss = nn.functional.cross_entropy(head(backbone(x[idx])[-1].mean((2, 3))), y[idx])
        optim.zero_grad()
        loss.backward()
        optim.step()
    state = {f'backbone.{k}': v for k, v in backbone.state_dict().items()}
    state['head.weight'] = head.weight.detach()  # a key the probe must skip
    torch.save(dict(state_dict=state, meta=dict()), out)


def test_trained_checkpoint_ranks_above_random(tmp_path, capsys):
    train_x, train_y = make_split(256, 0)
    test_x, test_y = make_split(128, 1)
    data = tmp_path / 'squares.npz'
    np.savez(
        data,
        train_images=train_x,
        train_labels=train_y,
        val_images=test_x,
        val_labels=test_y,
        classes=np.array(['red', 'green', 'blue', 'yellow']))
    config = tmp_path / 'tiny_r18.py'
    config.write_text(CONFIG)
    ckpt = tmp_path / 'trained.pth'
    # trained on other images than the probe's (256 would be overfitted in 150 steps)
    briefly_train(config, *make_split(1024, 2), ckpt)

    tool = load_tool('tools/analysis/knn_probe.py')
    out = tmp_path / 'probe.json'
    results = tool.main([
        '--data',
        str(data), '--config',
        str(config), '--checkpoints', 'random',
        str(ckpt), '--names', 'random', 'trained', '--linear-steps', '100', '--device', 'cpu', '--out',
        str(out)
    ])
    by_name = {r['name']: r for r in results}
    random_knn, trained_knn = by_name['random']['knn_top1'], by_name['trained']['knn_top1']
    # measured: random 30.5 (chance 25), trained 97.7
    assert trained_knn >= 90 and trained_knn >= random_knn + 40, (random_knn, trained_knn)
    assert by_name['trained']['linear_top1'] > by_name['random']['linear_top1']
    assert by_name['trained']['unexpected_keys'] == 0 and by_name['trained']['missing_keys'] == 0

    # the printed comparison table and the JSON report
    table = capsys.readouterr().out
    assert '| checkpoint | kNN top-1 |' in table
    assert f"| trained | {trained_knn:.2f} |" in table and f"| random | {random_knn:.2f} |" in table
    report = json.loads(out.read_text())
    assert report['num_train'] == 256 and report['num_test'] == 128
    assert [r['name'] for r in report['results']] == ['random', 'trained']

"""Weighted kNN (DINO eval_knn protocol) and backbone-output pooling on hand-computable inputs."""
import math

import pytest
import torch
from mmpretrain.structures import DataSample
from torch import nn

from mmspatial.evaluation.features import eval_mode, extract_features
from mmspatial.evaluation.knn import knn_accuracy, knn_class_scores

# bank: a=(1,0) class 0, b=(0,1) class 1, c=(1,1)/sqrt2 class 1; query (1,0):
# cosine similarities a=1, b=0, c=1/sqrt2
BANK = torch.tensor([[1., 0.], [0., 1.], [1., 1.]])
BANK_LABELS = torch.tensor([0, 1, 1])
QUERY = torch.tensor([[2., 0.]])  # not unit length: normalisation must not matter


def test_scores_by_hand():
    scores = knn_class_scores(BANK, BANK_LABELS, QUERY, k=3, temperature=1.0)
    expected = torch.tensor([[math.e, math.exp(0) + math.exp(1 / math.sqrt(2))]])
    assert torch.allclose(scores, expected, atol=1e-5)
    # k=2 keeps a and c only
    scores = knn_class_scores(BANK, BANK_LABELS, QUERY, k=2, temperature=1.0)
    assert torch.allclose(scores, torch.tensor([[math.e, math.exp(1 / math.sqrt(2))]]), atol=1e-5)


def test_temperature_decides_the_vote():
    # T=1: class 1 wins by number (e^0 + e^0.707 = 3.03 > e = 2.72);
    # T=0.07: the closest neighbour dominates (e^14.3 > e^0 + e^10.1), class 0 wins
    assert knn_accuracy(BANK, BANK_LABELS, QUERY, torch.tensor([1]), k=3, temperature=1.0, topk=(1, ))['top1'] == 100.0
    assert knn_accuracy(BANK, BANK_LABELS, QUERY, torch.tensor([0]), k=3, temperature=0.07, topk=(1, ))['top1'] == 100.0


def test_top1_top5_percentages_on_a_small_case():
    # three queries: one near a (class 0), one near b (class 1), one near a but labelled 1 -> 2/3
    queries = torch.tensor([[1., 0.1], [0.1, 1.], [1., -0.1]])
    labels = torch.tensor([0, 1, 1])
    acc = knn_accuracy(BANK, BANK_LABELS, queries, labels, k=1, topk=(1, 2))
    assert acc['top1'] == pytest.approx(200 / 3)
    assert acc['top2'] == 100.0  # 2 classes: the second-ranked class is the label


def test_separable_clusters_and_chunking():
    torch.manual_seed(0)
    centres = torch.eye(8)[:4] * 5
    bank_labels = torch.arange(4).repeat_interleave(25)
    test_labels = torch.arange(4).repeat_interleave(10)
    bank = centres[bank_labels] + 0.3 * torch.randn(100, 8)
    test = centres[test_labels] + 0.3 * torch.randn(40, 8)
    acc = knn_accuracy(bank, bank_labels, test, test_labels)  # k=20, T=0.07
    assert acc == {'top1': 100.0, 'top5': 100.0}
    # shuffled labels: the same features are now near chance
    shuffled = test_labels[torch.randperm(40)]
    assert knn_accuracy(bank, bank_labels, test, shuffled)['top1'] < 60
    full = knn_class_scores(bank, bank_labels, test, chunk_size=1000)
    assert torch.allclose(knn_class_scores(bank, bank_labels, test, chunk_size=7), full)


def test_bad_inputs():
    with pytest.raises(ValueError, match='feature sizes differ'):
        knn_class_scores(BANK, BANK_LABELS, torch.ones(1, 3))
    with pytest.raises(ValueError, match='num_classes'):
        knn_class_scores(BANK, BANK_LABELS, QUERY, num_classes=1)
    with pytest.raises(ValueError, match='k must be'):
        knn_class_scores(BANK, BANK_LABELS, QUERY, k=0)


class _Loader:
    """Minimal dataloader: batches of dict(inputs, data_samples) with labels and sample indices."""

    def __init__(self, images, labels, batch_size, order):
        self.dataset = list(range(len(images)))
        self.batches = []
        for s in range(0, len(order), batch_size):
            idx = order[s:s + batch_size]
            samples = [DataSample(metainfo=dict(sample_idx=i)).set_gt_label(int(labels[i])) for i in idx]
            self.batches.append(dict(inputs=images[idx], data_samples=samples))

    def __iter__(self):
        return iter(self.batches)


def test_extract_features_orders_by_sample_idx_and_restores_modes():
    images = torch.randn(6, 3, 4, 4)
    labels = torch.tensor([0, 1, 2, 3, 0, 1])
    backbone = nn.Sequential(nn.Conv2d(3, 5, 1), nn.BatchNorm2d(5), nn.Dropout(0.5))
    backbone.train()
    backbone[1].eval()  # e.g. norm_eval: must stay in eval mode afterwards
    loader = _Loader(images, labels, 4, order=[5, 3, 1, 0, 2, 4])
    feats, out_labels = extract_features(backbone, loader)
    with torch.no_grad(), eval_mode(backbone):
        expected = backbone(images).mean(dim=(2, 3))
    assert torch.allclose(feats, expected, atol=1e-6)  # dataset order, eval mode (no dropout)
    assert torch.equal(out_labels, labels)
    assert backbone.training and backbone[0].training and not backbone[1].training
    incomplete = _Loader(images, labels, 4, order=[0, 1, 2])
    with pytest.raises(RuntimeError, match='not extracted'):
        extract_features(backbone, incomplete)


def _ddp_worker(rank, world_size, port, out_dir):
    import os

    import torch.distributed as dist
    from mmengine.runner import Runner
    os.environ.update(
        MASTER_ADDR='127.0.0.1',
        MASTER_PORT=str(port),
        RANK=str(rank),
        WORLD_SIZE=str(world_size),
        LOCAL_RANK=str(rank))
    dist.init_process_group('gloo', rank=rank, world_size=world_size)
    import mmspatial  # noqa: F401
    torch.manual_seed(0)
    backbone = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU())
    loader = Runner.build_dataloader(
        dict(
            batch_size=2,
            num_workers=0,
            sampler=dict(type='DefaultSampler', shuffle=False),
            collate_fn=dict(type='default_collate'),
            dataset=dict(
                type='mmpretrain.SyntheticScenes',
                num_images=7,
                img_size=(16, 16),
                seed=3,
                pipeline=[dict(type='mmpretrain.PackInputs')])))
    assert len(list(iter(loader))) == 2  # 7 samples over 2 ranks: 4 each (one padded), batch 2
    feats, labels = extract_features(backbone, loader)
    torch.save(dict(feats=feats, labels=labels), f'{out_dir}/rank{rank}.pth')
    dist.destroy_process_group()


@pytest.mark.slow
def test_extract_features_ddp_gathers_all_shards_in_order(tmp_path):
    """Two gloo processes each extract half; both end with the single-process result."""
    import os

    import torch.multiprocessing as mp
    from mmengine.runner import Runner
    port = 29600 + os.getpid() % 1000
    mp.spawn(_ddp_worker, args=(2, port, str(tmp_path)), nprocs=2, join=True)
    torch.manual_seed(0)
    backbone = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU())
    loader = Runner.build_dataloader(
        dict(
            batch_size=3,
            num_workers=0,
            sampler=dict(type='DefaultSampler', shuffle=False),
            collate_fn=dict(type='default_collate'),
            dataset=dict(
                type='mmpretrain.SyntheticScenes',
                num_images=7,
                img_size=(16, 16),
                seed=3,
                pipeline=[dict(type='mmpretrain.PackInputs')])))
    feats, labels = extract_features(backbone, loader)
    for rank in range(2):
        out = torch.load(tmp_path / f'rank{rank}.pth')
        assert out['feats'].shape == (7, 4)
        assert torch.allclose(out['feats'], feats, atol=1e-5)
        assert torch.equal(out['labels'], labels)

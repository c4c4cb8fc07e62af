"""Weighted k-nearest-neighbour classifier on frozen features.

The protocol of DINO (facebookresearch/dino ``eval_knn.py``, ``knn_classifier``) and solo-learn
(``solo/utils/knn.py``, ``WeightedKNNClassifier``), which both follow Wu et al. 2018 (instance
discrimination):

1. L2-normalise train-bank and test features; similarity = cosine similarity;
2. for each test sample take the ``k`` most similar bank samples (default 20);
3. each neighbour votes for its label with weight ``exp(sim / T)`` (default ``T = 0.07``);
4. classes are ranked by the summed votes; top-1 / top-5 accuracy follow.

Pure torch, batched over chunks of test samples so the ``(chunk, N_bank)`` similarity matrix stays small.
With fewer than 5 classes top-5 counts as a hit whenever the label is among the ranked classes (DINO
likewise uses ``min(5, k)``), i.e. it is 100%.
"""
from typing import Dict, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ['knn_class_scores', 'knn_accuracy']


def _check_inputs(train_feats: Tensor, train_labels: Tensor, test_feats: Tensor, num_classes: Optional[int]) -> int:
    if train_feats.dim() != 2 or test_feats.dim() != 2:
        raise ValueError('kNN needs (N, D) features, got train '
                         f'{tuple(train_feats.shape)} and test {tuple(test_feats.shape)}')
    if train_feats.shape[1] != test_feats.shape[1]:
        raise ValueError(f'feature sizes differ: train {train_feats.shape[1]} vs test '
                         f'{test_feats.shape[1]}')
    if train_labels.shape != (train_feats.shape[0], ):
        raise ValueError(f'train_labels must have shape ({train_feats.shape[0]},), got '
                         f'{tuple(train_labels.shape)}')
    if train_feats.shape[0] == 0:
        raise ValueError('the kNN train bank is empty')
    if train_labels.min() < 0:
        raise ValueError(f'labels must be >= 0, got {int(train_labels.min())}')
    inferred = int(train_labels.max()) + 1
    if num_classes is None:
        return inferred
    if inferred > num_classes:
        raise ValueError(f'a train label ({inferred - 1}) is >= num_classes ({num_classes})')
    return num_classes


@torch.no_grad()
def knn_class_scores(train_feats: Tensor,
                     train_labels: Tensor,
                     test_feats: Tensor,
                     k: int = 20,
                     temperature: float = 0.07,
                     num_classes: Optional[int] = None,
                     chunk_size: int = 256,
                     normalize: bool = True) -> Tensor:
    """Summed neighbour votes per class for every test sample.

    Args:
        train_feats (Tensor): ``(N, D)`` bank features.
        train_labels (Tensor): ``(N,)`` integer labels in ``[0, num_classes)``.
        test_feats (Tensor): ``(M, D)`` query features.
        k (int): neighbours per query; capped at ``N``. Defaults to 20.
        temperature (float): votes are ``exp(cos_sim / temperature)``. Defaults to 0.07.
        num_classes (int, optional): defaults to ``max(train_labels) + 1``.
        chunk_size (int): queries per similarity matmul. Defaults to 256.
        normalize (bool): L2-normalise both feature sets first (cosine similarity). Defaults to True.

    Returns:
        Tensor: ``(M, num_classes)`` float scores (higher is better).
    """
    if k < 1:
        raise ValueError(f'k must be >= 1, got {k}')
    if temperature <= 0:
        raise ValueError(f'temperature must be > 0, got {temperature}')
    train_labels = train_labels.long().to(train_feats.device)
    num_classes = _check_inputs(train_feats, train_labels, test_feats, num_classes)
    train_feats, test_feats = train_feats.float(), test_feats.float().to(train_feats.device)
    if normalize:
        train_feats = F.normalize(train_feats, dim=1)
        test_feats = F.normalize(test_feats, dim=1)
    k = min(k, train_feats.shape[0])
    scores = []
    for start in range(0, test_feats.shape[0], chunk_size):
        sim = test_feats[start:start + chunk_size] @ train_feats.T  # (B, N)
        top_sim, top_idx = sim.topk(k, dim=1)  # (B, k)
        votes = torch.zeros(sim.shape[0], num_classes, device=sim.device)
        votes.scatter_add_(1, train_labels[top_idx], (top_sim / temperature).exp())
        scores.append(votes)
    if not scores:
        return torch.zeros(0, num_classes, device=train_feats.device)
    return torch.cat(scores)


def knn_accuracy(train_feats: Tensor,
                 train_labels: Tensor,
                 test_feats: Tensor,
                 test_labels: Tensor,
                 k: int = 20,
                 temperature: float = 0.07,
                 num_classes: Optional[int] = None,
                 topk: Sequence[int] = (1, 5),
                 chunk_size: int = 256) -> Dict[str, float]:
    """Weighted kNN top-k accuracies in percent, e.g. ``{'top1': 87.5, 'top5': 100.0}``.

    Ties between classes with equal votes are broken towards the lower class index (``torch.sort`` with
    ``stable=True``), so results are deterministic.
    """
    test_labels = test_labels.long().reshape(-1)
    if test_labels.shape[0] != test_feats.shape[0]:
        raise ValueError(f'{test_feats.shape[0]} test features but {test_labels.shape[0]} labels')
    if num_classes is None:
        num_classes = int(max(train_labels.max(), test_labels.max())) + 1
    scores = knn_class_scores(train_feats, train_labels, test_feats, k, temperature, num_classes, chunk_size)
    ranked = scores.sort(dim=1, descending=True, stable=True).indices
    hits = ranked == test_labels.to(ranked.device)[:, None]
    total = max(test_labels.shape[0], 1)
    return {f'top{t}': 100.0 * float(hits[:, :t].any(dim=1).sum()) / total for t in topk}

"""Multinomial logistic regression on frozen, standardised features (the offline linear probe).

Full-batch L-BFGS (strong-Wolfe line search) on ``mean cross-entropy + wd / 2 * ||W||^2`` (bias not
penalised) after z-scoring every feature dimension with the train statistics, as scikit-learn's
``LogisticRegression(solver='lbfgs')`` on ``StandardScaler`` features, which is how small-dataset linear
probes are usually run (e.g. the CLIP paper's logistic-regression probes). The penalty can be chosen on a
held-out part of the train set (:func:`select_weight_decay`). Deterministic on CPU.
"""
from typing import Dict, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ['fit_logistic_regression', 'select_weight_decay', 'linear_probe_accuracy']


def _standardise(train: Tensor, *others: Tensor) -> Tuple[Tensor, ...]:
    mean, std = train.mean(0), train.std(0, unbiased=False) + 1e-6
    return tuple((x - mean) / std for x in (train, ) + others)


def fit_logistic_regression(feats: Tensor,
                            labels: Tensor,
                            num_classes: int,
                            weight_decay: float = 1e-3,
                            max_iter: int = 300) -> Tuple[Tensor, Tensor]:
    """Weights ``(D, C)`` and bias ``(C,)`` of the penalised multinomial logistic regression.

    ``feats`` should already be standardised (see :func:`linear_probe_accuracy`).
    """
    if feats.dim() != 2 or labels.shape != (feats.shape[0], ):
        raise ValueError(f'need (N, D) features and (N,) labels, got {tuple(feats.shape)} and '
                         f'{tuple(labels.shape)}')
    x, y = feats.double(), labels.long()
    weight = torch.zeros(x.shape[1], num_classes, dtype=x.dtype, requires_grad=True)
    bias = torch.zeros(num_classes, dtype=x.dtype, requires_grad=True)
    opt = torch.optim.LBFGS([weight, bias],
                            lr=1,
                            max_iter=max_iter,
                            tolerance_grad=1e-9,
                            tolerance_change=1e-12,
                            history_size=20,
                            line_search_fn='strong_wolfe')

    def closure():
        opt.zero_grad()
        loss = F.cross_entropy(x @ weight + bias, y) + 0.5 * weight_decay * weight.pow(2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    return weight.detach(), bias.detach()


def _accuracy(logits: Tensor, labels: Tensor, topk: Sequence[int]) -> Dict[str, float]:
    ranked = logits.argsort(dim=1, descending=True)
    hits = ranked == labels[:, None]
    return {f'top{k}': 100.0 * float(hits[:, :k].any(1).double().mean()) for k in topk}


def select_weight_decay(feats: Tensor,
                        labels: Tensor,
                        num_classes: int,
                        candidates: Sequence[float] = (1e-4, 1e-3, 1e-2, 1e-1),
                        holdout: float = 0.2,
                        max_iter: int = 300,
                        seed: int = 0) -> float:
    """The candidate penalty with the best top-1 on a random ``holdout`` part of the train set."""
    n = feats.shape[0]
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    n_val = max(1, int(round(n * holdout)))
    val, train = perm[:n_val], perm[n_val:]
    x_tr, x_val = _standardise(feats[train].double(), feats[val].double())
    scores = []
    for wd in candidates:
        w, b = fit_logistic_regression(x_tr, labels[train], num_classes, wd, max_iter)
        scores.append(_accuracy(x_val @ w + b, labels[val], (1, ))['top1'])
    return float(candidates[max(range(len(candidates)), key=lambda i: (scores[i], -i))])


def linear_probe_accuracy(train_feats: Tensor,
                          train_labels: Tensor,
                          test_feats: Tensor,
                          test_labels: Tensor,
                          weight_decay: float = None,
                          max_iter: int = 300,
                          topk: Sequence[int] = (1, 5)) -> Dict[str, float]:
    """Fit on standardised train features, report test top-k in percent (plus the penalty used).

    Args:
        weight_decay (float, optional): L2 penalty; None selects it with :func:`select_weight_decay`.
    """
    train_labels, test_labels = train_labels.long().cpu(), test_labels.long().cpu()
    train_feats, test_feats = train_feats.double().cpu(), test_feats.double().cpu()
    num_classes = int(max(train_labels.max(), test_labels.max())) + 1
    if weight_decay is None:
        weight_decay = select_weight_decay(train_feats, train_labels, num_classes, max_iter=max_iter)
    x_tr, x_te = _standardise(train_feats, test_feats)
    w, b = fit_logistic_regression(x_tr, train_labels, num_classes, weight_decay, max_iter)
    out = _accuracy(x_te @ w + b, test_labels, topk)
    out['weight_decay'] = weight_decay
    return out

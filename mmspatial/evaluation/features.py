"""Image-level features from any backbone, for kNN / linear probes and the online kNN monitor.

Backbone outputs are reduced to ``(B, C)`` by
:func:`mmspatial.models.utils.embedding_pool.pool_embedding`, the pooling SP and the spatial-reasoning
probes use: the last stage of a tuple; ``(B, C, H, W)`` maps (ResNet, ViT ``out_type='featmap'``,
SelfPatch's token-only ViT) -> global average pooling; ``(B, N, C)`` tokens (ViT ``out_type='raw'``) ->
the CLS token if the backbone has one, else the token mean; ``(B, C)`` (``out_type='cls_token'``) -> as is.

:func:`extract_features` runs a backbone over a dataloader in eval mode without gradients and restores
every module's train/eval flag afterwards. Under DDP each rank extracts the shard its distributed sampler
gives it; the shards are all-gathered and put back in dataset order by ``sample_idx``, so every rank ends
with the same ``(len(dataset), C)`` tensor, padding duplicates removed.
"""
from contextlib import contextmanager
from typing import Callable, Iterator, Optional, Tuple

import torch
from mmengine.dist import all_gather, get_dist_info
from torch import Tensor, nn

from mmspatial.models.utils.embedding_pool import pool_embedding

__all__ = ['extract_features', 'eval_mode']


@contextmanager
def eval_mode(module: nn.Module) -> Iterator[nn.Module]:
    """Put ``module`` in eval mode and restore each submodule's own ``training`` flag on exit.

    Restoring flags one by one (rather than calling ``module.train()``) keeps modules that were
    deliberately in eval mode (frozen stages, ``norm_eval``, an EMA teacher) as they were.
    """
    flags = [(m, m.training) for m in module.modules()]
    module.eval()
    try:
        yield module
    finally:
        for m, flag in flags:
            m.training = flag


def _batch_labels(data_samples, n: int) -> Tensor:
    if data_samples is None or len(data_samples) != n:
        raise KeyError('the kNN/probe dataloader yields no data_samples: pack it with PackInputs')
    labels = []
    for s in data_samples:
        if 'gt_label' not in s:
            raise KeyError('a kNN/probe sample has no gt_label: the dataset must be labelled '
                           '(e.g. SyntheticScenes, CustomDataset with_label=True)')
        labels.append(int(s.gt_label.reshape(-1)[0]))
    return torch.tensor(labels, dtype=torch.long)


def _gather_in_order(feats: Tensor, labels: Tensor, index: Tensor, size: int) -> Tuple[Tensor, Tensor]:
    """All-gather per-rank shards (possibly of different lengths) and order them by sample index."""
    _, world_size = get_dist_info()
    if world_size > 1:
        device = feats.device
        count = torch.tensor([feats.shape[0]], device=device)
        max_count = int(torch.stack(all_gather(count)).max())
        pad = max_count - feats.shape[0]
        # pad to a common length for all_gather, then drop the padding again via the counts
        feats_p = torch.cat([feats, feats.new_zeros(pad, feats.shape[1])])
        labels_p = torch.cat([labels, labels.new_zeros(pad)]).to(device)
        index_p = torch.cat([index, index.new_full((pad, ), -1)]).to(device)
        feats = torch.cat(all_gather(feats_p))
        labels = torch.cat(all_gather(labels_p))
        index = torch.cat(all_gather(index_p))
        keep = index >= 0
        feats, labels, index = feats[keep], labels[keep], index[keep]
    out_feats = feats.new_zeros(size, feats.shape[1])
    out_labels = labels.new_full((size, ), -1)
    seen = torch.zeros(size, dtype=torch.bool, device=index.device)
    # samplers that round up repeat a few samples: writing duplicates twice is harmless
    out_feats[index.to(out_feats.device)] = feats
    out_labels[index.to(out_labels.device)] = labels
    seen[index] = True
    if not bool(seen.all()):
        missing = int((~seen).sum())
        raise RuntimeError(f'{missing} of {size} samples were not extracted: the dataloader must '
                           'visit every sample once (DefaultSampler with shuffle=False)')
    return out_feats, out_labels


@torch.no_grad()
def extract_features(backbone: nn.Module,
                     dataloader,
                     data_preprocessor: Optional[Callable] = None,
                     pool: str = 'auto',
                     device: Optional[torch.device] = None) -> Tuple[Tensor, Tensor]:
    """Features and labels of every sample of ``dataloader.dataset``, in dataset order.

    Args:
        backbone (nn.Module): called on the preprocessed batch; output pooled by
            :func:`pool_backbone_output`.
        dataloader: yields ``dict(inputs=..., data_samples=...)`` (``PackInputs``; labels from
            ``gt_label``). Under DDP it must use a distributed sampler without shuffling
            (mmengine's ``DefaultSampler(shuffle=False)``).
        data_preprocessor (callable, optional): the model's ``data_preprocessor`` (normalisation and
            BGR->RGB exactly as in training); called as ``data_preprocessor(batch, False)``. Without
            it inputs are only cast to float.
        pool (str): ``'auto'``, ``'gap'``, ``'cls'`` or ``'mean'`` (see ``pool_embedding``).
        device: where to run; defaults to the backbone's device.

    Returns:
        tuple[Tensor, Tensor]: ``(N, C)`` float features and ``(N,)`` long labels, on ``device``.
    """
    if device is None:
        param = next(backbone.parameters(), None)
        device = param.device if param is not None else torch.device('cpu')
    feats, labels, index = [], [], []
    offset = 0
    with eval_mode(backbone):
        for batch in dataloader:
            if data_preprocessor is not None:
                data = data_preprocessor(batch, False)
                inputs, samples = data['inputs'], data['data_samples']
            else:
                inputs, samples = batch['inputs'], batch.get('data_samples')
            if isinstance(inputs, (list, tuple)):  # a multi-view pipeline: use the first view
                inputs = inputs[0]
            inputs = inputs.to(device).float()
            feat = pool_embedding(backbone(inputs), pool, backbone)
            n = feat.shape[0]
            feats.append(feat.float())
            labels.append(_batch_labels(samples, n))
            idx = [s.metainfo.get('sample_idx') for s in samples]
            if any(i is None for i in idx):
                if get_dist_info()[1] > 1:
                    raise KeyError('samples carry no sample_idx, needed to order DDP shards: keep '
                                   "'sample_idx' in PackInputs meta_keys")
                idx = list(range(offset, offset + n))
            index.append(torch.tensor(idx, dtype=torch.long))
            offset += n
    if not feats:
        raise RuntimeError('the feature dataloader is empty')
    feats_t = torch.cat(feats)
    return _gather_in_order(feats_t, torch.cat(labels).to(device), torch.cat(index).to(device), len(dataloader.dataset))

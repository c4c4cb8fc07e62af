"""A toy model/dataset and Runner config for the reliability tests (a real Runner in ~1 s)."""
import torch
from mmengine.model import BaseModel
from torch.utils.data import Dataset


class ToyModel(BaseModel):
    """``loss = mean((w * x)^2)``; ``nan_at`` makes the loss NaN at that (1-based) training step."""

    def __init__(self, nan_at: int = 0, in_features: int = 4) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(in_features, 1)
        self.nan_at = nan_at
        self.calls = 0

    def forward(self, inputs, data_samples=None, mode='loss'):
        x = torch.stack(inputs) if isinstance(inputs, (list, tuple)) else inputs
        out = self.linear(x.float().flatten(1)[:, :self.linear.in_features])
        if mode != 'loss':
            return out
        self.calls += 1
        loss = (out**2).mean()
        if self.calls == self.nan_at:
            loss = loss * float('nan')
        return dict(loss=loss)


class ToyDataset(Dataset):
    metainfo: dict = {}

    def __init__(self, n: int = 8) -> None:
        self.data = torch.arange(n * 4, dtype=torch.float32).reshape(n, 4) / (n * 4)

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, idx: int) -> dict:
        return dict(inputs=self.data[idx])


def toy_runner_cfg(work_dir,
                   max_iters=6,
                   ckpt_interval=2,
                   max_keep_ckpts=-1,
                   nan_at=0,
                   custom_hooks=(),
                   checkpoint_hook='AtomicCheckpointHook',
                   **kwargs) -> dict:
    """Arguments of ``Runner`` / ``SpatialRunner`` (``Runner(**toy_runner_cfg(...))``)."""
    cfg = dict(
        model=ToyModel(nan_at=nan_at),
        work_dir=str(work_dir),
        train_dataloader=dict(
            dataset=ToyDataset(),
            sampler=dict(type='DefaultSampler', shuffle=False),
            batch_size=2,
            num_workers=0,
            collate_fn=dict(type='default_collate')),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1)),
        train_cfg=dict(type='IterBasedTrainLoop', max_iters=max_iters),
        default_hooks=dict(
            checkpoint=dict(
                type=checkpoint_hook, interval=ckpt_interval, by_epoch=False, max_keep_ckpts=max_keep_ckpts),
            logger=dict(type='LoggerHook', interval=1)),
        custom_hooks=list(custom_hooks),
        default_scope='mmpretrain',
        log_level='WARNING',
    )
    cfg.update(kwargs)
    return cfg

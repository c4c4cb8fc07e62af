"""Online weighted-kNN accuracy during self-supervised pretraining.

mmpretrain's self-supervised runs only log the loss (``BaseSelfSupervisor`` has no val step). lightly
(``BenchmarkModule``) and solo-learn (``knn_eval``) monitor pretraining with a kNN classifier on frozen
features; :class:`KNNMonitorHook` does the same in an mmengine run: every ``interval`` epochs (or
iterations) it extracts features of a labelled bank and a labelled val set with the current backbone,
classifies the val set with weighted kNN (k=20, T=0.07, DINO ``eval_knn.py``) and logs ``knn/top1`` and
``knn/top5`` to the text log and to every visualiser backend (``scalars.json``, TensorBoard, ...).
"""
import copy
import time
from typing import Dict, Optional, Sequence

from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmpretrain.registry import HOOKS
from torch import nn

from mmspatial.evaluation.features import extract_features
from mmspatial.evaluation.knn import knn_accuracy

__all__ = ['KNNMonitorHook', 'resolve_backbone', 'TARGET_BACKBONE_PATHS']

#: Where the EMA / momentum / teacher backbone lives, tried in order for ``branch='target'``.
TARGET_BACKBONE_PATHS = (
    'target_net.module.0',  # mmpretrain BYOL, mmspatial SCRL: CosineEMA(Sequential(backbone, neck))
    'momentum_encoder.module.0',  # mmpretrain MoCoV3
    'encoder_k.module.0',  # mmpretrain MoCo, DenseCL
    'teacher.backbone',  # mmspatial DINO / SelfPatch: ModuleDict(backbone=..., neck=...)
    'teacher',  # mmpretrain CAE: the teacher is a backbone
)


def _get_path(model: nn.Module, path: str) -> nn.Module:
    """``model.<a>.<b>...``; digits index ``nn.Sequential`` (``getattr(seq, '0')`` does that)."""
    module = model
    for part in path.split('.'):
        if not hasattr(module, part):
            raise AttributeError(part)
        module = getattr(module, part)
    return module


def resolve_backbone(model: nn.Module, branch: str = 'online', backbone_path: Optional[str] = None) -> nn.Module:
    """The backbone whose features the kNN monitor evaluates.

    Args:
        model (nn.Module): the algorithm, DDP/FSDP wrappers are unwrapped.
        branch (str): ``'online'`` (``model.backbone``, the network that gets gradients) or
            ``'target'`` (the EMA / momentum / teacher copy, looked up at
            :data:`TARGET_BACKBONE_PATHS` in order).
        backbone_path (str, optional): explicit dotted attribute path from the model, e.g.
            ``'target_net.module.0'``; overrides ``branch``.

    Returns:
        nn.Module: the backbone.
    """
    if is_model_wrapper(model):
        model = model.module
    if backbone_path is not None:
        try:
            module = _get_path(model, backbone_path)
        except AttributeError as err:
            raise AttributeError(f'KNNMonitorHook: {type(model).__name__} has no '
                                 f'backbone_path={backbone_path!r} (missing {err})') from None
        if not isinstance(module, nn.Module):
            raise TypeError(f'KNNMonitorHook: backbone_path={backbone_path!r} is a '
                            f'{type(module).__name__}, not a module')
        return module
    if branch == 'online':
        if not isinstance(getattr(model, 'backbone', None), nn.Module):
            raise AttributeError(f'KNNMonitorHook: {type(model).__name__} has no .backbone; set '
                                 'backbone_path')
        return model.backbone
    if branch == 'target':
        for path in TARGET_BACKBONE_PATHS:
            try:
                module = _get_path(model, path)
            except AttributeError:
                continue
            if isinstance(module, nn.Module):
                return module
        raise AttributeError(f"KNNMonitorHook: no target/teacher backbone found in "
                             f"{type(model).__name__} (tried {list(TARGET_BACKBONE_PATHS)}); set "
                             'backbone_path')
    raise ValueError(f"KNNMonitorHook: branch must be 'online' or 'target', got {branch!r}")


def _loader_cfg(cfg: dict, name: str) -> dict:
    if not isinstance(cfg, dict) or 'dataset' not in cfg:
        raise TypeError(f'KNNMonitorHook: {name} must be a dataloader config dict with a dataset, '
                        f'got {cfg!r}')
    cfg = copy.deepcopy(cfg)
    cfg.setdefault('batch_size', 64)
    cfg.setdefault('num_workers', 0)
    cfg.setdefault('sampler', dict(type='DefaultSampler', shuffle=False))
    cfg.setdefault('collate_fn', dict(type='default_collate'))
    return cfg


@HOOKS.register_module()
class KNNMonitorHook(Hook):
    """Weighted kNN accuracy of the current backbone, every ``interval`` epochs or iterations.

    The two dataloaders are built once (on first use) from the given configs, with ``DefaultSampler(
    shuffle=False)`` and ``default_collate`` unless set; under DDP each rank extracts its shard and
    the features are all-gathered. Each evaluation logs ``<prefix>/top1``, ``<prefix>/top5`` and
    ``<prefix>/time`` (seconds) at ``step`` = completed training iterations, the step of the loss
    scalars, and stores them in ``runner.message_hub``.

    Args:
        train_dataloader (dict): labelled bank (e.g. ``SyntheticScenes`` with another seed and a
            deterministic ``ResizeWithBox`` + ``PackInputs`` pipeline).
        val_dataloader (dict): labelled queries.
        interval (int): evaluate every ``interval`` epochs (``by_epoch=True``) or iterations.
            Defaults to 1.
        by_epoch (bool): count ``interval`` in epochs or iterations. Defaults to True.
        before_train (bool): also evaluate the initial weights (the random-init baseline of the
            curve). Defaults to False.
        branch (str): ``'online'`` or ``'target'`` (EMA / momentum / teacher); see
            :func:`resolve_backbone`. Defaults to ``'online'``.
        backbone_path (str, optional): explicit dotted path to the backbone, e.g.
            ``'target_net.module.0'``. Defaults to None.
        k (int): neighbours. Defaults to 20.
        temperature (float): vote temperature. Defaults to 0.07.
        pool (str): how to reduce the backbone output to one vector, ``'auto'`` (GAP of maps, CLS
            token of token sequences), ``'gap'``, ``'cls'`` or ``'mean'``; see
            :func:`mmspatial.models.utils.embedding_pool.pool_embedding`. Defaults to ``'auto'``.
        topk (Sequence[int]): accuracies to log. Defaults to (1, 5).
        prefix (str): scalar name prefix. Defaults to ``'knn'``.
    """
    priority = 'NORMAL'

    def __init__(self,
                 train_dataloader: dict,
                 val_dataloader: dict,
                 interval: int = 1,
                 by_epoch: bool = True,
                 before_train: bool = False,
                 branch: str = 'online',
                 backbone_path: Optional[str] = None,
                 k: int = 20,
                 temperature: float = 0.07,
                 pool: str = 'auto',
                 topk: Sequence[int] = (1, 5),
                 prefix: str = 'knn') -> None:
        if interval < 1:
            raise ValueError(f'KNNMonitorHook: interval must be >= 1, got {interval}')
        if branch not in ('online', 'target'):
            raise ValueError(f"KNNMonitorHook: branch must be 'online' or 'target', got {branch!r}")
        if k < 1 or temperature <= 0:
            raise ValueError(f'KNNMonitorHook: need k >= 1 and temperature > 0, got k={k}, '
                             f'temperature={temperature}')
        self.train_loader_cfg = _loader_cfg(train_dataloader, 'train_dataloader')
        self.val_loader_cfg = _loader_cfg(val_dataloader, 'val_dataloader')
        self.interval = interval
        self.by_epoch = by_epoch
        self.eval_before_train = before_train
        self.branch = branch
        self.backbone_path = backbone_path
        self.k = k
        self.temperature = temperature
        self.pool = pool
        self.topk = tuple(topk)
        self.prefix = prefix
        self._loaders = None
        self.total_time = 0.0  # seconds spent in evaluations, for the time-share check
        self.history = []  # (step, metrics) of every evaluation of this run
        self.history_when = []  # 'before training', 'epoch 2', ... for each entry of history
        self.num_queries = 0
        self.num_bank = 0

    def _build_loaders(self, runner):
        if self._loaders is None:
            self._loaders = (runner.build_dataloader(self.train_loader_cfg, seed=runner.seed),
                             runner.build_dataloader(self.val_loader_cfg, seed=runner.seed))
        return self._loaders

    def evaluate(self, runner, step: int, when: str = '') -> Dict[str, float]:
        """Extract bank and val features with the current backbone, run kNN, log the scalars.

        Args:
            runner: the mmengine runner.
            step (int): completed training iterations (the x axis of the scalars).
            when (str): e.g. ``'epoch 3'``, for the log line.
        """
        start = time.perf_counter()
        bank_loader, val_loader = self._build_loaders(runner)
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        backbone = resolve_backbone(model, self.branch, self.backbone_path)
        preprocessor = getattr(model, 'data_preprocessor', None)
        bank_feats, bank_labels = extract_features(backbone, bank_loader, preprocessor, self.pool)
        val_feats, val_labels = extract_features(backbone, val_loader, preprocessor, self.pool)
        num_classes = int(max(bank_labels.max(), val_labels.max())) + 1
        acc = knn_accuracy(
            bank_feats,
            bank_labels,
            val_feats,
            val_labels,
            k=self.k,
            temperature=self.temperature,
            num_classes=num_classes,
            topk=self.topk)
        elapsed = time.perf_counter() - start
        self.total_time += elapsed
        scalars = {f'{self.prefix}/{name}': value for name, value in acc.items()}
        # binomial standard error of each accuracy over the n queries, so that a change between two
        # evaluations can be read against it (issue 14: 128 queries give about 4 points)
        self.num_bank, self.num_queries = int(bank_labels.numel()), int(val_labels.numel())
        n = max(self.num_queries, 1)
        for name, value in acc.items():
            p = value / 100.0
            scalars[f'{self.prefix}/{name}_se'] = 100.0 * (p * (1 - p) / n)**0.5
        scalars[f'{self.prefix}/time'] = elapsed
        for name, value in scalars.items():
            runner.message_hub.update_scalar(name, value)
        runner.visualizer.add_scalars(scalars, step=step)
        self.history.append((step, scalars))
        self.history_when.append(when or f'iter {step}')
        text = '  '.join(f'{name}: {value:.2f}' for name, value in scalars.items())
        source = self.backbone_path or f'{self.branch} backbone'
        print_log(f'kNN (k={self.k}, T={self.temperature}, {source}) {when or f"iter {step}"}: '
                  f'{text}',
                  logger='current')
        return scalars

    def before_train(self, runner) -> None:
        if self.eval_before_train:
            self.evaluate(runner, step=runner.iter, when='before training')

    def after_train_epoch(self, runner) -> None:
        if self.by_epoch and (self.every_n_epochs(runner, self.interval) or self.is_last_train_epoch(runner)):
            self.evaluate(runner, step=runner.iter, when=f'epoch {runner.epoch + 1}')

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        if not self.by_epoch and (self.every_n_train_iters(runner, self.interval) or self.is_last_train_iter(runner)):
            self.evaluate(runner, step=runner.iter + 1, when=f'iter {runner.iter + 1}')

    def curve_summary(self, metric: str = 'top1') -> str:
        """One line with the whole curve, first and last point with their standard errors.

        E.g. ``kNN top-1 (k=20, 1024 queries, bank 1024, ±SE): 26.1±1.4 (before training) → 38.0 (epoch 2)
        → 45.5±1.6 (epoch 6); +19.4±2.1 points (9.2 SE)``. The SE of the change is
        ``sqrt(se_first² + se_last²)``, as for two independent query sets (conservative: the queries are
        the same, which correlates the two accuracies positively). Empty before any evaluation.
        """
        if not self.history:
            return ''
        key = f'{self.prefix}/{metric}'
        values = [scalars[key] for _, scalars in self.history]
        ses = [scalars[f'{key}_se'] for _, scalars in self.history]
        points = []
        for i, (value, se, when) in enumerate(zip(values, ses, self.history_when)):
            ends = i in (0, len(values) - 1)
            points.append(f'{value:.1f}±{se:.1f} ({when})' if ends else f'{value:.1f} ({when})')
        name = metric.replace('top', 'top-')
        line = (f'{self.prefix} {name} (k={self.k}, {self.num_queries} queries, bank {self.num_bank}, ±SE): ' +
                ' → '.join(points))
        if len(values) > 1:
            change, change_se = values[-1] - values[0], (ses[0]**2 + ses[-1]**2)**0.5
            z = f' ({change / change_se:.1f} SE)' if change_se > 0 else ''
            line += f'; {change:+.1f}±{change_se:.1f} points{z}'
        return line

    def after_train(self, runner) -> None:
        if self.history:
            print_log(f'KNNMonitorHook: {len(self.history)} evaluations took {self.total_time:.1f} s '
                      'in total',
                      logger='current')
            print_log(self.curve_summary(), logger='current')

"""Stop a transfer run whose backbone did not get its pretrained weights.

Registered in mmengine's root ``HOOKS`` registry, so ``dict(type='CheckpointCoverageHook')`` is found
from the ``mmdet``, ``mmseg`` and ``mmpretrain`` scopes alike (child registries fall back to the root).
"""
import logging
from typing import Sequence

from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS

from mmspatial.engine.checkpoint_coverage import DEFAULT_RESIZABLE, report_for_init_cfg
from mmspatial.engine.safe_load import checkpoint_loading


def get_submodule(model, path: str):
    module = model
    for name in path.split('.'):
        if not hasattr(module, name):
            raise AttributeError(f'CheckpointCoverageHook: the model ({type(model).__name__}) has no '
                                 f'submodule {path!r}')
        module = getattr(module, name)
    return module


@HOOKS.register_module()
class CheckpointCoverageHook(Hook):
    """Before training, check that ``model.<module>`` was fully loaded from its ``init_cfg`` checkpoint.

    Runs after the Runner has initialised the weights (``before_train`` follows ``init_weights`` and
    ``load_or_resume``). Logs the :class:`~mmspatial.engine.checkpoint_coverage.CoverageReport` and
    raises ``RuntimeError`` with it when a backbone entry did not come from the checkpoint (missing,
    wrong shape, or different values). Unused checkpoint keys are reported but allowed (e.g. a DINO
    checkpoint's ``cls_token`` and final norm when the detector's ViT has neither).

    Args:
        module (str): dotted path of the checked submodule. Defaults to 'backbone'.
        allow_missing (Sequence[str]): fnmatch patterns of module keys that may be absent from the
            checkpoint (layers that are legitimately new).
        resizable (Sequence[str]): keys resized by the module's own load hook. Defaults to
            ``('pos_embed',)``.
        check_values (bool): also compare values. Defaults to True.
        require_checkpoint (bool): fail when the module has no ``Pretrained`` init_cfg (a benchmark
            config run without a checkpoint). Set False for from-scratch baselines. Defaults to True.
        strict (bool): raise on incomplete coverage; False only logs. Defaults to True.
    """
    priority = 'VERY_HIGH'

    def __init__(self,
                 module: str = 'backbone',
                 allow_missing: Sequence[str] = (),
                 resizable: Sequence[str] = DEFAULT_RESIZABLE,
                 check_values: bool = True,
                 require_checkpoint: bool = True,
                 strict: bool = True) -> None:
        self.module = module
        self.allow_missing = tuple(allow_missing)
        self.resizable = tuple(resizable)
        self.check_values = check_values
        self.require_checkpoint = require_checkpoint
        self.strict = strict
        self.last_report = None

    def before_train(self, runner) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        module = get_submodule(model, self.module)
        if getattr(runner, '_resume', False) or getattr(runner, '_load_from', None):
            print_log(
                f'CheckpointCoverageHook: weights come from load_from/resume '
                f'({runner._load_from}); init_cfg coverage not checked',
                logger='current')
            return
        with checkpoint_loading(getattr(runner, 'trusted_checkpoints', ())):  # weights_only + allow-list
            report = report_for_init_cfg(
                module,
                self.module,
                check_values=self.check_values,
                allow_missing=self.allow_missing,
                resizable=self.resizable)
        if report is None:
            msg = (f'CheckpointCoverageHook: model.{self.module} has no '
                   "init_cfg=dict(type='Pretrained', checkpoint=...): this transfer run would start "
                   'from random weights. Pass the checkpoint (e.g. --cfg-options '
                   f'model.{self.module}.init_cfg.checkpoint=PATH or MMSPATIAL_PRETRAINED=PATH), or '
                   'set require_checkpoint=False for a from-scratch baseline.')
            if self.require_checkpoint:
                raise RuntimeError(msg)
            print_log(msg, logger='current', level=logging.WARNING)
            return
        self.last_report = report
        level = logging.INFO if report.complete else logging.ERROR
        print_log(report.format(), logger='current', level=level)
        if not report.complete and self.strict:
            raise RuntimeError('the pretrained checkpoint does not cover the backbone; training '
                               'would silently start from random weights.\n' + report.format())

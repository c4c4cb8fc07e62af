"""Report which backbone weights of a transfer config a checkpoint provides.

    python tools/model_converters/check_coverage.py scrl_r50.pth \
        configs/benchmarks/mmdet/mask-rcnn_r50_fpn_syncbn_1x_coco.py
    python tools/model_converters/check_coverage.py epoch_200.pth CONFIG --prefix target_net.module.0.

Builds the config's model (in its ``default_scope``), initialises ``model.<module>`` from CKPT with
mmengine's ``PretrainedInit`` rules (``--prefix`` as ``init_cfg.prefix``), and prints the coverage
report: entries loaded, missing, mismatched, and unused checkpoint keys. Exit status 1 when the
backbone is not fully covered, so it can guard a launch script.
"""
import argparse
import sys

from mmengine.config import Config, DictAction
from mmengine.registry import MODELS, init_default_scope

import mmspatial  # noqa: F401  (registrations)
from mmspatial.engine.checkpoint_coverage import DEFAULT_RESIZABLE, report_for_init_cfg
from mmspatial.engine.hooks.checkpoint_coverage_hook import get_submodule
from mmspatial.engine.safe_load import checkpoint_loading


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('checkpoint', help='backbone or pretraining checkpoint')
    parser.add_argument('config', help='transfer config (mmdet / mmseg / mmpretrain)')
    parser.add_argument('--prefix', help="init_cfg prefix, e.g. 'backbone.' for a full checkpoint")
    parser.add_argument('--module', default='backbone', help='checked submodule of the model')
    parser.add_argument(
        '--allow-missing', nargs='*', default=[], help='fnmatch patterns of module keys allowed to be absent')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    parser.add_argument(
        '--trust-checkpoint',
        action='store_true',
        help='load the checkpoint with weights_only=False (only for a file you trust)')
    args = parser.parse_args()

    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmengine'))
    model_cfg = cfg.model
    target = model_cfg
    for name in args.module.split('.'):
        target = target[name]
    if 'pretrained' in model_cfg:
        model_cfg.pretrained = None  # mmseg's EncoderDecoder would override backbone.init_cfg
    target.init_cfg = dict(type='Pretrained', checkpoint=args.checkpoint)
    if args.prefix:
        target.init_cfg['prefix'] = args.prefix
    model = MODELS.build(model_cfg)
    module = get_submodule(model, args.module)
    # weights_only=True with mmspatial's allow-list (docs/safety.md), for this block only
    trusted = [args.checkpoint] if args.trust_checkpoint else []
    with checkpoint_loading(trusted):
        module.init_weights()
        report = report_for_init_cfg(module, args.module, allow_missing=args.allow_missing, resizable=DEFAULT_RESIZABLE)
    print(report.format(max_keys=50))
    return 0 if report.complete else 1


if __name__ == '__main__':
    sys.exit(main())

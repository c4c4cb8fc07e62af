"""Extract the backbone of a pretraining checkpoint for mmdet / mmseg transfer.

    python tools/model_converters/extract_backbone.py work_dirs/scrl/epoch_200.pth scrl_r50.pth
    python tools/model_converters/extract_backbone.py dino.pth dino_teacher.pth --branch target
    python tools/model_converters/extract_backbone.py sp.pth out.pth --prefix host.backbone.

``--branch online`` takes ``backbone.*``; ``--branch target`` the EMA / teacher network
(``target_net.module.0.`` for BYOL/SCRL, ``teacher.backbone.`` for DINO/SelfPatch, ...; see
``mmspatial/models/utils/checkpoint_convert.py``). The output is ``{'state_dict', 'meta'}`` with keys as
the transfer configs' backbones expect, loaded with ``init_cfg=dict(type='Pretrained',
checkpoint=OUT)`` (no prefix). ViTs keep mmpretrain's layout (for ``mmpretrain.VisionTransformer``)
unless ``--vit-layout mmseg`` (for mmseg's own ``VisionTransformer``, with ``patch_bias=True``).
``--drop-cls-token`` prepares a DINO ViT (which has a class token) for the transfer configs' ViTs
(which have none).
"""
import argparse
import os
import os.path as osp

import torch

from mmspatial.models.utils.checkpoint_convert import (BRANCHES, VIT_LAYOUTS, extract_backbone_checkpoint,
                                                       load_checkpoint_file)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('checkpoint', help='pretraining checkpoint (.pth)')
    parser.add_argument('output', help='output backbone checkpoint (.pth)')
    parser.add_argument(
        '--branch',
        choices=BRANCHES,
        default='online',
        help='online network or EMA/teacher (DINO reports teacher results)')
    parser.add_argument('--prefix', help="explicit key prefix (overrides --branch), e.g. 'backbone.'")
    parser.add_argument(
        '--vit-layout',
        choices=VIT_LAYOUTS,
        default='mmpretrain',
        help='key layout for ViT backbones (ResNets have one layout)')
    parser.add_argument(
        '--drop-cls-token',
        action='store_true',
        help='remove a ViT class token and its pos_embed row (DINO checkpoints for '
        'the ViT transfer configs, whose ViTs have no class token)')
    parser.add_argument(
        '--trust-checkpoint',
        action='store_true',
        help='unpickle the checkpoint with weights_only=False (only for a file you trust; docs/safety.md)')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    if not args.output.endswith('.pth'):
        raise SystemExit(f'output must end with .pth: {args.output}')
    ckpt = extract_backbone_checkpoint(
        load_checkpoint_file(args.checkpoint, trust=args.trust_checkpoint),
        branch=args.branch,
        prefix=args.prefix,
        vit_layout=args.vit_layout,
        no_cls_token=args.drop_cls_token,
        source=args.checkpoint)
    os.makedirs(osp.dirname(osp.abspath(args.output)), exist_ok=True)
    torch.save(ckpt, args.output)
    info = ckpt['meta']['mmspatial']
    print(f"{args.output}: {len(ckpt['state_dict'])} tensors, {info['arch']} "
          f"({info['layout']} layout) from prefix {info['prefix']!r} of {args.checkpoint}")


if __name__ == '__main__':
    main()

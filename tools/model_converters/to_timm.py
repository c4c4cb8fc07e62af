"""Convert a backbone to timm / torchvision key names (for use outside OpenMMLab).

    python tools/model_converters/to_timm.py dino_epoch_100.pth vit_s16_dino.pth --branch target

ResNet: mmpretrain's keys already are torchvision's and timm's (``resnet50``); they are checked and
saved as a plain state dict (``model.load_state_dict(sd, strict=False)`` then only misses ``fc``). ViT:
``layers.N`` -> ``blocks.N`` (``norm1``, ``attn.qkv``, ``attn.proj``, ``norm2``, ``mlp.fc1``, ``mlp.fc2``),
``patch_embed.projection`` -> ``patch_embed.proj``, ``ln1`` -> ``norm``; ``cls_token``/``pos_embed`` keep
their names (a ViT without class token, like SelfPatch's, is timm's ``class_token=False``).
"""
import argparse

import torch

from mmspatial.models.utils.checkpoint_convert import (BRANCHES, backbone_state_dict, detect_arch, load_checkpoint_file,
                                                       resnet_to_torchvision, vit_mmpretrain_to_timm,
                                                       vit_mmseg_to_mmpretrain)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('checkpoint', help='pretraining or extracted backbone checkpoint (.pth)')
    parser.add_argument('output', help='plain state dict (.pth)')
    parser.add_argument('--branch', choices=BRANCHES, default='online')
    parser.add_argument('--prefix', help='explicit key prefix (overrides --branch)')
    parser.add_argument(
        '--trust-checkpoint',
        action='store_true',
        help='unpickle the checkpoint with weights_only=False (only for a file you trust; docs/safety.md)')
    args = parser.parse_args()
    state, prefix = backbone_state_dict(
        load_checkpoint_file(args.checkpoint, args.trust_checkpoint), args.branch, args.prefix, args.checkpoint)
    arch = detect_arch(state)
    if arch == 'resnet':
        out = resnet_to_torchvision(state, args.checkpoint)
    elif arch == 'vit-timm':
        out = state
    else:
        out = vit_mmpretrain_to_timm(vit_mmseg_to_mmpretrain(state) if arch == 'vit-mmseg' else state)
    torch.save({k: v.detach().clone() for k, v in out.items()}, args.output)
    print(f'{args.output}: {len(out)} tensors ({arch}, prefix {prefix!r} of {args.checkpoint})')


if __name__ == '__main__':
    main()

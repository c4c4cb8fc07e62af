"""Convert a ResNet backbone to a detectron2 checkpoint (pickle).

    python tools/model_converters/to_detectron2.py scrl_epoch_200.pth scrl_r50_d2.pkl [--branch target]

Input: a pretraining checkpoint (the backbone is taken as by ``extract_backbone.py``) or an extracted
backbone. Output: ``{'model': {name: ndarray}, '__author__': 'mmspatial', 'matching_heuristics': True}``
with detectron2's R50 names (``stem.conv1``, ``res2``..``res5``, ``convK.norm``, ``shortcut``). Use it with
``MODEL.WEIGHTS scrl_r50_d2.pkl``, ``MODEL.PIXEL_MEAN [123.675,116.280,103.530]``,
``MODEL.PIXEL_STD [58.395,57.120,57.375]``, ``INPUT.FORMAT RGB`` and ``MODEL.RESNETS.STRIDE_IN_1X1 False``
(torchvision-style ResNet: the stride is in the 3x3 conv).
"""
import argparse
import pickle

from mmspatial.models.utils.checkpoint_convert import (BRANCHES, backbone_state_dict, detectron2_checkpoint,
                                                       load_checkpoint_file)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('checkpoint', help='pretraining or extracted backbone checkpoint (.pth)')
    parser.add_argument('output', help='detectron2 weights (.pkl)')
    parser.add_argument('--branch', choices=BRANCHES, default='online')
    parser.add_argument('--prefix', help='explicit key prefix (overrides --branch)')
    parser.add_argument(
        '--trust-checkpoint',
        action='store_true',
        help='unpickle the checkpoint with weights_only=False (only for a file you trust; docs/safety.md)')
    args = parser.parse_args()
    if not args.output.endswith('.pkl'):
        raise SystemExit(f'output must end with .pkl: {args.output}')
    state, prefix = backbone_state_dict(
        load_checkpoint_file(args.checkpoint, args.trust_checkpoint), args.branch, args.prefix, args.checkpoint)
    payload = detectron2_checkpoint(state, args.checkpoint)
    with open(args.output, 'wb') as f:
        pickle.dump(payload, f)
    print(f"{args.output}: {len(payload['model'])} arrays (prefix {prefix!r} of {args.checkpoint})")


if __name__ == '__main__':
    main()

"""Export the embedded synthetic scenes with depth maps in NYU-Depth-v2's layout (no download needed).

    python tools/dataset_converters/synthetic_nyu_depth.py data/synthetic_nyu --train 256 --test 64

writes ``images/{train,test}/*.jpg`` and ``annotations/{train,test}/*.png`` (16-bit, millimetres), the layout of
mmseg's ``NYUDataset``; the test split uses another seed, so its scenes are not in the training split. Geometry:
``mmspatial/datasets/synthetic_depth.py``. Train on it with the NYU depth configs and
``--cfg-options train_dataloader.dataset.data_root=... val_dataloader.dataset.data_root=...`` (docs/downstream.md).
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from mmspatial.datasets.synthetic_depth import export_nyu_depth  # noqa: E402
from mmspatial.datasets.synthetic_scenes import SyntheticScenes  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('out_dir', help='dataset root to write (NYUDataset data_root)')
    parser.add_argument('--train', type=int, default=256, help='number of training scenes')
    parser.add_argument('--test', type=int, default=64, help='number of test scenes')
    parser.add_argument('--seed', type=int, default=0, help='seed of the training scenes (test: seed + 1)')
    parser.add_argument('--img-size', type=int, nargs=2, default=(128, 160), metavar=('H', 'W'))
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    for split, num, seed in (('train', args.train, args.seed), ('test', args.test, args.seed + 1)):
        if num > 0:
            scenes = SyntheticScenes(num_images=num, img_size=args.img_size, seed=seed)
            img_dir, ann_dir = export_nyu_depth(scenes, args.out_dir, split)
            print(f'{split}: {num} scenes (seed {seed}) -> {img_dir}, {ann_dir}')


if __name__ == '__main__':
    main()

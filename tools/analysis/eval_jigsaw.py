"""Jigsaw understanding with frozen backbones (SP evaluation 2): tile-position probe, Hungarian
reassembly, recognition of the reconstructed image.

Example::

    python tools/analysis/eval_jigsaw.py ../shared/data/flowers128 \
        --checkpoints random work_dirs/byol/epoch_8.pth work_dirs/byol_sp/epoch_8.pth \
        --configs configs/byol/byol_resnet18_1xb32-coslr-8e_demo.py --names random BYOL BYOL+SP --out-dir work_dirs/eval

See mmspatial/evaluation/spatial_reasoning/jigsaw.py for the protocol.
"""
from mmspatial.evaluation.spatial_reasoning.runners import jigsaw_main

if __name__ == '__main__':
    jigsaw_main()

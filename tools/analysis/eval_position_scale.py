"""Position-and-scale prediction on patch pairs with frozen backbones (SP evaluation 1).

Example (random init vs BYOL vs BYOL+SP on flowers128)::

    python tools/analysis/eval_position_scale.py ../shared/data/flowers128 \
        --checkpoints random work_dirs/byol/epoch_8.pth work_dirs/byol_sp/epoch_8.pth \
        --configs configs/byol/byol_resnet18_1xb32-coslr-8e_demo.py --names random BYOL BYOL+SP --out-dir work_dirs/eval

See mmspatial/evaluation/spatial_reasoning/position_scale.py for the protocol.
"""
from mmspatial.evaluation.spatial_reasoning.runners import position_scale_main

if __name__ == '__main__':
    position_scale_main()

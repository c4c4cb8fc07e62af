# ScatSimCLR (src/models/scatnet_simclr.py of vkinakh/scatsimclr): ScatNet encoder (J=2, L=16; the leaf
# config sets `depth`, the number of residual blocks, and `input_size`), the 2048-2048-128 projection and
# NT-Xent (T = 0.5). The data preprocessor comes from the dataset file (the Runner merges the top-level
# `data_preprocessor`). Reference behaviours kept as defaults: scattering BN built but not applied
# (`scat_norm=False`), one backbone forward per view (`batched_views=False`).
model = dict(
    type='ScatSimCLR',
    backbone=dict(type='ScatNet', depth=8, input_size=(32, 32), J=2, L=16),
    neck=dict(type='MoCoV2Neck', in_channels=2048, hid_channels=2048, out_channels=128,
              with_avg_pool=False),  # fc-relu-fc, no BN (reference l1/l2)
    loss=dict(type='NTXentLoss', temperature=0.5),
    pretext_weight=0.3,  # lambda, used when pretext_head is set (rotation / jigsaw)
    pretext_start=0)  # reference code: from the start; the paper: 40 (lambda = 0 for 40 epochs)

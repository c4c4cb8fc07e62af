# SCRL, ResNet-50, pretrained on the COCO train2017 images (118,287, labels unused):
#   python tools/train.py configs/scrl/scrl_r50_coco.py                     # 1 process
#   bash tools/dist_train.sh configs/scrl/scrl_r50_coco.py 8                 # 8 GPUs (the setting below)
# Data: data/coco/train2017/*.jpg and data/coco/annotations/instances_train2017.json (only its
# image list is read). Without them the run stops with a message saying so; try the embedded demo
# instead: python tools/train.py configs/scrl/scrl_resnet18_1xb32-coslr-3e_demo.py
#
# The reference (kakaobrain/scrl) pretrains on ImageNet only; this COCO recipe is mmspatial's. Model, views,
# box sampling, LARS groups and the AMP/SyncBN setup are the reference's (the _base_ files). The values set
# here start from the reference's 200-epoch recipe (scrl_200ep.yaml: 32 GPUs x 256 = 8192 images per step,
# base lr 0.45 per 256 images, wd 1e-6, tau_base 0.97, 10 warm-up epochs) and are derived below.
# Not reproduced: no result of this recipe exists yet (configs/scrl/README.md).
_base_ = [
    './_base_/scrl_r50.py',
    './_base_/scrl_coco_unlabeled.py',
    './_base_/scrl_lars_coslr.py',
    '../_base_/default_runtime.py',
]

# Batch: a choice, not derived: one 8-GPU node with 64 images per GPU = 512 per step (1/16 of the
# reference's 8192; the reference reports lower accuracy with fewer GPUs, so expect a gap). Every value
# below that depends on the batch is scaled from it.
num_gpus = 8
per_gpu_batch = 64
total_batch = num_gpus * per_gpu_batch  # 512
ref_batch = 8192
# Epochs: 800, DenseCL's COCO-only pretraining length (Wang et al., CVPR 2021; WXinlong/DenseCL
# configs/selfsup/densecl/densecl_coco_800ep.py), so that transfer results compare with a COCO-pretrained
# dense SSL baseline of the same length.
# 800 x 118,287 = 94.6M images (0.37x the reference's 200 x 1,281,167 = 256.2M), 231 steps per epoch,
# 184,800 steps (5.9x the reference's 31,200).
epochs = 800
# Warm-up: 10 epochs, as the reference (it sets the warm-up in epochs): 2,310 steps.
warmup_epochs = 10
train_dataloader = dict(batch_size=per_gpu_batch)
# tau_base: the EMA scaling rule for a batch scaled by k = 512 / 8192 = 1/16 keeps the target's averaging
# horizon in images: tau = 0.97 ** k = 0.99810 (Busbridge et al., "How to Scale Your EMA", NeurIPS 2023).
model = dict(base_tau=0.97**(total_batch / ref_batch))
# lr: the reference's linear scaling rule (optim/getters.py scaled_optim_kwargs): 0.45 * 512 / 256 = 0.9.
# The excluded (BN/bias) parameters' step is then lr^2 = 0.81 (torchlars, excluded_lr='squared').
# wd 1e-6: the reference's 200-epoch value, unscaled (it does not scale it with the batch either).
optim_wrapper = dict(optimizer=dict(lr=0.45 * total_batch / 256, weight_decay=1e-6))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-4, by_epoch=True, begin=0, end=warmup_epochs, convert_to_iter_based=True),
    dict(
        type='CosineAnnealingLR',
        T_max=epochs - warmup_epochs,
        eta_min=0.,
        by_epoch=True,
        begin=warmup_epochs,
        end=epochs,
        convert_to_iter_based=True),
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=epochs)
# Checkpoints every 20 epochs (the reference's snapshot_interval: 20), the last 3 kept.
default_hooks = dict(checkpoint=dict(interval=20, max_keep_ckpts=3))
# `--auto-scale-lr` rescales lr linearly from this batch (tau_base is not rescaled: set model.base_tau).
auto_scale_lr = dict(base_batch_size=total_batch)

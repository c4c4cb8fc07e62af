# SCRL, ResNet-50, ImageNet-1k, 1000 epochs: kakaobrain/scrl config/scrl_1000ep.yaml.
# 32 GPUs x 256 = 8192 images per step (4 V100 x 8 nodes in the reference), base lr 0.2 per 256
# images, weight decay 1.5e-6, tau_base 0.996 (the official BYOL hyperparameters, which the SCRL README
# says differ from the paper). Reference: COCO Faster R-CNN AP 40.92, Mask R-CNN 41.40 / 37.92.
_base_ = [
    './_base_/scrl_r50.py',
    './_base_/scrl_imagenet.py',
    './_base_/scrl_lars_coslr.py',
    '../_base_/default_runtime.py',
]

num_gpus = 32
per_gpu_batch = 256
epochs = 1000
warmup_epochs = 10
train_dataloader = dict(batch_size=per_gpu_batch)
model = dict(base_tau=0.996)
# the excluded (BN/bias) parameters step with lr^2 = 40.96 at the peak (torchlars; configs/scrl/README.md)
optim_wrapper = dict(optimizer=dict(lr=0.2 * num_gpus * per_gpu_batch / 256, weight_decay=1.5e-6))  # lr 6.4
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
default_hooks = dict(checkpoint=dict(interval=50, max_keep_ckpts=3))
# `tools/train.py ... --auto-scale-lr` rescales lr linearly for another total batch size.
auto_scale_lr = dict(base_batch_size=num_gpus * per_gpu_batch)

# SCRL, ResNet-50, ImageNet-1k, 200 epochs: kakaobrain/scrl config/scrl_200ep.yaml.
# 32 GPUs x 256 = 8192 images per step (4 V100 x 8 nodes in the reference), base lr 0.45 per 256
# images, weight decay 1e-6, tau_base 0.97. Reference result: COCO Faster R-CNN R50-FPN 1x AP 40.49,
# Mask R-CNN 41.02 box / 37.50 mask (configs/scrl/README.md).
_base_ = [
    './_base_/scrl_r50.py',
    './_base_/scrl_imagenet.py',
    './_base_/scrl_lars_coslr.py',
    '../_base_/default_runtime.py',
]

num_gpus = 32
per_gpu_batch = 256
epochs = 200
warmup_epochs = 10
train_dataloader = dict(batch_size=per_gpu_batch)
model = dict(base_tau=0.97)
# the excluded (BN/bias) parameters step with lr^2 = 207.36 at the peak (torchlars; configs/scrl/README.md)
optim_wrapper = dict(optimizer=dict(lr=0.45 * num_gpus * per_gpu_batch / 256, weight_decay=1e-6))  # lr 14.4
warmup_scheduler = dict(
    type='LinearLR', start_factor=1e-4, by_epoch=True, begin=0, end=warmup_epochs, convert_to_iter_based=True)
cosine_scheduler = dict(
    type='CosineAnnealingLR',
    T_max=epochs - warmup_epochs,
    eta_min=0.,
    by_epoch=True,
    begin=warmup_epochs,
    end=epochs,
    convert_to_iter_based=True)
param_scheduler = [warmup_scheduler, cosine_scheduler]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=epochs)
default_hooks = dict(checkpoint=dict(interval=10, max_keep_ckpts=3))
# `tools/train.py ... --auto-scale-lr` rescales lr linearly for another total batch size.
auto_scale_lr = dict(base_batch_size=num_gpus * per_gpu_batch)

# SCRL, ResNet-50, pretrained on the COCO train2017 images (118k, labels unused):
#   python tools/train.py configs/scrl/scrl_r50_coco.py                     # 1 process
#   bash tools/dist_train.sh configs/scrl/scrl_r50_coco.py 8                 # 8 GPUs (the setting below)
# Data: data/coco/train2017/*.jpg and data/coco/annotations/instances_train2017.json (only its
# image list is read). Without them the run stops with a message saying so; try the embedded demo
# instead: python tools/train.py configs/scrl/scrl_r18_demo.py
#
# The reference (kakaobrain/scrl) pretrains on ImageNet only; this COCO setting is mmspatial's: the
# reference's model, views, box sampling and LARS recipe, 8 GPUs x 64 = 512 images per step, base lr
# 0.45 per 256, and a longer schedule (COCO is ~10x smaller than ImageNet) with tau_base 0.99 since
# there are more, smaller steps than in the reference's 200-epoch ImageNet run.
_base_ = [
    './_base_/scrl_r50.py',
    './_base_/scrl_coco_unlabeled.py',
    './_base_/scrl_lars_coslr.py',
    '../_base_/default_runtime.py',
]

num_gpus = 8
per_gpu_batch = 64
epochs = 800
warmup_epochs = 10
train_dataloader = dict(batch_size=per_gpu_batch)
model = dict(base_tau=0.99)
optim_wrapper = dict(optimizer=dict(lr=0.45 * num_gpus * per_gpu_batch / 256, weight_decay=1e-6))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-4, by_epoch=True, begin=0, end=warmup_epochs,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=epochs - warmup_epochs, eta_min=0., by_epoch=True,
         begin=warmup_epochs, end=epochs, convert_to_iter_based=True),
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=epochs)
default_hooks = dict(checkpoint=dict(interval=20, max_keep_ckpts=3))
auto_scale_lr = dict(base_batch_size=num_gpus * per_gpu_batch)

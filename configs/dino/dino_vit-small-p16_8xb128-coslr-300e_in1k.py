# DINO ViT-S/16 on ImageNet-1k with SelfPatch's training budget (8 GPUs x 128 = 1024 images, 300
# epochs, lr 5e-4 x 1024 / 256 = 2e-3), DINO's own crop scales: the baseline to compare with
# configs/selfpatch/selfpatch_vit-small-p16_8xb128-coslr-300e_in1k.py. (SelfPatch's paper compares with
# VISSL's DINO checkpoint instead; see configs/dino/README.md.)
_base_ = ['./dino_vit-small-p16_8xb64-coslr-100e_in1k.py']

num_gpus, per_gpu_batch, epochs, warmup_epochs = 8, 128, 300, 10
train_dataloader = dict(batch_size=per_gpu_batch)
optim_wrapper = dict(optimizer=dict(lr=5e-4 * num_gpus * per_gpu_batch / 256))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6, by_epoch=True, begin=0, end=warmup_epochs,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=1e-6, by_epoch=True, begin=warmup_epochs, end=epochs,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingParamScheduler', param_name='weight_decay', eta_min_ratio=10.0,
         by_epoch=True, begin=0, end=epochs, convert_to_iter_based=True),
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=epochs)
auto_scale_lr = dict(base_batch_size=num_gpus * per_gpu_batch)

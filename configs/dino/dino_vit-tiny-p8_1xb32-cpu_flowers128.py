# DINO for the CPU-budget learning evidence on ../shared/data/flowers128 (benchmarks/learning/run.py), not
# a reproduction: the ViT-tiny/8 demo model (64-px global, 32-px local crops) on the flower photos, batch
# 32, iteration-based: AdamW lr 5e-4 (DINO's base lr, unscaled: a few hundred steps at 6e-5 barely move),
# 20-iteration warm-up then constant, weight decay 0.04 constant, last layer frozen for 20 iterations,
# teacher momentum 0.99 (0.996 is for runs of thousands of steps).
_base_ = ['./dino_vit-tiny-p8_1xb32-coslr-10e_demo.py']
data_root = '{{$FLOWERS128_ROOT:../shared/data/flowers128/}}'
train_dataloader = dict(
    num_workers=1,
    dataset=dict(
        _delete_=True,
        type='CustomDataset',
        data_root=data_root,
        with_label=False,
        pipeline=[dict(type='LoadImageFromFile'), *_base_.train_pipeline]))
optim_wrapper = dict(optimizer=dict(lr=5e-4))
warmup_iters = 20
max_iters = 400
param_scheduler = [dict(type='LinearLR', start_factor=1e-2, by_epoch=False, begin=0, end=warmup_iters)]
train_cfg = dict(_delete_=True, type='IterBasedTrainLoop', max_iters=max_iters)
custom_hooks = [
    dict(type='DINOTeacherTempHook', warmup_teacher_temp=0.04, teacher_temp=0.04, warmup_epochs=0),
    dict(type='DINOTeacherMomentumHook', base_momentum=0.99, end_momentum=0.99),
    dict(type='DINOFreezeLastLayerHook', freeze_iters=warmup_iters),
    dict(type='PerParamGradClipHook', max_norm=3.0),
]
default_hooks = dict(
    logger=dict(interval=20), checkpoint=dict(by_epoch=False, interval=100000, save_last=True, max_keep_ckpts=1))
log_processor = dict(by_epoch=False)

# DINO's optimisation (main_dino.py train_dino / train_one_epoch, utils.py), shared by SelfPatch, 100 epochs:
# * AdamW; parameter groups as get_params_groups (no weight decay on biases and 1-D parameters);
# * lr: linear warm-up over 10 epochs (from 1e-6 x lr: mmengine's LinearLR needs a positive start),
#   then cosine to 1e-6; the including config sets lr = 5e-4 x total batch / 256 (and auto_scale_lr);
# * weight decay cosine 0.04 -> 0.4 over the whole run (eta_min_ratio=10 keeps the no-decay group at 0);
# * per-parameter gradient clipping to norm 3.0 (utils.clip_gradients; mmengine's clip_grad would clip
#   the global norm instead, hence clip_grad=None and PerParamGradClipHook);
# * last layer of the projection heads frozen during the first epoch;
# * teacher = EMA of the student after every step, momentum cosine 0.996 -> 1 (the model refuses to
#   train without DINOTeacherMomentumHook);
# * teacher temperature 0.04 (main_dino.py default: warm-up 0.04 -> 0.04 over 0 epochs).
# Other lengths inherit this file and restate only warmup_epochs/epochs in param_scheduler (dino_adamw-coslr-300e.py,
# dino_adamw-coslr-10e_demo.py); from the command line set train_cfg.max_epochs and the `end` of param_scheduler.1
# and .2 to the same number.
# The reference trains in fp16 by default: add --amp to tools/train.py for mixed precision.
optim_wrapper = dict(
    type='OptimWrapper',
    constructor='DINOParamGroupsConstructor',
    optimizer=dict(type='AdamW', lr=5e-4, weight_decay=0.04, foreach=True),  # multi-tensor on CPU too
    clip_grad=None)
warmup_epochs, epochs = 10, 100
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6, by_epoch=True, begin=0, end=warmup_epochs, convert_to_iter_based=True),
    dict(
        type='CosineAnnealingLR',
        eta_min=1e-6,
        by_epoch=True,
        begin=warmup_epochs,
        end=epochs,
        convert_to_iter_based=True),
    dict(
        type='CosineAnnealingParamScheduler',
        param_name='weight_decay',
        eta_min_ratio=10.0,
        by_epoch=True,
        begin=0,
        end=epochs,
        convert_to_iter_based=True),
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=epochs)
custom_hooks = [
    dict(type='DINOTeacherTempHook', warmup_teacher_temp=0.04, teacher_temp=0.04, warmup_epochs=0),
    dict(type='DINOTeacherMomentumHook', base_momentum=0.996, end_momentum=1.0),
    dict(type='DINOFreezeLastLayerHook', freeze_epochs=1),
    dict(type='PerParamGradClipHook', max_norm=3.0),
]

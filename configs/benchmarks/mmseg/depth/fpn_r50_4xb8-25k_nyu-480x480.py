# Depth estimation on NYU-Depth-v2 with a ResNet-50 from our checkpoints: mmseg's DepthEstimator, FPN neck and
# DepthFPNHead (mmspatial/models/heads/depth_fpn_head.py: the Semantic FPN decoder of our ADE20K configs with a
# one-channel sigmoid * max_depth output as mmseg's VPDDepthHead, whose decoder is wired to VPD's UNet pyramid),
# SiLogLoss, NYUDataset, DepthMetric (d1 d2 d3 abs_rel sq_rel rmse rmse_log log10 silog).
# From mmseg 1.2.2 configs/vpd/vpd_sd_4xb8-25k_nyu-480x480.py: 4 GPUs x 8 images, 480x480 random crops,
# 25k iterations, schedule_25k (AdamW lr 1e-3 wd 0.1, linear warm-up 12k then poly), bias_decay_mult 0,
# slide_flip test (480 crops, stride 160), max_depth 10, keep the best rmse. Data: _base_/datasets/nyu.py
# (depth PNGs in mm, depth_rescale_factor 1e-3; eval in (1e-3, 10) m inside the NYU crop [45:471, 41:601]).
# Ours, not tuned: backbone lr_mult 0.1 (VPD's frozen-ish UNet has 0.01); PhotoMetricDistortion instead of
# nyu.py's Albu colour jitter (albumentations is not a dependency of mmspatial).
# Checkpoint: MMSPATIAL_PRETRAINED=PATH or --cfg-options model.backbone.init_cfg.checkpoint=PATH; a backbone-only
# checkpoint (tools/model_converters/extract_backbone.py) or add init_cfg.prefix='backbone.' for a full one.
# CheckpointCoverageHook stops a run whose backbone is not fully covered by the checkpoint.
_base_ = [
    'mmseg::_base_/models/fpn_r50.py', 'mmseg::_base_/datasets/nyu.py', 'mmseg::_base_/default_runtime.py',
    'mmseg::_base_/schedules/schedule_25k.py'
]
custom_imports = dict(imports=['mmspatial'], allow_failed_imports=False)

pretrained = '{{$MMSPATIAL_PRETRAINED:MMSPATIAL_PRETRAINED-is-not-set.pth}}'
crop_size = (480, 480)
max_depth = 10.0
norm_cfg = dict(type='SyncBN', requires_grad=True)
data_preprocessor = dict(size=crop_size, seg_pad_val=0)  # padded depth = 0 = invalid (SiLogLoss, DepthMetric)
model = dict(
    type='DepthEstimator',
    data_preprocessor=data_preprocessor,
    pretrained=None,
    # mmseg's plain ResNet (not the deep-stem ResNetV1c of fpn_r50.py), as our ADE20K configs
    backbone=dict(type='ResNet', init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    decode_head=dict(
        _delete_=True,
        type='DepthFPNHead',
        in_channels=[256, 256, 256, 256],
        in_index=[0, 1, 2, 3],
        feature_strides=[4, 8, 16, 32],
        channels=128,
        dropout_ratio=0.1,
        norm_cfg=norm_cfg,
        align_corners=False,
        max_depth=max_depth,
        loss_decode=dict(type='SiLogLoss')),
    test_cfg=dict(mode='slide_flip', crop_size=crop_size, stride=(160, 160)))

meta_keys = ('img_path', 'depth_map_path', 'ori_shape', 'img_shape', 'pad_shape', 'scale_factor', 'flip',
             'flip_direction', 'category_id')  # _base_/datasets/nyu.py's
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadDepthAnnotation', depth_rescale_factor=1e-3),
    dict(type='RandomDepthMix', prob=0.25),
    dict(type='RandomFlip', prob=0.5),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs', meta_keys=meta_keys),
]
train_dataloader = dict(batch_size=8, dataset=dict(pipeline=train_pipeline), collate_fn=dict(type='pseudo_collate'))
val_dataloader = dict(collate_fn=dict(type='pseudo_collate'))
test_dataloader = val_dataloader

optim_wrapper = dict(paramwise_cfg=dict(bias_decay_mult=0., custom_keys={'backbone': dict(lr_mult=0.1)}))
auto_scale_lr = dict(enable=False, base_batch_size=32)
default_hooks = dict(checkpoint=dict(save_best='rmse', rule='less', max_keep_ckpts=1))

custom_hooks = [dict(type='CheckpointCoverageHook')]

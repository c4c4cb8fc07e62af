# Spatial Prediction (SP) settings shared by every configs/sp/*.py (our defaults: docs/sp_design.md).
# A config adds SP to a host by inheriting the host's config and this file, then
#   model = dict(_delete_=True, type='SpatialPrediction', host=_base_.model, sp_head=_base_.sp_head,
#                sp_weight=_base_.sp_weight)
# and by inserting `sp_views` right after image loading and packing `sp_keys` (see byol_sp_*.py).
sp_view_size = 96  # DINO's local-crop size
sp_views = dict(
    type='SpatialPredictionViews',
    num_pairs=1,  # K pairs of local views per image
    scale=sp_view_size,
    crop_ratio_range=(0.05, 0.4),  # DINO's local-crop area range
    aspect_ratio_range=(3. / 4., 4. / 3.),
    interpolation='bicubic',
    flip_prob=0.,  # a flip changes what "left" means
    max_iou=None,  # 0.0 = non-overlapping pairs
    pipeline=None)  # None: DINO's local-crop photometric augmentation (colour jitter, grey, blur)
sp_keys = ['sp_imgs', 'sp_boxes', 'sp_flips', 'sp_img_shape']
sp_head = dict(
    type='SpatialPredictionHead',
    hid_channels=512,
    num_layers=2,
    fusion=('concat', ),  # options: add 'diff' (e1 - e2), 'prod' (e1 * e2)
    norm_cfg=dict(type='BN1d'),
    offset_norm='image',  # or 'view1'
    symmetric=False,
    loss=dict(type='SpatialRegressionLoss', mode='smooth_l1', beta=1.0))
sp_weight = 1.0  # lambda

# COCO train2017 images as unlabeled data (the image list of instances_train2017.json; no labels
# used) with the SCRL views. Expected layout: data/coco/train2017/*.jpg and
# data/coco/annotations/instances_train2017.json.
_base_ = ['./scrl_views.py']
train_dataloader = dict(
    batch_size=64,
    num_workers=8,
    persistent_workers=True,
    pin_memory=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    drop_last=True,
    dataset=dict(
        type='UnlabeledImages',
        data_root='data/coco/',
        ann_file='annotations/instances_train2017.json',
        data_prefix='train2017',
        pipeline={{_base_.train_pipeline}}))

# COCO train2017 images as unlabeled data (the image list of instances_train2017.json; no labels used)
# with DINO's multi-crop augmentation (see imagenet_dino_multicrop.py). Expected layout:
# data/coco/train2017/*.jpg and data/coco/annotations/instances_train2017.json.
_base_ = ['./imagenet_dino_multicrop.py']
train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='UnlabeledImages',
        data_root='data/coco/',
        ann_file='annotations/instances_train2017.json',
        data_prefix='train2017',
        pipeline={{_base_.train_pipeline}}))

# SelfPatch ViT-S/16 on COCO train2017 images (118k, labels unused: the image list of
# instances_train2017.json), otherwise selfpatch_vit-small-p16_8xb128-coslr-300e_in1k.py unchanged
# (8 x 128, 300 epochs = about 34.6k iterations). Pre-training on COCO is our addition: the reference
# pre-trains on ImageNet only. Expected layout: data/coco/train2017/*.jpg,
# data/coco/annotations/instances_train2017.json.
_base_ = ['./selfpatch_vit-small-p16_8xb128-coslr-300e_in1k.py']

train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='UnlabeledImages',
        data_root='data/coco/',
        ann_file='annotations/instances_train2017.json',
        data_prefix='train2017',
        pipeline={{_base_.train_pipeline}}))

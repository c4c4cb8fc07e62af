# DINO ViT-S/16 on COCO train2017 images (118k, labels unused: the image list of instances_train2017.json),
# otherwise dino_vit-small-p16_8xb64-coslr-100e_in1k.py unchanged (main_dino.py's defaults: 8 GPUs x 64,
# 100 epochs = about 23k iterations). The epoch count for COCO is our choice: neither DINO nor SelfPatch
# pre-trains on COCO. Expected layout: data/coco/train2017/*.jpg, data/coco/annotations/instances_train2017.json.
_base_ = ['./dino_vit-small-p16_8xb64-coslr-100e_in1k.py']

train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='UnlabeledImages',
        data_root='data/coco/',
        ann_file='annotations/instances_train2017.json',
        data_prefix='train2017',
        pipeline={{_base_.train_pipeline}}))

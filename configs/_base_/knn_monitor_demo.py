# Online weighted-kNN monitor (k=20, T=0.07) for the demo runs on the embedded SyntheticScenes.
# Inherit it after the dataset/runtime bases:  _base_ = [..., '../_base_/knn_monitor_demo.py']
# Labels: the shape of the largest object (4 classes). The bank and the queries are scenes rendered
# with other seeds than the pretraining set (seed 0), resized whole (no augmentation) to the pretraining
# view size. Scalars knn/top1, knn/top5, knn/time go to the text log, vis_data/scalars.json and
# TensorBoard. 64 px suits every demo backbone (CNNs pool globally; mmpretrain's ViT resizes its
# position embeddings); a config needing another size overrides `custom_hooks` with its own pipeline.
knn_img_size = 64
knn_pipeline = [
    dict(type='ResizeWithBox', scale=knn_img_size, interpolation='bicubic', backend='pillow'),
    dict(type='PackInputs'),
]
knn_monitor = dict(
    type='KNNMonitorHook',
    interval=2,  # epochs; SCRL demo (8 epochs, quiet 2-core CPU): 5 evaluations, 8.6 s of a 109 s run
    before_train=True,  # the random-init point of the curve
    branch='online',  # or 'target' for the EMA / teacher backbone
    k=20,
    temperature=0.07,
    train_dataloader=dict(
        batch_size=64,
        num_workers=0,
        dataset=dict(type='SyntheticScenes', num_images=256, img_size=(96, 128), seed=1, pipeline=knn_pipeline)),
    val_dataloader=dict(
        batch_size=64,
        num_workers=0,
        dataset=dict(type='SyntheticScenes', num_images=128, img_size=(96, 128), seed=2, pipeline=knn_pipeline)))
custom_hooks = [knn_monitor]

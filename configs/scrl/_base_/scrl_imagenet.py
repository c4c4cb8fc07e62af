# ImageNet-1k train images (labels unused) with the SCRL views; 256 images per GPU as the reference.
_base_ = ['./scrl_views.py']
train_dataloader = dict(
    batch_size=256,
    num_workers=8,
    persistent_workers=True,
    pin_memory=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    drop_last=True,
    dataset=dict(type='ImageNet', data_root='data/imagenet/', split='train', pipeline={{_base_.train_pipeline}}))

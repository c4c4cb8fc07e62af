# Small CPU runs on ../shared/data/cifar10_subset (10k train images, labels unused) for the evidence table
# of README.md and for the tests (which shrink it further). Not a reproduction setting.
_base_ = ['./scatsimclr8_1xb64-100e_cifar10.py']
train_dataloader = dict(
    num_workers=2,
    dataset=dict(_delete_=True, type='NpzImageDataset',
                 ann_file='../shared/data/cifar10_subset/cifar10_subset.npz', split='train',
                 with_label=False, pipeline={{_base_.train_pipeline}}))
max_iters = 600
train_cfg = dict(_delete_=True, type='IterBasedTrainLoop', max_iters=max_iters)
param_scheduler = [dict(type='ConstantLR', factor=1.0, by_epoch=False, begin=0, end=1)]
default_hooks = dict(logger=dict(interval=20),
                     checkpoint=dict(by_epoch=False, interval=max_iters, max_keep_ckpts=1))
log_processor = dict(by_epoch=False)  # iteration-based: log 'Iter(train) [i/max]', not '[1][i/156]'
randomness = dict(seed=0)

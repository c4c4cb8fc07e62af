# ScatSimCLR-8 + rotation regulariser for the small CPU runs on cifar10_subset (and the tests).
_base_ = ['./scatsimclr_scatnet8_1xb64-cpu_cifar10-subset.py']
model = dict(pretext_head=dict(type='RotationHead'))
train_dataloader = dict(dataset=dict(pipeline={{_base_.rotation_train_pipeline}}))

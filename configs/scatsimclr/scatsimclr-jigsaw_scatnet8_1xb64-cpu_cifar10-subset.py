# ScatSimCLR-8 + jigsaw regulariser for the small CPU runs on cifar10_subset (and the tests).
_base_ = ['./scatsimclr_scatnet8_1xb64-cpu_cifar10-subset.py']
model = dict(pretext_head=dict(type='JigsawHead'), raw_pretext_inputs=True)
train_dataloader = dict(dataset=dict(pipeline={{_base_.jigsaw_train_pipeline}}))

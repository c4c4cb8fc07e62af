# SimCLR ResNet-18 + jigsaw regulariser on STL-10 (paper Table 3, last row).
_base_ = ['./simclr_resnet18_1xb64-100e_stl10.py']
model = dict(pretext_head=dict(type='JigsawHead', in_channels=512), raw_pretext_inputs=True)
train_dataloader = dict(dataset=dict(pipeline={{_base_.jigsaw_train_pipeline}}))

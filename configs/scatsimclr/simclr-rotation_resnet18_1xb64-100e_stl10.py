# SimCLR ResNet-18 + rotation regulariser on STL-10 (paper Table 3, last row).
_base_ = ['./simclr_resnet18_1xb64-100e_stl10.py']
model = dict(pretext_head=dict(type='RotationHead', in_channels=512))
train_dataloader = dict(dataset=dict(pipeline={{_base_.rotation_train_pipeline}}))

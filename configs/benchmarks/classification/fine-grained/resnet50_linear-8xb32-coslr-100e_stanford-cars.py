# Linear probe of a self-supervised ResNet-50 on Stanford Cars: the ImageNet linear protocol of
# ../resnet50_linear-8xb32-coslr-100e_in1k.py (settings and sources there)
# on the data of ./_base_/datasets/stanford-cars.py.
_base_ = ['../resnet50_linear-8xb32-coslr-100e_in1k.py', './_base_/datasets/stanford-cars.py']

model = dict(head=dict(num_classes=_base_.fg_num_classes))
data_preprocessor = dict(num_classes=_base_.fg_num_classes)
train_dataloader = dict(dataset=dict(_base_.fg_train_dataset, _delete_=True, pipeline=_base_.train_pipeline))
val_dataloader = dict(dataset=dict(_base_.fg_test_dataset, _delete_=True, pipeline=_base_.test_pipeline))
test_dataloader = val_dataloader

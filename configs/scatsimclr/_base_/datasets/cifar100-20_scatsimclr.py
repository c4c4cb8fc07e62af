# CIFAR-100 with its 20 superclasses ("CIFAR100-20"), 32 px as the released CIFAR20 model.
_base_ = ['./cifar10_scatsimclr.py']
dataset_type = 'CIFAR100_20'
data_root = 'data/cifar100/'
train_dataloader = dict(dataset=dict(dataset=dict(type=dataset_type, data_root=data_root)))

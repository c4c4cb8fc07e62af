# ScatSimCLR-8 on cifar100-20 (32 px), contrastive loss only (paper Table 3; see README.md here).
_base_ = ['./_base_/cifar100-20_scatsimclr.py', './_base_/scatsimclr_model.py', './_base_/adam_100e.py',
          '../_base_/default_runtime.py']
model = dict(backbone=dict(depth=8, input_size=(32, 32)))
default_hooks = dict(checkpoint=dict(interval=10, max_keep_ckpts=3))

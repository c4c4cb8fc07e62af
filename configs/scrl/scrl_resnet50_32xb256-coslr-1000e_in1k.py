# SCRL, ResNet-50, ImageNet-1k, 1000 epochs: kakaobrain/scrl config/scrl_1000ep.yaml. Everything else (32 GPUs x
# 256 images, 10 warm-up epochs, data, optimiser) is the 200-epoch config's. Base lr 0.2 per 256 images, weight
# decay 1.5e-6, tau_base 0.996 (the official BYOL hyperparameters, which the SCRL README says differ from the
# paper). Reference: COCO Faster R-CNN AP 40.92, Mask R-CNN 41.40 / 37.92.
_base_ = ['./scrl_resnet50_32xb256-coslr-200e_in1k.py']

epochs = 1000
model = dict(base_tau=0.996)
# the excluded (BN/bias) parameters step with lr^2 = 40.96 at the peak (torchlars; configs/scrl/README.md)
optim_wrapper = dict(optimizer=dict(lr=0.2 * 8192 / 256, weight_decay=1.5e-6))  # lr 6.4
# the base's warm-up, then a cosine over the longer schedule (a list replaces the base's whole list)
param_scheduler = [
    {{_base_.warmup_scheduler}},
    dict(
        type='CosineAnnealingLR',
        T_max=epochs - 10,
        eta_min=0.,
        by_epoch=True,
        begin=10,
        end=epochs,
        convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=epochs)
default_hooks = dict(checkpoint=dict(interval=50))

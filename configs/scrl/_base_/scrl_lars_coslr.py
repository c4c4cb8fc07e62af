# Optimisation of kakaobrain/scrl (optim/getters.py, optim/optim.py, optim/scheduler.py): torchlars' LARS
# (trust coefficient 1e-3, eps 1e-8) around SGD with momentum 0.9, lr = base_lr * batch / 256, a linear
# warm-up for 10 epochs then a cosine to 0, both stepped per iteration, under AMP (autocast + GradScaler).
# Top-level configs set lr, weight_decay, the epochs and the schedule.
#
# Parameter groups as in the reference's bisect_params_with_names: a parameter whose *reference* name
# contains 'bn' or 'bias' gets no LARS adaptation and no weight decay, all others both. The rule looks at
# the reference's names, so `rename` maps the three modules whose names differ in that respect: our stem
# BN `backbone.bn1` is torchvision's `encoder.1` (its weight is adapted and decayed, its bias is not), the
# head BNs `neck.bn0` / `head.predictor.bn0` are `projector.net.1` / `net.1`. Residual-block BNs (`bn1..3`)
# are excluded and shortcut BNs (`downsample.1`) adapted in both code bases.
# excluded_lr='squared': torchlars scales the excluded parameters' gradient by lr and SGD scales it again,
# so their step is lr^2 * grad (207 at lr 14.4); configs/scrl/README.md explains it; 'linear' gives lr * grad.
optim_wrapper = dict(
    type='AmpOptimWrapper',
    loss_scale='dynamic',  # torch.cuda.amp.GradScaler() defaults, as the reference
    constructor='LARSParamGroupsConstructor',
    optimizer=dict(
        type='TorchLARS', lr=0.45, momentum=0.9, weight_decay=1e-6, trust_coef=1e-3, eps=1e-8, excluded_lr='squared'),
    paramwise_cfg=dict(
        exclude_keywords=('bn', 'bias'),
        rename={
            'backbone.bn1.': 'encoder.1.',
            'neck.bn0.': 'projector.net.1.',
            'head.predictor.bn0.': 'net.1.'
        }))

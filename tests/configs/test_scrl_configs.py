"""The full-scale SCRL configs carry the reference recipe (kakaobrain/scrl config/scrl_{200,1000}ep.yaml)
and, for COCO, the values derived in scrl_r50_coco.py."""
from pathlib import Path

import pytest
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmpretrain.registry import MODELS

import mmspatial  # noqa: F401

ROOT = Path(__file__).resolve().parents[2]
# config: (per-GPU batch, total batch, base lr per 256, weight decay, tau_base, epochs, dataset, ckpt interval)
CONFIGS = {
    'scrl_resnet50_32xb256-coslr-200e_in1k.py': (256, 8192, 0.45, 1e-6, 0.97, 200, 'ImageNet', 10),
    'scrl_resnet50_32xb256-coslr-1000e_in1k.py': (256, 8192, 0.2, 1.5e-6, 0.996, 1000, 'ImageNet', 50),
    # COCO: 8 x 64; tau = 0.97 ** (512 / 8192) (EMA scaling rule), 800 epochs (DenseCL's COCO length)
    'scrl_r50_coco.py': (64, 512, 0.45, 1e-6, 0.97**(1 / 16), 800, 'UnlabeledImages', 20),
}


def load(name: str) -> Config:
    return Config.fromfile(str(ROOT / 'configs' / 'scrl' / name))


@pytest.mark.parametrize('name', sorted(CONFIGS))
def test_recipe_values(name):
    batch, total, base_lr, wd, tau, epochs, dataset, interval = CONFIGS[name]
    cfg = load(name)
    loader = cfg.train_dataloader
    assert loader.batch_size == batch and loader.dataset.type == dataset and loader.drop_last
    assert cfg.auto_scale_lr.base_batch_size == total
    # optimiser: torchlars LARS over SGD, the reference's two groups, AMP with a dynamic loss scale
    wrapper = cfg.optim_wrapper
    assert (wrapper.type, wrapper.loss_scale, wrapper.constructor) == ('AmpOptimWrapper', 'dynamic',
                                                                       'LARSParamGroupsConstructor')
    opt = wrapper.optimizer
    assert opt.type == 'TorchLARS' and opt.lr == pytest.approx(base_lr * total / 256)
    assert (opt.momentum, opt.weight_decay, opt.trust_coef, opt.eps, opt.excluded_lr) == (0.9, wd, 1e-3, 1e-8,
                                                                                          'squared')
    assert tuple(wrapper.paramwise_cfg.exclude_keywords) == ('bn', 'bias')
    assert dict(wrapper.paramwise_cfg.rename) == {
        'backbone.bn1.': 'encoder.1.',
        'neck.bn0.': 'projector.net.1.',
        'head.predictor.bn0.': 'net.1.'
    }
    # schedule: 10 warm-up epochs, then cosine to 0, per iteration
    warmup, cosine = cfg.param_scheduler
    assert (warmup.type, warmup.begin, warmup.end, warmup.start_factor) == ('LinearLR', 0, 10, 1e-4)
    assert (cosine.type, cosine.begin, cosine.end, cosine.T_max, cosine.eta_min) == ('CosineAnnealingLR', 10, epochs,
                                                                                     epochs - 10, 0.)
    assert warmup.convert_to_iter_based and cosine.convert_to_iter_based
    assert cfg.train_cfg.max_epochs == epochs and cfg.default_hooks.checkpoint.interval == interval
    # model: ResNet-50 (SyncBN, no zero-init residual), heads 2048-4096-256 / 256-4096-256, 2 - 2cos
    model = cfg.model
    assert model.type == 'SCRL' and model.target_init == 'random' and model.image_loss_weight == 0.
    assert model.base_tau == pytest.approx(tau)
    assert (model.backbone.depth, model.backbone.norm_cfg.type, model.backbone.zero_init_residual) == (50, 'SyncBN',
                                                                                                       False)
    neck, pred = model.neck, model.head.predictor
    assert (neck.in_channels, neck.hid_channels, neck.out_channels) == (2048, 4096, 256)
    assert (pred.in_channels, pred.hid_channels, pred.out_channels) == (256, 4096, 256)
    for head in (neck, pred):
        assert head.num_layers == 2 and head.with_bias and not head.with_last_bn
    assert (model.head.loss.shift_factor, model.head.loss.scale_factor) == (2., 2.)
    box = model.box_generator
    assert (box.num_boxes, box.min_size, box.iou_threshold, box.max_tries, box.grid_based,
            box.on_failure) == (10, 32, 0.5, 50, True, 'keep_last')
    assert dict(model.roi_align_cfg) == dict(output_size=1, spatial_scale=1 / 32, sampling_ratio=-1, aligned=False)
    # views: BYOL's asymmetric augmentation with SCRL's crop scale and the down-up resize blur
    multiview = [t for t in loader.dataset.pipeline if t.type == 'MultiViewWithGeometry'][0]
    for view, blur, solarize in zip(multiview.transforms, (1., 0.1), (0., 0.2)):
        crop, flip, jitter, gray, resize_blur, sol = view
        assert (crop.scale, tuple(crop.crop_ratio_range), crop.interpolation) == (224, (0.2, 1.), 'bicubic')
        assert flip.prob == 0.5 and jitter.prob == 0.8 and gray.prob == 0.2
        cj = jitter.transforms[0]
        assert (cj.type, cj.brightness, cj.contrast, cj.saturation, cj.hue) == ('SafeHueColorJitter', 0.4, 0.4, 0.2,
                                                                                0.1)
        assert resize_blur.prob == blur and sol.prob == solarize


def test_reference_groups_on_the_config_model():
    """The 200-epoch config's model and optimiser: 2 groups; the stem BN weight is adapted and decayed."""
    cfg = load('scrl_resnet50_32xb256-coslr-200e_in1k.py')
    model = MODELS.build(cfg.model)
    wrapper_cfg = cfg.optim_wrapper.to_dict()
    wrapper_cfg.update(type='OptimWrapper')  # AmpOptimWrapper needs a GPU; the groups do not depend on it
    wrapper_cfg.pop('loss_scale')
    adapted, excluded = build_optim_wrapper(model, wrapper_cfg).optimizer.param_groups
    names = {id(p): n for n, p in model.named_parameters()}
    adapted_names = {names[id(p)] for p in adapted['params']}
    excluded_names = {names[id(p)] for p in excluded['params']}
    assert 'backbone.bn1.weight' in adapted_names and 'backbone.bn1.bias' in excluded_names
    assert {'neck.bn0.weight', 'head.predictor.bn0.weight'} <= adapted_names
    assert all('bias' in n or '.bn' in n for n in excluded_names)
    # ResNet-50: 53 convs, 53 BNs (stem, 16 blocks x 3, 4 shortcuts); heads fc0, bn0, fc1 (no bias).
    # excluded: the 48 block BN weights, 53 BN biases, fc0/bn0 biases of both heads = 105;
    # adapted: 53 conv weights, stem and 4 shortcut BN weights, fc0/bn0/fc1 weights of both heads = 64
    assert (len(adapted_names), len(excluded_names)) == (64, 105)
    block_bn_weights = {n for n in excluded_names if n.startswith('backbone.layer') and n.endswith('weight')}
    assert len(block_bn_weights) == 48 and all('.bn' in n for n in block_bn_weights)
    assert adapted['weight_decay'] == 1e-6 and excluded['weight_decay'] == 0.
    assert len(adapted_names) + len(excluded_names) == sum(p.requires_grad for p in model.parameters())


def test_every_full_scale_scrl_config_is_pinned():
    full_scale = {
        p.name
        for p in (ROOT / 'configs' / 'scrl').glob('*.py') if '_demo' not in p.name and '-cpu_' not in p.name
    }
    assert full_scale == set(CONFIGS)


def _builds_scrl(model) -> bool:
    return model.get('type') == 'SCRL' or (model.get('type') == 'SpatialPrediction' and model.host.type == 'SCRL')


def test_every_scrl_config_sets_the_target_schedule():
    """SCRL reads no runner state: SCRLTargetMomentumHook gives it the run's length (the model raises without).

    A ``custom_hooks`` list in a config replaces its base's, so each config is checked, not only the bases.
    Any config that builds SCRL names an SCRL base or type, hence the text filter (loading all is slow).
    """
    candidates = [
        p for p in sorted((ROOT / 'configs').rglob('*.py'))
        if '_base_' not in p.parts and 'benchmarks' not in p.parts and 'scrl' in p.read_text().lower()
    ]
    scrl = {}
    for path in candidates:
        cfg = Config.fromfile(str(path))
        if _builds_scrl(cfg.model):
            scrl[path.name] = [h['type'] for h in cfg.get('custom_hooks', [])]
    assert {'scrl_r50_coco.py', 'scrl_sp_resnet50_32xb256-coslr-200e_in1k.py', 'scrl_resnet18_1xb32-cpu_flowers128.py'
            } <= set(scrl) and len(scrl) >= 7
    missing = sorted(name for name, hooks in scrl.items() if 'SCRLTargetMomentumHook' not in hooks)
    assert not missing, f'SCRL configs without SCRLTargetMomentumHook in custom_hooks: {missing}'


def test_demo_monitor_reads_held_out_scenes_of_the_training_family():
    """Issue 14 §3: the demo's kNN bank and queries are other seeds than its training scenes, drawn from the same
    scene family, and the monitor's label (the scene's texture) is read by the monitor only."""
    cfg = load('scrl_resnet18_1xb32-coslr-3e_demo.py')
    train = cfg.train_dataloader.dataset
    monitor = next(h for h in cfg.custom_hooks if h.type == 'KNNMonitorHook')
    bank, queries = monitor.train_dataloader.dataset, monitor.val_dataloader.dataset
    assert len({train.seed, bank.seed, queries.seed}) == 3
    family = ('type', 'img_size', 'num_objects', 'object_size')
    assert all(bank[k] == train[k] == queries[k] for k in family)
    assert bank.label == queries.label == 'background_texture'
    assert monitor.interval == 1 and monitor.before_train  # a point per epoch, from the random init


def test_demo_training_loss_does_not_read_the_label():
    """The demo's scenes carry ``gt_label`` (PackInputs packs it); SCRL's loss must not depend on it."""
    import copy

    import torch
    from mmengine.dataset import default_collate
    from mmpretrain.registry import DATASETS

    cfg = load('scrl_resnet18_1xb32-coslr-3e_demo.py')
    dataset = DATASETS.build(dict(cfg.train_dataloader.dataset, num_images=2))
    model = MODELS.build(cfg.model)
    model.set_target_schedule(10)
    views = default_collate([dataset[0], dataset[1]])  # random augmentations: drawn once
    losses = []
    for flip_labels in (False, True):
        batch = copy.deepcopy(views)
        if flip_labels:
            for sample in batch['data_samples']:
                sample.set_gt_label((sample.gt_label + 1) % 4)
        torch.manual_seed(0)
        fresh = copy.deepcopy(model)  # a step moves the EMA target and BN statistics
        data = fresh.data_preprocessor(batch, True)
        losses.append(fresh.loss(**data)['loss'].detach())
    assert losses[0] == losses[1]

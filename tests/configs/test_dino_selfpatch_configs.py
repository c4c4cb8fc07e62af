"""The DINO and SelfPatch configs load and carry the reference recipes, value by value.

Sources: ``get_args_parser`` of facebookresearch/dino ``main_dino.py`` (DINO) and of alinlab/SelfPatch@81aef14
``main_selfpatch.py`` with its README command (SelfPatch); /work/shared/reference/METHODS.md §2.3. The
configs inherit these values from ``_base_`` files: this test pins what a run gets, whatever the file layout.
"""
from pathlib import Path

import pytest
from mmengine.config import Config
from mmpretrain.registry import MODELS

import mmspatial  # noqa: F401

ROOT = Path(__file__).resolve().parents[2]

# Shared by every full-scale DINO and SelfPatch config (main_dino.py defaults, kept by main_selfpatch.py).
STUDENT_TEMP, TEACHER_TEMP, CENTER_MOMENTUM = 0.1, 0.04, 0.9
WARMUP_EPOCHS, MIN_LR, WD, WD_END = 10, 1e-6, 0.04, 0.4
MOMENTUM, MOMENTUM_END, FREEZE_LAST_LAYER_EPOCHS, CLIP_GRAD = 0.996, 1.0, 1, 3.0
GLOBAL_SIZE, LOCAL_SIZE, NUM_LOCAL_CROPS, DROP_PATH = 224, 96, 8, 0.1
# DINOHead: 384 -> 2048 -> 2048 -> 256, then the weight-normalised prototype layer (norm_last_layer=True).
HEAD_DIMS = (384, 2048, 256)
DINO_SCALES = ((0.4, 1.0), (0.05, 0.4))
SELFPATCH_SCALES = ((0.25, 1.0), (0.05, 0.25))

# config: (model, per-GPU batch, GPUs, lr, epochs, (global scale, local scale), dataset)
RECIPES = {
    'dino/dino_vit-small-p16_8xb64-coslr-100e_in1k.py': ('DINO', 64, 8, 1e-3, 100, DINO_SCALES, 'ImageNet'),
    'dino/dino_vit-small-p16_8xb128-coslr-300e_in1k.py': ('DINO', 128, 8, 2e-3, 300, DINO_SCALES, 'ImageNet'),
    'dino/dino_vit-small-p16_8xb64-coslr-100e_coco.py': ('DINO', 64, 8, 1e-3, 100, DINO_SCALES, 'UnlabeledImages'),
    'selfpatch/selfpatch_vit-small-p16_8xb128-coslr-300e_in1k.py':
    ('SelfPatch', 128, 8, 2e-3, 300, SELFPATCH_SCALES, 'ImageNet'),
    'selfpatch/selfpatch_vit-small-p16_8xb128-coslr-300e_coco.py':
    ('SelfPatch', 128, 8, 2e-3, 300, SELFPATCH_SCALES, 'UnlabeledImages'),
}


def load(name: str) -> Config:
    return Config.fromfile(str(ROOT / 'configs' / name))


def test_every_full_scale_config_is_pinned():
    found = {
        str(p.relative_to(ROOT / 'configs'))
        for d in ('dino', 'selfpatch')
        for p in (ROOT / 'configs' / d).glob('*.py') if '_demo' not in p.name and '-cpu_' not in p.name
    }
    assert found == set(RECIPES)


def check_head(cfg: dict, out_channels: int) -> None:
    head = MODELS.build(cfg)
    mlp = [m for m in head.mlp if hasattr(m, 'weight')]
    dims = (mlp[0].in_features, mlp[0].out_features, mlp[-1].out_features)
    assert dims == HEAD_DIMS and len(mlp) == 3 and not any(type(m).__name__.startswith('BatchNorm') for m in head.mlp)
    assert tuple(head.last_layer.weight_v.shape) == (out_channels, HEAD_DIMS[-1])
    assert not head.last_layer.weight_g.requires_grad  # norm_last_layer=True


def check_loss(cfg: dict, out_channels: int) -> None:
    assert (cfg.out_channels, cfg.student_temp, cfg.teacher_temp,
            cfg.center_momentum) == (out_channels, STUDENT_TEMP, TEACHER_TEMP, CENTER_MOMENTUM)


@pytest.mark.parametrize('name', sorted(RECIPES))
def test_recipe_values(name):
    model, batch, gpus, lr, epochs, (g_scale, l_scale), dataset = RECIPES[name]
    cfg = load(name)
    total = gpus * batch
    assert name.split('_')[2].startswith(f'{gpus}xb{batch}-coslr-{epochs}e')  # the name tells the recipe
    # model
    m = cfg.model
    assert m.type == model and m.num_global_crops == 2
    assert (m.backbone.arch, m.backbone.patch_size, m.backbone.img_size,
            m.backbone.drop_path_rate) == ('deit-small', 16, GLOBAL_SIZE, DROP_PATH)
    check_head(m.neck, 65536)
    check_loss(m.loss, 65536)
    if model == 'DINO':
        assert m.backbone.out_type == 'cls_token'
    else:
        assert not m.backbone.with_cls_token and not m.backbone.final_norm and m.backbone.out_type == 'featmap'
        assert (m.aggregator.embed_dims, m.aggregator.num_heads, m.aggregator.num_blocks) == (384, 6, 2)
        check_head(m.patch_neck, 4096)
        check_loss(m.patch_loss, 4096)
        assert (m.patch_loss_weight, m.num_neighbours, m.kernel_size) == (0.1, 4, 3)
        assert m.wrap_neighbours and m.center_on_all_crops
    # data
    loader = cfg.train_dataloader
    assert (loader.batch_size, loader.dataset.type, loader.drop_last) == (batch, dataset, True)
    crop = [t for t in loader.dataset.pipeline if t.type == 'DINOMultiCrop']
    assert len(crop) == 1
    crop = crop[0]
    assert (crop.global_crop_size, crop.local_crop_size, crop.num_local_crops) == (GLOBAL_SIZE, LOCAL_SIZE,
                                                                                   NUM_LOCAL_CROPS)
    assert (tuple(crop.global_crop_scale), tuple(crop.local_crop_scale)) == (g_scale, l_scale)
    # optimisation: lr 5e-4 x total / 256, 10 warm-up epochs, cosine to 1e-6; wd cosine 0.04 -> 0.4
    assert lr == pytest.approx(5e-4 * total / 256)
    opt = cfg.optim_wrapper
    assert (opt.type, opt.constructor, opt.clip_grad) == ('OptimWrapper', 'DINOParamGroupsConstructor', None)
    assert (opt.optimizer.type, opt.optimizer.weight_decay) == ('AdamW', WD)
    assert opt.optimizer.lr == pytest.approx(lr)
    assert cfg.auto_scale_lr.base_batch_size == total
    assert cfg.train_cfg == dict(type='EpochBasedTrainLoop', max_epochs=epochs)
    warmup, cosine, wd = cfg.param_scheduler
    common = dict(by_epoch=True, convert_to_iter_based=True)
    assert warmup == dict(type='LinearLR', start_factor=1e-6, begin=0, end=WARMUP_EPOCHS, **common)
    assert cosine == dict(type='CosineAnnealingLR', eta_min=MIN_LR, begin=WARMUP_EPOCHS, end=epochs, **common)
    assert wd == dict(
        type='CosineAnnealingParamScheduler',
        param_name='weight_decay',
        eta_min_ratio=WD_END / WD,
        begin=0,
        end=epochs,
        **common)
    # hooks: teacher temperature constant 0.04, teacher momentum cosine 0.996 -> 1, last layer frozen for
    # 1 epoch, per-parameter clipping at 3
    hooks = {h.type: h for h in cfg.custom_hooks}
    assert list(hooks) == [
        'DINOTeacherTempHook', 'DINOTeacherMomentumHook', 'DINOFreezeLastLayerHook', 'PerParamGradClipHook'
    ]
    temp = hooks['DINOTeacherTempHook']
    assert (temp.warmup_teacher_temp, temp.teacher_temp, temp.warmup_epochs) == (TEACHER_TEMP, TEACHER_TEMP, 0)
    momentum = hooks['DINOTeacherMomentumHook']
    assert (momentum.base_momentum, momentum.end_momentum) == (MOMENTUM, MOMENTUM_END)
    assert hooks['DINOFreezeLastLayerHook'].freeze_epochs == FREEZE_LAST_LAYER_EPOCHS
    assert hooks['PerParamGradClipHook'].max_norm == CLIP_GRAD


@pytest.mark.parametrize(
    'name', ['dino_vit-small-p16_8xb64-coslr-100e_coco.py', 'selfpatch_vit-small-p16_8xb128-coslr-300e_coco.py'])
def test_coco_configs_are_the_imagenet_recipe_on_coco_images(name):
    coco = load(f'{name.split("_")[0]}/{name}')
    in1k = {
        'dino': 'dino/dino_vit-small-p16_8xb64-coslr-100e_in1k.py',
        'selfpatch': 'selfpatch/selfpatch_vit-small-p16_8xb128-coslr-300e_in1k.py'
    }[name.split('_')[0]]
    in1k = load(in1k)
    assert coco.train_dataloader.dataset == dict(
        type='UnlabeledImages',
        data_root='data/coco/',
        ann_file='annotations/instances_train2017.json',
        data_prefix='train2017',
        pipeline=in1k.train_dataloader.dataset.pipeline)
    for key in ('model', 'optim_wrapper', 'param_scheduler', 'train_cfg', 'custom_hooks', 'auto_scale_lr'):
        assert coco[key] == in1k[key], key


def test_selfpatch_vit_s_model_builds_with_6_heads():
    cfg = load('selfpatch/selfpatch_vit-small-p16_8xb128-coslr-300e_in1k.py')
    model = MODELS.build(cfg.model)
    vit = model.backbone
    assert (vit.embed_dims, vit.num_layers, vit.arch_settings['num_heads']) == (384, 12, 6)
    assert vit.pos_embed.shape == (1, 196, 384) and vit.cls_token is None
    assert model.aggregator.blocks[0].num_heads == 6 and len(model.aggregator.blocks) == 2
    backbone_params = sum(p.numel() for p in vit.parameters())
    # patch embedding 295,296 + position embeddings 196 x 384 + 12 blocks x 1,774,464: DINO's ViT-S/16
    # (21,665,664) without the class token, its position embedding and the final norm
    assert backbone_params == 295_296 + 196 * 384 + 12 * 1_774_464


@pytest.mark.parametrize(
    'name',
    ['dino/dino_vit-tiny-p8_1xb32-coslr-10e_demo.py', 'selfpatch/selfpatch_vit-tiny-p8_1xb32-coslr-10e_demo.py'])
def test_demo_configs_load(name):
    cfg = load(name)
    assert cfg.model.backbone.arch == 'deit-tiny' and cfg.train_dataloader.dataset.type == 'SyntheticScenes'
    crop = cfg.train_dataloader.dataset.pipeline[0]
    assert (crop.global_crop_size, crop.local_crop_size, crop.num_local_crops) == (64, 32, 2)
    # 1xb32-coslr-10e: batch 32, 1 warm-up epoch then cosine to the 10th
    assert cfg.train_dataloader.batch_size == cfg.auto_scale_lr.base_batch_size == 32
    assert cfg.optim_wrapper.optimizer.lr == pytest.approx(5e-4 * 32 / 256)
    assert cfg.train_cfg.max_epochs == 10
    assert [(s.begin, s.end) for s in cfg.param_scheduler] == [(0, 1), (1, 10), (0, 10)]
    assert [h.type for h in cfg.custom_hooks][1] == 'DINOTeacherMomentumHook'

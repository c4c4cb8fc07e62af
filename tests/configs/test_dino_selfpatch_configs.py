"""The DINO and SelfPatch configs load and carry the reference settings."""
from pathlib import Path

import pytest
from mmengine.config import Config
from mmpretrain.registry import MODELS

import mmspatial  # noqa: F401

ROOT = Path(__file__).resolve().parents[2]
HOOKS = ['DINOTeacherTempHook', 'DINOTeacherMomentumHook', 'DINOFreezeLastLayerHook',
         'PerParamGradClipHook']
# config: (model, per-GPU batch, total batch, epochs, global scale, local scale, dataset)
CONFIGS = {
    'dino/dino_vit-small-p16_8xb64-coslr-100e_in1k.py':
    ('DINO', 64, 512, 100, (0.4, 1.0), (0.05, 0.4), 'ImageNet'),
    'dino/dino_vit-small-p16_8xb128-coslr-300e_in1k.py':
    ('DINO', 128, 1024, 300, (0.4, 1.0), (0.05, 0.4), 'ImageNet'),
    'dino/dino_vit-small-p16_8xb64-coslr-100e_coco.py':
    ('DINO', 64, 512, 100, (0.4, 1.0), (0.05, 0.4), 'UnlabeledImages'),
    'selfpatch/selfpatch_vit-small-p16_8xb128-coslr-300e_in1k.py':
    ('SelfPatch', 128, 1024, 300, (0.25, 1.0), (0.05, 0.25), 'ImageNet'),
    'selfpatch/selfpatch_vit-small-p16_8xb128-coslr-300e_coco.py':
    ('SelfPatch', 128, 1024, 300, (0.25, 1.0), (0.05, 0.25), 'UnlabeledImages'),
}


@pytest.mark.parametrize('name', sorted(CONFIGS))
def test_reference_settings(name):
    model, batch, total, epochs, g_scale, l_scale, dataset = CONFIGS[name]
    cfg = Config.fromfile(str(ROOT / 'configs' / name))
    assert cfg.model.type == model and cfg.model.backbone.arch == 'deit-small'
    assert cfg.train_dataloader.batch_size == batch and cfg.train_dataloader.dataset.type == dataset
    assert cfg.optim_wrapper.optimizer.type == 'AdamW'
    assert cfg.optim_wrapper.optimizer.lr == pytest.approx(5e-4 * total / 256)
    assert cfg.optim_wrapper.optimizer.weight_decay == 0.04 and cfg.optim_wrapper.clip_grad is None
    assert cfg.auto_scale_lr.base_batch_size == total
    assert cfg.train_cfg.max_epochs == epochs
    lr_warmup, lr_cos, wd = cfg.param_scheduler
    assert (lr_warmup.end, lr_cos.begin, lr_cos.end, lr_cos.eta_min) == (10, 10, epochs, 1e-6)
    assert (wd.param_name, wd.eta_min_ratio, wd.end) == ('weight_decay', 10.0, epochs)
    assert [h.type for h in cfg.custom_hooks] == HOOKS
    assert cfg.custom_hooks[1].base_momentum == 0.996 and cfg.custom_hooks[3].max_norm == 3.0
    crop = [t for t in cfg.train_dataloader.dataset.pipeline if t.type == 'DINOMultiCrop'][0]
    assert (crop.global_crop_size, crop.local_crop_size, crop.num_local_crops) == (224, 96, 8)
    assert (tuple(crop.global_crop_scale), tuple(crop.local_crop_scale)) == (g_scale, l_scale)
    assert cfg.model.neck.out_channels == cfg.model.loss.out_channels == 65536
    if model == 'SelfPatch':
        assert cfg.model.patch_neck.out_channels == cfg.model.patch_loss.out_channels == 4096
        assert cfg.model.patch_loss_weight == 0.1 and cfg.model.num_neighbours == 4
        assert not cfg.model.backbone.with_cls_token and not cfg.model.backbone.final_norm


def test_selfpatch_vit_s_model_builds_with_6_heads():
    cfg = Config.fromfile(str(ROOT / 'configs' / 'selfpatch' /
                              'selfpatch_vit-small-p16_8xb128-coslr-300e_in1k.py'))
    model = MODELS.build(cfg.model)
    vit = model.backbone
    assert (vit.embed_dims, vit.num_layers, vit.arch_settings['num_heads']) == (384, 12, 6)
    assert vit.pos_embed.shape == (1, 196, 384) and vit.cls_token is None
    assert model.aggregator.blocks[0].num_heads == 6 and len(model.aggregator.blocks) == 2
    backbone_params = sum(p.numel() for p in vit.parameters())
    # patch embedding 295,296 + position embeddings 196 x 384 + 12 blocks x 1,774,464: DINO's ViT-S/16
    # (21,665,664) without the class token, its position embedding and the final norm
    assert backbone_params == 295_296 + 196 * 384 + 12 * 1_774_464


@pytest.mark.parametrize('name', ['dino/dino_vit-tiny-p8_demo.py', 'selfpatch/selfpatch_vit-tiny-p8_demo.py'])
def test_demo_configs_load(name):
    cfg = Config.fromfile(str(ROOT / 'configs' / name))
    assert cfg.model.backbone.arch == 'deit-tiny' and cfg.train_dataloader.dataset.type == 'SyntheticScenes'
    crop = cfg.train_dataloader.dataset.pipeline[0]
    assert (crop.global_crop_size, crop.local_crop_size, crop.num_local_crops) == (64, 32, 2)

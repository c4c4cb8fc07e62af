"""Coverage report: categories on a hand-built module, PretrainedInit prefix rules, and the ViT
transfer configs (mmdet Mask R-CNN + ViTSimpleFPN, mmseg Semantic FPN) loading a SelfPatch teacher."""
import sys
from collections import OrderedDict
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import MODELS, DefaultScope
from torch import nn

import mmspatial  # noqa: F401
from mmspatial.engine.checkpoint_coverage import (coverage_report, find_pretrained_init, load_init_state_dict,
                                                  report_for_init_cfg)
from mmspatial.models.utils.checkpoint_convert import extract_backbone_checkpoint

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / 'tests' / 'models' / 'algorithms'))
from dino_test_utils import EMBED, dino_model, selfpatch_model  # noqa: E402


class Toy(nn.Module):

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(2, 3)
        self.new = nn.Linear(2, 2)
        self.pos_embed = nn.Parameter(torch.zeros(1, 4, 2))
        self.extra = nn.Parameter(torch.zeros(5))


def test_report_categories():
    toy = Toy()
    state = OrderedDict([
        ('fc.weight', toy.fc.weight.detach().clone()),  # loaded
        ('fc.bias', toy.fc.bias.detach() + 1),  # same shape, other values
        ('pos_embed', torch.zeros(1, 9, 2)),  # resized by the module (allowed)
        ('extra', torch.zeros(4)),  # shape mismatch
        ('head.weight', torch.zeros(1)),  # unused
    ])
    report = coverage_report(toy, state, checkpoint='c.pth', allow_missing=['new.b*'])
    assert report.loaded == ['fc.weight']
    assert report.value_mismatch == ['fc.bias']
    assert report.resized == ['pos_embed']
    assert report.shape_mismatch == [('extra', (5, ), (4, ))]
    assert report.missing == ['new.weight']
    assert report.tolerated == ['new.bias']
    assert report.unused == ['head.weight']
    assert not report.complete and report.total == 6
    assert sorted(report.not_loaded) == ['extra', 'fc.bias', 'new.weight']
    text = report.format()
    assert 'INCOMPLETE' in text and 'loaded from the checkpoint: 2/6' in text
    assert 'extra: model (5,) vs ckpt (4,)' in text and 're-initialised' in text
    # without value checks the re-initialised entry counts as loaded
    assert coverage_report(toy, state, check_values=False).value_mismatch == []


def test_load_init_state_dict_follows_pretrained_init(tmp_path):
    path = tmp_path / 'c.pth'
    torch.save(
        dict(state_dict=OrderedDict([('module.backbone.a', torch.ones(1)), ('module.neck.b', torch.ones(1))]), meta={}),
        path)
    assert list(load_init_state_dict(str(path))) == ['backbone.a', 'neck.b']  # 'module.' stripped
    assert list(load_init_state_dict(str(path), 'module.backbone')) == ['a']  # '.' appended
    assert list(load_init_state_dict(str(path), 'backbone.')) == []  # not stripped with a prefix


def test_find_pretrained_init():
    assert find_pretrained_init(None) is None
    assert find_pretrained_init(dict(type='Kaiming')) is None
    cfg = [dict(type='Kaiming'), dict(type='Pretrained', checkpoint='a', prefix='b.')]
    assert find_pretrained_init(cfg) == cfg[1]


ARCH = dict(embed_dims=EMBED, num_layers=4, num_heads=2, feedforward_channels=64)


def _selfpatch_teacher(tmp_path, layout='mmpretrain', model=selfpatch_model, **kwargs):
    """Extract the teacher of a real (tiny, 4-block) SelfPatch or DINO model."""
    from mmpretrain.registry import MODELS as PRETRAIN_MODELS
    cfg = model()
    cfg['backbone'] = dict(cfg['backbone'], arch=ARCH)
    with DefaultScope.overwrite_default_scope('mmpretrain'):  # other tests' Runners may leave mmseg
        algo = PRETRAIN_MODELS.build(cfg)
    ckpt = extract_backbone_checkpoint(dict(state_dict=algo.state_dict()), branch='target', vit_layout=layout, **kwargs)
    path = tmp_path / f'teacher_{layout}.pth'
    torch.save(ckpt, path)
    return path, ckpt['state_dict']


TINY_VIT = dict(arch=ARCH, patch_size=8, img_size=32)


def _build(config: str, ckpt: Path, neck=None, **backbone):
    cfg = Config.fromfile(ROOT / 'configs' / 'benchmarks' / config)
    cfg.model.backbone.update(TINY_VIT, **backbone)
    if neck is not None:
        cfg.model.neck = neck
    cfg.model.backbone.init_cfg.checkpoint = str(ckpt)
    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        model = MODELS.build(cfg.model)
    model.init_weights()
    return model


def test_vit_mask_rcnn_config_loads_a_selfpatch_teacher(tmp_path):
    ckpt, state = _selfpatch_teacher(tmp_path)
    cfg = Config.fromfile(ROOT / 'configs/benchmarks/mmdet/mask-rcnn_vit-s16_simplefpn_8xb2-1x_coco.py')
    neck = cfg.model.neck  # [ViTSimpleFPN, FPN] at the tiny width
    neck[0].update(in_channels=EMBED, norm_cfg=dict(type='BN'))
    neck[1].update(in_channels=[EMBED] * 4, out_channels=16)
    model = _build('mmdet/mask-rcnn_vit-s16_simplefpn_8xb2-1x_coco.py', ckpt, neck=neck, out_indices=[0, 1, 2, 3])
    assert [type(m).__name__ for m in model.neck] == ['ViTSimpleFPN', 'FPN']
    report = report_for_init_cfg(model.backbone)
    assert report.complete and report.resized == [] and report.unused == []
    assert len(report.loaded) == len(state)
    model.eval()
    with torch.no_grad():
        feats = model.extract_feat(torch.rand(1, 3, 64, 96))
    # patch 8 -> stride 8 maps; ViTSimpleFPN (4, 2, 1, 0.5) -> strides 2, 4, 8, 16; FPN adds one
    assert [tuple(f.shape[-2:]) for f in feats] == [(32, 48), (16, 24), (8, 12), (4, 6), (2, 3)]


def test_vit_semantic_fpn_config_loads_a_dino_teacher(tmp_path):
    config = 'mmseg/fpn_vit-s16_8xb4-40k_ade20k-512x512.py'
    # Without --drop-cls-token mmpretrain's ViT cannot both strip the class token's pos_embed row
    # and resize pos_embed (here 4x4 -> 8x8, as 224 -> 512 px in the real config): it fails loudly.
    ckpt, _ = _selfpatch_teacher(tmp_path, model=dino_model)
    with pytest.raises(AssertionError, match='pos_embed'):
        _build(config, ckpt, out_indices=(0, 1, 2, 3), img_size=64)
    ckpt, state = _selfpatch_teacher(tmp_path, model=dino_model, no_cls_token=True)
    assert 'cls_token' not in state and state['pos_embed'].shape[1] == 16
    model = _build(config, ckpt, out_indices=(0, 1, 2, 3), img_size=64)
    report = report_for_init_cfg(model.backbone)
    # DINO's final norm is not used by the segmentation ViT (final_norm=False, as the reference);
    # pos_embed is interpolated from 4x4 to 8x8 by mmpretrain's load hook.
    assert report.complete
    assert report.resized == ['pos_embed']
    assert sorted(report.unused) == ['ln1.bias', 'ln1.weight']
    assert len(report.loaded) == len(state) - 3


def test_mmseg_layout_into_mmpretrain_vit_is_reported(tmp_path):
    ckpt, _ = _selfpatch_teacher(tmp_path, layout='mmseg')
    model = _build('mmseg/fpn_vit-s16_8xb4-40k_ade20k-512x512.py', ckpt, out_indices=(0, 1, 2, 3))
    report = report_for_init_cfg(model.backbone)
    assert not report.complete
    assert 'layers.0.attn.qkv.weight' in report.missing
    assert 'layers.0.attn.attn.in_proj_weight' in report.unused
    assert any("mmseg's ViT layout" in h for h in report.hints())


@pytest.mark.parametrize(
    'config', ['mmdet/mask-rcnn_r50_fpn_syncbn-ms-1x_coco.py', 'mmseg/upernet_r50_syncbn_4xb4-160k_ade20k-512x512.py'])
def test_r50_configs_are_covered_by_an_mmpretrain_resnet50(tmp_path, config):
    from mmpretrain.models.backbones import ResNet
    path = tmp_path / 'r50.pth'
    state = ResNet(depth=50).state_dict()
    torch.save(dict(state_dict=state, meta={}), path)
    cfg = Config.fromfile(ROOT / 'configs' / 'benchmarks' / config)
    cfg.model.backbone.init_cfg.checkpoint = str(path)
    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        backbone = MODELS.build(cfg.model.backbone)
    backbone.init_weights()
    report = report_for_init_cfg(backbone)
    assert report.complete and not report.unused and len(report.loaded) == len(state) == 318

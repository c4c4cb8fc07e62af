"""Backbone extraction and key-layout conversion (ResNet: mmdet/mmseg/torchvision/detectron2; ViT:
mmpretrain/mmseg/timm), checked against the real modules of each library where installed."""
import pickle
import sys
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest
import torch
from pickle_attack import WritesMarker

import mmspatial  # noqa: F401
from mmspatial.models.utils.checkpoint_convert import (backbone_state_dict, detect_arch, detectron2_checkpoint,
                                                       extract_backbone_checkpoint, find_branch_prefix,
                                                       resnet_to_detectron2, resnet_to_torchvision, to_layout,
                                                       vit_mmpretrain_to_mmseg, vit_mmpretrain_to_timm,
                                                       vit_mmseg_to_mmpretrain)

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / 'algorithms'))
from dino_test_utils import dino_model, selfpatch_model  # noqa: E402


def build_pretraining_model(cfg):
    # Runners of other tests may leave another default scope (mmdet/mmseg) behind.
    from mmengine.registry import DefaultScope
    from mmpretrain.registry import MODELS
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        return MODELS.build(cfg)


TINY_ARCH = dict(embed_dims=32, num_layers=2, num_heads=2, feedforward_channels=64)


def mmpretrain_resnet50():
    from mmpretrain.models.backbones import ResNet
    return ResNet(depth=50)


def mmpretrain_vit(**kwargs):
    from mmpretrain.models.backbones import VisionTransformer
    torch.manual_seed(0)
    vit = VisionTransformer(arch=TINY_ARCH, img_size=32, patch_size=8, out_type='featmap', **kwargs)
    for p in vit.parameters():  # non-trivial values everywhere (LN weights are 1 after init)
        p.data.normal_(0, 0.2)
    vit.eval()  # mmpretrain's ViT.train() returns None, so no chaining
    return vit


# --------------------------------------------------------------------------------------------------
# ResNet
def test_resnet_keys_are_shared_by_mmdet_mmseg_and_torchvision():
    from mmdet.models.backbones import ResNet as DetResNet
    from mmseg.models.backbones import ResNet as SegResNet
    from torchvision.models import resnet50
    ours = mmpretrain_resnet50().state_dict()
    assert resnet_to_torchvision(ours) == ours  # nothing renamed
    assert set(ours) == set(DetResNet(depth=50).state_dict())
    assert set(ours) == set(SegResNet(depth=50).state_dict())
    assert set(ours) == set(resnet50().state_dict()) - {'fc.weight', 'fc.bias'}


def test_resnet_to_detectron2_names():
    state = mmpretrain_resnet50().state_dict()
    d2 = resnet_to_detectron2(state)
    expected = {  # detectron2 build_resnet_backbone names, written out by hand
        'conv1.weight': 'stem.conv1.weight',
        'bn1.weight': 'stem.conv1.norm.weight',
        'bn1.running_var': 'stem.conv1.norm.running_var',
        'layer1.0.conv1.weight': 'res2.0.conv1.weight',
        'layer1.0.bn1.bias': 'res2.0.conv1.norm.bias',
        'layer1.0.bn3.running_mean': 'res2.0.conv3.norm.running_mean',
        'layer1.0.downsample.0.weight': 'res2.0.shortcut.weight',
        'layer1.0.downsample.1.weight': 'res2.0.shortcut.norm.weight',
        'layer2.3.conv2.weight': 'res3.3.conv2.weight',
        'layer3.5.bn2.weight': 'res4.5.conv2.norm.weight',
        'layer4.0.downsample.1.running_var': 'res5.0.shortcut.norm.running_var',
        'layer4.2.bn3.bias': 'res5.2.conv3.norm.bias',
    }
    for old, new in expected.items():
        assert new in d2, new
        assert isinstance(d2[new], np.ndarray) and np.array_equal(d2[new], state[old].numpy())
    assert len(d2) == len([k for k in state if not k.endswith('num_batches_tracked')])
    assert not any(s in k for k in d2 for s in ('layer', 'bn', 'downsample', 'num_batches'))
    blocks = {'.'.join(k.split('.')[:2]) for k in d2 if k.startswith('res')}
    assert blocks == {f'res{s}.{b}' for s, n in zip((2, 3, 4, 5), (3, 4, 6, 3)) for b in range(n)}

    payload = pickle.loads(pickle.dumps(detectron2_checkpoint(state)))
    assert set(payload) == {'model', '__author__', 'matching_heuristics'}
    assert payload['matching_heuristics'] is True


def test_resnet_checks():
    with pytest.raises(ValueError, match='deep-stem'):
        resnet_to_detectron2({'stem.0.weight': torch.zeros(1), 'layer1.0.conv1.weight': torch.zeros(1)})
    with pytest.raises(ValueError, match='not a ResNet'):
        resnet_to_torchvision({'layers.0.attn.qkv.weight': torch.zeros(1)})


# --------------------------------------------------------------------------------------------------
# ViT
def test_vit_mmpretrain_to_mmseg_loads_strictly_and_computes_the_same():
    from mmseg.models.backbones import VisionTransformer as SegViT
    vit = mmpretrain_vit(final_norm=True)
    converted = vit_mmpretrain_to_mmseg(vit.state_dict())
    seg = SegViT(
        img_size=32,
        patch_size=8,
        embed_dims=32,
        num_layers=2,
        num_heads=2,
        mlp_ratio=2,
        patch_bias=True,
        final_norm=True,
        norm_cfg=dict(type='LN', eps=1e-6),
        out_indices=(1, ))
    seg.eval()
    seg.load_state_dict(converted, strict=True)
    x = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.allclose(vit(x)[-1], seg(x)[-1], atol=1e-5)
    # ... and back
    back = vit_mmseg_to_mmpretrain(converted)
    assert list(back) == list(vit.state_dict())
    assert all(torch.equal(back[k], v) for k, v in vit.state_dict().items())


def test_vit_without_class_token_gets_a_zero_token_for_mmseg():
    state = mmpretrain_vit(with_cls_token=False, final_norm=False).state_dict()
    assert 'cls_token' not in state and state['pos_embed'].shape == (1, 16, 32)
    out = vit_mmpretrain_to_mmseg(state)
    assert torch.equal(out['cls_token'], torch.zeros(1, 1, 32))
    assert out['pos_embed'].shape == (1, 17, 32)
    assert torch.equal(out['pos_embed'][:, 0], torch.zeros(1, 32))
    assert torch.equal(out['pos_embed'][:, 1:], state['pos_embed'])
    with pytest.raises(ValueError, match='no class token'):
        vit_mmpretrain_to_mmseg(state, add_cls_token=False)


def test_vit_to_timm_names():
    state = mmpretrain_vit(final_norm=True).state_dict()
    timm = vit_mmpretrain_to_timm(state)
    expected = {  # timm VisionTransformer names, written out by hand
        'cls_token': 'cls_token',
        'pos_embed': 'pos_embed',
        'patch_embed.projection.weight': 'patch_embed.proj.weight',
        'patch_embed.projection.bias': 'patch_embed.proj.bias',
        'layers.0.ln1.weight': 'blocks.0.norm1.weight',
        'layers.0.attn.qkv.weight': 'blocks.0.attn.qkv.weight',
        'layers.0.attn.qkv.bias': 'blocks.0.attn.qkv.bias',
        'layers.0.attn.proj.weight': 'blocks.0.attn.proj.weight',
        'layers.1.ln2.bias': 'blocks.1.norm2.bias',
        'layers.1.ffn.layers.0.0.weight': 'blocks.1.mlp.fc1.weight',
        'layers.1.ffn.layers.1.bias': 'blocks.1.mlp.fc2.bias',
        'ln1.weight': 'norm.weight',
    }
    for old, new in expected.items():
        assert torch.equal(timm[new], state[old]), new
    assert len(timm) == len(state)
    with pytest.raises(ValueError, match='no equivalent'):
        vit_mmpretrain_to_timm({'layers.0.attn.gamma1.weight': torch.zeros(1)})


def test_detect_arch_and_to_layout():
    vit = mmpretrain_vit().state_dict()
    assert detect_arch(vit) == 'vit'
    assert detect_arch(vit_mmpretrain_to_mmseg(vit)) == 'vit-mmseg'
    assert detect_arch(vit_mmpretrain_to_timm(vit)) == 'vit-timm'
    assert detect_arch(mmpretrain_resnet50().state_dict()) == 'resnet'
    with pytest.raises(ValueError, match='cannot tell'):
        detect_arch({'fc.weight': torch.zeros(1)})
    # an mmseg-layout input comes back in the requested layout
    back, arch = to_layout(vit_mmpretrain_to_mmseg(vit), 'mmpretrain')
    assert arch == 'vit' and set(back) == set(vit)
    with pytest.raises(ValueError, match='vit_layout'):
        to_layout(vit, 'detectron2')


# --------------------------------------------------------------------------------------------------
# branches
def _fake_pretraining_state():
    w = torch.arange(4.).view(2, 2)
    return OrderedDict([('backbone.layer1.0.conv1.weight', w), ('backbone.conv1.weight', w), ('neck.fc.weight', w),
                        ('target_net.module.0.layer1.0.conv1.weight', w + 1),
                        ('target_net.module.0.conv1.weight', w + 1), ('target_net.module.1.fc.weight', w),
                        ('target_net.steps', torch.tensor(3))])


def test_branch_prefixes():
    state = _fake_pretraining_state()
    assert find_branch_prefix(state, 'online') == 'backbone.'
    assert find_branch_prefix(state, 'target') == 'target_net.module.0.'
    out, prefix = backbone_state_dict({'state_dict': state, 'meta': {}}, 'target')
    assert prefix == 'target_net.module.0.'
    assert list(out) == ['layer1.0.conv1.weight', 'conv1.weight']
    assert torch.equal(out['conv1.weight'], torch.arange(4.).view(2, 2) + 1)
    # explicit prefix, with or without the trailing dot
    assert list(backbone_state_dict(state, prefix='neck')[0]) == ['fc.weight']
    with pytest.raises(KeyError, match="no key starts with 'head.'"):
        backbone_state_dict(state, prefix='head.')
    # DDP-saved checkpoints ("module." everywhere)
    ddp = OrderedDict(('module.' + k, v) for k, v in state.items())
    assert backbone_state_dict(ddp, 'online')[1] == 'backbone.'
    # an already-extracted backbone passes through with the online branch
    extracted = OrderedDict((k[len('backbone.'):], v) for k, v in state.items() if k.startswith('backbone.'))
    assert backbone_state_dict(extracted, 'online') == (extracted, '')
    with pytest.raises(KeyError, match='no target backbone found.*backbone\\.'):
        find_branch_prefix(extracted | {'backbone.x': torch.zeros(1)}, 'target')
    with pytest.raises(ValueError, match='branch'):
        find_branch_prefix(state, 'ema')


@pytest.mark.parametrize('model_cfg', [dino_model, selfpatch_model])
def test_dino_and_selfpatch_teacher_is_found(model_cfg):
    model = build_pretraining_model(model_cfg())
    with torch.no_grad():  # make teacher and student differ
        for p in model.teacher.parameters():
            p.add_(1.)
    full = dict(state_dict=model.state_dict(), meta=dict(epoch=3, iter=30, dataset_meta=None))
    for branch, module in (('online', model.backbone), ('target', model.teacher['backbone'])):
        ckpt = extract_backbone_checkpoint(full, branch=branch, source='x.pth')
        assert ckpt['meta']['epoch'] == 3 and 'dataset_meta' not in ckpt['meta']
        assert ckpt['meta']['mmspatial']['arch'] == 'vit'
        expected = module.state_dict()
        assert list(ckpt['state_dict']) == list(expected)
        assert all(torch.equal(ckpt['state_dict'][k], v) for k, v in expected.items())
    assert find_branch_prefix(full['state_dict'], 'target') == 'teacher.backbone.'
    mmseg_ckpt = extract_backbone_checkpoint(full, branch='target', vit_layout='mmseg')
    assert detect_arch(mmseg_ckpt['state_dict']) == 'vit-mmseg'
    assert 'cls_token' in mmseg_ckpt['state_dict']


def test_byol_target_branch():
    model = build_pretraining_model(
        dict(
            type='BYOL',
            backbone=dict(type='ResNet', depth=18),
            neck=dict(type='NonLinearNeck', in_channels=512, hid_channels=32, out_channels=16),
            head=dict(
                type='LatentPredictHead',
                loss=dict(type='CosineSimilarityLoss'),
                predictor=dict(
                    type='NonLinearNeck', in_channels=16, hid_channels=32, out_channels=16, with_avg_pool=False))))
    state, prefix = backbone_state_dict(model.state_dict(), 'target')
    assert prefix == 'target_net.module.0.'
    assert set(state) == set(model.backbone.state_dict())


# --------------------------------------------------------------------------------------------------
# CLIs (in-process)
ROOT = Path(__file__).resolve().parents[3]


def run_cli(script, *args):
    import runpy
    argv = sys.argv
    sys.argv = [script] + [str(a) for a in args]
    try:
        runpy.run_path(str(ROOT / 'tools' / 'model_converters' / script), run_name='__main__')
    finally:
        sys.argv = argv


def test_cli_converters(tmp_path):
    from mmpretrain.models.backbones import ResNet
    r18 = ResNet(depth=18).state_dict()
    full = tmp_path / 'byol.pth'
    torch.save(dict(state_dict={f'target_net.module.0.{k}': v for k, v in r18.items()}, meta={}), full)
    run_cli('to_detectron2.py', full, tmp_path / 'd2.pkl', '--branch', 'target')
    with open(tmp_path / 'd2.pkl', 'rb') as f:
        d2 = pickle.load(f)
    assert np.array_equal(d2['model']['res5.1.conv2.norm.weight'], r18['layer4.1.bn2.weight'].numpy())
    with pytest.raises(SystemExit, match='.pkl'):
        run_cli('to_detectron2.py', full, tmp_path / 'd2.pth', '--branch', 'target')

    vit = mmpretrain_vit(final_norm=True).state_dict()
    dino = tmp_path / 'dino.pth'
    torch.save(dict(state_dict={f'teacher.backbone.{k}': v for k, v in vit.items()}), dino)
    run_cli('to_timm.py', dino, tmp_path / 'timm.pth', '--branch', 'target')
    timm = torch.load(tmp_path / 'timm.pth', weights_only=True)
    assert torch.equal(timm['blocks.1.attn.qkv.weight'], vit['layers.1.attn.qkv.weight'])

    run_cli('extract_backbone.py', dino, tmp_path / 'seg.pth', '--branch', 'target', '--vit-layout', 'mmseg')
    seg = torch.load(tmp_path / 'seg.pth', weights_only=False)
    assert seg['meta']['mmspatial']['layout'] == 'mmseg'
    assert 'layers.0.attn.attn.in_proj_weight' in seg['state_dict']
    with pytest.raises(KeyError, match='no online backbone found'):
        run_cli('extract_backbone.py', dino, tmp_path / 'x.pth')  # DINO has only teacher keys here


def _mmengine_like_checkpoint(path, state_dict, **meta):
    """What an mmengine training checkpoint pickles besides tensors: HistoryBuffer, numpy values."""
    from mmengine.logging import HistoryBuffer
    hub = HistoryBuffer()
    hub.update(0.5)
    torch.save(
        dict(
            state_dict=state_dict,
            message_hub=dict(log_scalars={'train/loss': hub}),
            meta=dict(epoch=3, seed=np.int64(7), arr=np.arange(2), **meta)), path)
    return path


def test_load_checkpoint_file_is_weights_only_with_the_allow_list(tmp_path):
    from mmspatial.engine.safe_load import UntrustedCheckpointError
    from mmspatial.models.utils.checkpoint_convert import load_checkpoint_file
    weights = {'backbone.conv1.weight': torch.ones(2, 3, 1, 1)}
    good = _mmengine_like_checkpoint(tmp_path / 'good.pth', weights)
    ckpt = load_checkpoint_file(str(good))
    assert ckpt['message_hub']['log_scalars']['train/loss'].current() == 0.5 and ckpt['meta']['seed'] == 7
    marker = tmp_path / 'pwned'
    evil = _mmengine_like_checkpoint(tmp_path / 'evil.pth', weights, x=WritesMarker(marker))
    with pytest.raises(UntrustedCheckpointError) as err:
        load_checkpoint_file(str(evil))
    assert 'posix.system' in str(err.value) and str(evil) in str(err.value)
    assert not marker.exists(), 'the checkpoint ran its command'
    load_checkpoint_file(str(evil), trust=True)  # explicit trust unpickles in full: the refusal was real
    assert marker.exists()
    with pytest.raises(FileNotFoundError, match='missing.pth'):
        load_checkpoint_file(str(tmp_path / 'missing.pth'))


@pytest.mark.parametrize('script,out', [('extract_backbone.py', 'x.pth'), ('to_timm.py', 'x.pth'),
                                        ('to_detectron2.py', 'x.pkl')])
def test_cli_converters_refuse_a_checkpoint_that_runs_code(tmp_path, script, out):
    from mmpretrain.models.backbones import ResNet

    from mmspatial.engine.safe_load import UntrustedCheckpointError
    r18 = {f'backbone.{k}': v for k, v in ResNet(depth=18).state_dict().items()}
    marker = tmp_path / 'pwned'
    evil = _mmengine_like_checkpoint(tmp_path / 'evil.pth', r18, x=WritesMarker(marker))
    with pytest.raises(UntrustedCheckpointError, match='posix.system'):
        run_cli(script, evil, tmp_path / out)
    assert not marker.exists() and not (tmp_path / out).exists()
    good = _mmengine_like_checkpoint(tmp_path / 'good.pth', r18)
    run_cli(script, good, tmp_path / out)  # an mmengine checkpoint converts
    assert (tmp_path / out).exists()
    run_cli(script, evil, tmp_path / ('trusted_' + out), '--trust-checkpoint')
    assert marker.exists() and (tmp_path / ('trusted_' + out)).exists()

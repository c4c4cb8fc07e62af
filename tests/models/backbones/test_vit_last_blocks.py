"""ViTLastBlocks: DINO's linear-eval feature from mmpretrain's VisionTransformer."""
import pytest
import torch
from mmpretrain.models.backbones import VisionTransformer

from mmspatial.models.backbones.vit_last_blocks import ViTLastBlocks

ARCH = dict(embed_dims=32, num_layers=4, num_heads=2, feedforward_channels=64)


@pytest.mark.parametrize('avgpool', [False, True])
def test_feature_is_the_normalised_cls_tokens_of_the_last_blocks(avgpool):
    torch.manual_seed(0)
    model = ViTLastBlocks(n_last_blocks=2, avgpool_patchtokens=avgpool, arch=ARCH, img_size=32, patch_size=8)
    model.eval()  # (mmpretrain's ViT.train() returns None: no chaining)
    # same weights in a plain ViT that returns the raw tokens of every block (no final norm)
    plain = VisionTransformer(
        arch=ARCH, img_size=32, patch_size=8, out_indices=[0, 1, 2, 3], out_type='raw', final_norm=False)
    plain.eval()
    missing, unexpected = plain.load_state_dict(model.state_dict(), strict=False)
    assert not missing and unexpected == ['ln1.weight', 'ln1.bias']  # the final norm only
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        (feat, ) = model(x)
        tokens = plain(x)
        expected = [model.ln1(tokens[2])[:, 0], model.ln1(tokens[3])[:, 0]]
        if avgpool:
            expected.append(model.ln1(tokens[3])[:, 1:].mean(1))
    assert feat.shape == (2, model.feature_dim) == (2, 32 * (2 + avgpool))
    torch.testing.assert_close(feat, torch.cat(expected, dim=1))


def test_state_dict_matches_vision_transformer_and_freezing():
    model = ViTLastBlocks(arch=ARCH, img_size=32, patch_size=8, frozen_stages=4)
    ref = VisionTransformer(arch=ARCH, img_size=32, patch_size=8)
    assert model.state_dict().keys() == ref.state_dict().keys()
    assert not any(p.requires_grad for p in model.parameters())


def test_bad_arguments():
    with pytest.raises(TypeError, match='out_indices'):
        ViTLastBlocks(arch=ARCH, out_indices=[3])
    with pytest.raises(ValueError, match='CLS token'):
        ViTLastBlocks(arch=ARCH, with_cls_token=False)
    with pytest.raises(ValueError, match='n_last_blocks'):
        ViTLastBlocks(arch=ARCH, n_last_blocks=5)

"""Small BYOL-style parts shared by the SCRL and SP-wrapper tests (ResNet-18 with 512 -> 64 -> 32 MLPs)."""
from typing import Optional

PREPROCESSOR = dict(
    type='SelfSupDataPreprocessor', mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], to_rgb=True)


def latent_predict_neck_head(loss: Optional[dict] = None, **mlp_kwargs) -> dict:
    """``neck`` (NonLinearNeck 512 -> 64 -> 32) and ``head`` (LatentPredictHead, predictor 32 -> 64 -> 32).

    Args:
        loss: the head's loss; defaults to ``dict(type='CosineSimilarityLoss')``.
        **mlp_kwargs: extra NonLinearNeck arguments for the neck and the predictor (e.g. ``norm_cfg``).
    """
    mlp = dict(type='NonLinearNeck', hid_channels=64, out_channels=32, with_bias=True, with_last_bn=False, **mlp_kwargs)
    return dict(
        neck=dict(mlp, in_channels=512),
        head=dict(
            type='LatentPredictHead',
            loss=loss or dict(type='CosineSimilarityLoss'),
            predictor=dict(mlp, in_channels=32, with_avg_pool=False)))

"""Semantic-FPN depth head: mmseg's ``FPNHead`` with a one-channel depth output, for ``DepthEstimator``.

Why this head: mmseg 1.2.2 ships one depth head, ``VPDDepthHead`` (Zhao et al., https://arxiv.org/abs/2303.02153),
which is wired to VPD's UNet pyramid (strides s, 2s, 4s, 8s aggregated at 4s into 1536 channels) and does not fit a
stride-16 ViT. Its segmentation heads (``FPNHead``, ``UPerHead``) regress nothing: their ``loss_by_feat`` reads
``gt_sem_seg``. This head keeps the light Semantic FPN decoder of our ADE20K transfer configs (Kirillov et al.,
"Panoptic Feature Pyramid Networks", https://arxiv.org/abs/1901.02446; mmseg ``FPNHead``: per-level 3x3 convs
upsampled to stride 4 and summed) and replaces the classifier by one output channel mapped to metres the way
``VPDDepthHead.forward`` does (``sigmoid(x) * max_depth``); the loss compares the prediction, resized to the label,
with ``gt_depth_map`` as ``VPDDepthHead.loss_by_feat`` does (default ``SiLogLoss``).

Registered in mmseg's ``MODELS`` when mmseg is installed (it is optional, like ``ViTSimpleFPN``).
"""
from typing import Sequence

import torch
from torch import Tensor, nn

try:
    from mmseg.models.decode_heads import FPNHead
    from mmseg.models.utils import resize
    from mmseg.registry import MODELS
except ImportError:  # mmseg is optional (pip install mmspatial[seg])
    FPNHead = None

if FPNHead is not None:

    @MODELS.register_module()
    class DepthFPNHead(FPNHead):
        """Semantic FPN decoder regressing metric depth (see the module docstring).

        Args:
            max_depth (float): depth of a saturated output, in the label's unit (metres). Defaults to 10.0
                (NYU-Depth-v2, as mmseg's VPD configs).
            loss_decode (dict | Sequence[dict]): depth losses taking ``(pred, target)`` of equal shape.
                Defaults to ``dict(type='SiLogLoss')``.
            **kwargs: ``FPNHead`` / ``BaseDecodeHead`` arguments (``in_channels``, ``channels``,
                ``feature_strides``, ``in_index``, ``norm_cfg``, ``dropout_ratio``, ``align_corners`` ...);
                ``num_classes`` and ``out_channels`` are fixed to 1.
        """

        def __init__(self, max_depth: float = 10.0, loss_decode=dict(type='SiLogLoss'), **kwargs) -> None:
            for key in ('num_classes', 'out_channels'):
                if kwargs.pop(key, 1) != 1:
                    raise ValueError(f'DepthFPNHead predicts one depth channel; {key} must be 1')
            if max_depth <= 0:
                raise ValueError(f'DepthFPNHead: max_depth must be positive, got {max_depth}')
            # threshold is BaseDecodeHead's binary-segmentation cut-off for one output channel; unused here.
            super().__init__(num_classes=1, out_channels=1, threshold=0.5, loss_decode=loss_decode, **kwargs)
            self.max_depth = float(max_depth)

        def forward(self, inputs: Sequence[Tensor]) -> Tensor:
            """Depth in metres, (N, 1, H/4, W/4) for stride-4 first input."""
            return torch.sigmoid(super().forward(inputs)) * self.max_depth

        def loss_by_feat(self, seg_logits: Tensor, batch_data_samples) -> dict:
            """Depth losses against ``gt_depth_map`` (pixels with depth 0 are ignored by ``SiLogLoss``)."""
            gt = torch.stack([s.gt_depth_map.data for s in batch_data_samples], dim=0)
            pred = resize(seg_logits, size=gt.shape[2:], mode='bilinear', align_corners=self.align_corners)
            losses_decode = self.loss_decode if isinstance(self.loss_decode, nn.ModuleList) else [self.loss_decode]
            loss = dict()
            for loss_decode in losses_decode:
                value = loss_decode(pred, gt)
                loss[loss_decode.loss_name] = loss.get(loss_decode.loss_name, 0) + value
            return loss

"""SelfPatch's patch-level loss.

Reference: the ``v == iq`` branch and ``update_patch_center`` of ``DINOLoss`` in ``main_selfpatch.py``
of alinlab/SelfPatch@81aef14 (Yun et al., CVPR 2022, https://arxiv.org/abs/2206.07990). For every
view ``v`` (global and local crops), the teacher's aggregated neighbour token ``y_i`` supervises the
student's own patch token ``i`` of the same view::

    L_patch = mean over views of  mean over (sample, patch i) of  -sum_c q_{v,i} log p_{v,i}
    q = softmax((t - patch_center) / teacher_temp),   p = softmax(s / student_temp)

with a centre of its own, an EMA of the mean teacher patch output over all patches of all views
(weighted by patch count, so a 224-px view counts more than a 96-px one, as in the reference).
"""
from typing import Sequence

import torch
from mmpretrain.registry import MODELS
from torch import Tensor

from .dino_loss import CenteredDistillationLoss, dino_cross_entropy

__all__ = ['SelfPatchLoss']


@MODELS.register_module()
class SelfPatchLoss(CenteredDistillationLoss):
    """Same-view, same-position cross-entropy between teacher and student patch outputs.

    Args: see :class:`~mmspatial.models.losses.dino_loss.CenteredDistillationLoss` (the reference
    uses ``out_channels=4096``, the same temperatures and centre momentum as the image loss).
    """

    def forward(self,
                student_outputs: Sequence[Tensor],
                teacher_outputs: Sequence[Tensor],
                update_center: bool = True) -> Tensor:
        """Compute the loss.

        Args:
            student_outputs (Sequence[Tensor]): ``(B, N_v, C)`` student patch logits, one per view.
            teacher_outputs (Sequence[Tensor]): ``(B, N_v, C)`` teacher logits of the aggregated
                neighbour tokens, same views in the same order.
            update_center (bool): update the patch centre afterwards. Defaults to True.

        Returns:
            Tensor: scalar loss (average over views of the per-view mean).
        """
        if len(student_outputs) != len(teacher_outputs) or not student_outputs:
            raise ValueError(f'need one teacher output per student view, got {len(teacher_outputs)} '
                             f'teacher and {len(student_outputs)} student outputs')
        total = 0.
        for s, t in zip(student_outputs, teacher_outputs):
            if s.shape != t.shape:
                raise ValueError(f'student {tuple(s.shape)} and teacher {tuple(t.shape)} patch outputs '
                                 'of a view must have the same shape')
            total = total + dino_cross_entropy(s, self.teacher_probs(t), self.student_temp)
        if update_center:
            self.update_center(torch.cat([t.reshape(-1, t.shape[-1]) for t in teacher_outputs]))
        return total / len(student_outputs)

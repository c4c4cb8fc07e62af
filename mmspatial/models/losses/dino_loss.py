"""DINO's self-distillation loss: cross-entropy to the teacher's centred, sharpened outputs.

Reference: ``DINOLoss`` in ``main_dino.py`` of facebookresearch/dino (Caron et al., ICCV 2021,
https://arxiv.org/abs/2104.14294). For teacher outputs ``t`` (global crops) and student outputs ``s``
(all crops)::

    L = mean over pairs (i, j), i != j, of  mean over samples of  -sum_c q_i log p_j
    q_i = softmax((t_i - center) / teacher_temp),   p_j = softmax(s_j / student_temp)
    center <- m * center + (1 - m) * mean(t)          (mean over samples of all ranks)

The teacher temperature is an attribute, set every iteration by ``DINOTeacherTempHook`` (the
reference indexes a per-epoch warm-up schedule inside the loss). The loss is computed in float32 (under
autocast the reference's softmaxes run in float32 too).
"""
from typing import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.dist import all_reduce
from mmpretrain.registry import MODELS
from torch import Tensor

__all__ = ['dino_cross_entropy', 'CenteredDistillationLoss', 'DINOLoss']


def dino_cross_entropy(student_logits: Tensor, teacher_probs: Tensor, student_temp: float) -> Tensor:
    """``-sum_c q * log_softmax(s / T_s)`` averaged over all leading dimensions."""
    log_p = F.log_softmax(student_logits.float() / student_temp, dim=-1)
    return torch.sum(-teacher_probs * log_p, dim=-1).mean()


class CenteredDistillationLoss(nn.Module):
    """Teacher centring (EMA over ranks) and sharpening shared by the image and patch losses.

    Args:
        out_channels (int): output size of the projection head.
        student_temp (float): student temperature. Defaults to 0.1.
        teacher_temp (float): initial teacher temperature (the hook updates it). Defaults to 0.04.
        center_momentum (float): EMA momentum of the centre. Defaults to 0.9.
    """

    def __init__(self,
                 out_channels: int,
                 student_temp: float = 0.1,
                 teacher_temp: float = 0.04,
                 center_momentum: float = 0.9) -> None:
        super().__init__()
        for name, value in (('student_temp', student_temp), ('teacher_temp', teacher_temp)):
            if value <= 0:
                raise ValueError(f'{name} must be > 0, got {value}')
        if not 0 <= center_momentum <= 1:
            raise ValueError(f'center_momentum must be in [0, 1], got {center_momentum}')
        self.out_channels = out_channels
        self.student_temp = student_temp
        self.teacher_temp = teacher_temp
        self.center_momentum = center_momentum
        self.register_buffer('center', torch.zeros(1, out_channels))

    def teacher_probs(self, teacher_logits: Tensor) -> Tensor:
        """Centred and sharpened teacher distribution, without gradient."""
        return F.softmax((teacher_logits.detach().float() - self.center) / self.teacher_temp, dim=-1)

    @torch.no_grad()
    def update_center(self, teacher_logits: Tensor) -> None:
        """EMA of the mean teacher output over every row of ``(..., C)`` on all ranks.

        The reference divides the all-reduced sum by ``rows * world_size``; all-reducing the row
        count as well gives the same value and stays right when ranks hold different batch sizes.
        """
        rows = teacher_logits.detach().float().reshape(-1, self.out_channels)
        stats = torch.cat([rows.sum(0), rows.new_tensor([rows.shape[0]])])
        all_reduce(stats, op='sum')  # no-op when not distributed
        batch_center = (stats[:-1] / stats[-1])[None]
        self.center.mul_(self.center_momentum).add_(batch_center, alpha=1 - self.center_momentum)

    def extra_repr(self) -> str:
        return (f'out_channels={self.out_channels}, student_temp={self.student_temp}, '
                f'teacher_temp={self.teacher_temp}, center_momentum={self.center_momentum}')


@MODELS.register_module()
class DINOLoss(CenteredDistillationLoss):
    """DINO image-level loss over multi-crop outputs (see the module docstring).

    Teacher output ``i`` and student output ``i`` must come from the same view (the teacher sees the
    first ``len(teacher_outputs)`` views, i.e. the global crops); those same-view pairs are skipped.
    """

    def forward(self,
                student_outputs: Sequence[Tensor],
                teacher_outputs: Sequence[Tensor],
                update_center: bool = True) -> Tensor:
        """Compute the loss.

        Args:
            student_outputs (Sequence[Tensor]): ``(B, C)`` student logits, one per view (all crops).
            teacher_outputs (Sequence[Tensor]): ``(B, C)`` teacher logits for the first views.
            update_center (bool): update the centre with ``teacher_outputs`` afterwards (SelfPatch
                updates it with the teacher outputs of all crops instead). Defaults to True.

        Returns:
            Tensor: scalar loss.
        """
        if len(teacher_outputs) > len(student_outputs):
            raise ValueError(f'{len(teacher_outputs)} teacher outputs but only '
                             f'{len(student_outputs)} student outputs')
        total, terms = 0., 0
        for i, t in enumerate(teacher_outputs):
            q = self.teacher_probs(t)
            for j, s in enumerate(student_outputs):
                if i == j:
                    continue
                total = total + dino_cross_entropy(s, q, self.student_temp)
                terms += 1
        if terms == 0:
            raise ValueError('DINOLoss needs at least one (teacher, student) pair of different views')
        if update_center:
            self.update_center(torch.cat(list(teacher_outputs)))
        return total / terms

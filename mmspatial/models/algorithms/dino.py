"""DINO: self-distillation with no labels.

Caron et al., "Emerging Properties in Self-Supervised Vision Transformers", ICCV 2021,
https://arxiv.org/abs/2104.14294. Reference code: facebookresearch/dino ``main_dino.py``
(``train_one_epoch``, ``DINOLoss``), ``utils.py`` (``MultiCropWrapper``, ``cosine_scheduler``,
``cancel_gradients_last_layer``, ``clip_gradients``) and ``vision_transformer.py`` (``DINOHead``).

The student sees every crop, an EMA teacher (no gradients, no stochastic depth) the global ones; the
teacher moves after every optimiser step through ``DINOTeacherMomentumHook``, and training without that
hook is an error at the first step. Which piece of the reference lives where, and why the update comes
after the step: ``configs/dino/README.md``.
"""
import copy
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmpretrain.models.selfsup import BaseSelfSupervisor
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample
from torch import Tensor

__all__ = ['DINO', 'group_by_resolution', 'disable_drop_path']


def group_by_resolution(crops: Sequence[Tensor]) -> List[Tuple[int, int]]:
    """``[start, end)`` ranges of consecutive crops with the same spatial size (``MultiCropWrapper``)."""
    groups, start = [], 0
    for i in range(1, len(crops) + 1):
        if i == len(crops) or crops[i].shape[-2:] != crops[start].shape[-2:]:
            groups.append((start, i))
            start = i
    return groups


def disable_drop_path(module: nn.Module) -> None:
    """Set the rate of every stochastic-depth module (mmcv/timm ``DropPath``) to 0."""
    for m in module.modules():
        if type(m).__name__ == 'DropPath' and hasattr(m, 'drop_prob'):
            m.drop_prob = 0.


@MODELS.register_module()
class DINO(BaseSelfSupervisor):
    """DINO with an EMA teacher and multi-crop training.

    ``inputs`` is the list of crops made by ``DINOMultiCrop``: the ``num_global_crops`` global crops
    first, then the local crops. The student sees all crops, the teacher the global ones; the loss is
    ``DINOLoss`` over all (teacher, student) pairs of different views.

    Args:
        backbone (dict): e.g. ``VisionTransformer(arch='deit-small', out_type='cls_token')`` (ViT-S/16:
            384 dims, 12 layers, 6 heads; mmpretrain's ``arch='small'`` is a different model). A
            backbone giving ``(B, C, H, W)`` maps is average-pooled.
        neck (dict): projection head, ``DINONeck``.
        loss (dict): ``DINOLoss``.
        num_global_crops (int): leading crops the teacher sees. Defaults to 2.
        pretrained (str, optional): checkpoint loaded by ``init_weights``; the teacher is then reset
            to the student (use ``--resume`` to continue a run with its teacher).
        data_preprocessor (dict, optional): Defaults to ``SelfSupDataPreprocessor``.
        init_cfg (dict, optional): initialisation config.
    """

    def __init__(self,
                 backbone: dict,
                 neck: dict,
                 loss: dict,
                 num_global_crops: int = 2,
                 pretrained: Optional[str] = None,
                 data_preprocessor: Optional[Union[dict, nn.Module]] = None,
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        super().__init__(
            backbone=backbone, neck=neck, pretrained=pretrained, data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self._setup_dino(loss, num_global_crops)
        self.teacher = self._build_teacher()

    def _setup_dino(self, loss: dict, num_global_crops: int) -> None:
        """Loss and crop settings shared with subclasses (which build their teacher afterwards)."""
        if num_global_crops < 1:
            raise ValueError(f'num_global_crops must be >= 1, got {num_global_crops}')
        self.num_global_crops = num_global_crops
        self.dino_loss = MODELS.build(loss)
        self.register_teacher_updater(None)

    # ----------------------------------------------------------------------------------------------
    # student / teacher
    def student_modules(self) -> Dict[str, nn.Module]:
        """Modules the teacher mirrors, by name (subclasses add theirs)."""
        return {'backbone': self.backbone, 'neck': self.neck}

    def _build_teacher(self) -> nn.ModuleDict:
        teacher = nn.ModuleDict({k: copy.deepcopy(m) for k, m in self.student_modules().items()})
        disable_drop_path(teacher)
        teacher.requires_grad_(False)
        return teacher

    def _param_pairs(self):
        """Yield ``(teacher_param, student_param)``, checked to have matching names."""
        student = nn.ModuleDict(self.student_modules())
        for (name_t, p_t), (name_s, p_s) in zip(self.teacher.named_parameters(), student.named_parameters()):
            if name_t != name_s or p_t.shape != p_s.shape:
                raise RuntimeError(f'teacher/student mismatch: {name_t} vs {name_s}')
            yield p_t, p_s

    @torch.no_grad()
    def copy_student_to_teacher(self) -> None:
        for p_t, p_s in self._param_pairs():
            p_t.copy_(p_s)

    def init_weights(self) -> None:
        """Initialise the student, then start the teacher from the same weights (as the reference)."""
        super().init_weights()
        self.copy_student_to_teacher()

    @torch.no_grad()
    def momentum_update(self, momentum: float) -> None:
        """``teacher = momentum * teacher + (1 - momentum) * student``, over all parameters."""
        if not 0 <= momentum <= 1:
            raise ValueError(f'momentum must be in [0, 1], got {momentum}')
        pairs = list(self._param_pairs())
        teacher, student = [p_t.data for p_t, _ in pairs], [p_s.detach() for _, p_s in pairs]
        # multi-tensor ops: the same two in-place updates per parameter as a loop, in fewer kernel calls
        torch._foreach_mul_(teacher, momentum)
        torch._foreach_add_(teacher, student, alpha=1 - momentum)
        self._teacher_update_due = False

    def register_teacher_updater(self, name: Optional[str]) -> None:
        """Declare what updates the teacher after every optimiser step (``None``: nothing).

        ``DINOTeacherMomentumHook`` registers itself before training and withdraws after it. A loop
        written by hand that calls :meth:`momentum_update` after each step registers a name of its own.
        A training-mode :meth:`loss` with nothing registered, or before the previous step's update,
        raises: a forgotten hook would otherwise train against a teacher frozen at initialisation.
        """
        self._teacher_updater = name
        self._teacher_update_due = False

    def _check_teacher_update(self) -> None:
        """Called by every training-mode :meth:`loss`, i.e. once per training step."""
        if self._teacher_updater is None:
            raise RuntimeError(
                f"{type(self).__name__}: nothing updates the teacher. Add dict(type='DINOTeacherMomentumHook', "
                'base_momentum=0.996) to custom_hooks (configs/dino/_base_/dino_adamw-coslr-100e.py has it); '
                "a hand-written loop calls model.register_teacher_updater('<name>') once and "
                'model.momentum_update(m) after every optimiser step')
        if self._teacher_update_due:
            raise RuntimeError(f'{type(self).__name__}: the teacher was not updated after the previous training '
                               f'step (updater: {self._teacher_updater}); momentum_update(m) must follow every '
                               'optimiser step')
        self._teacher_update_due = True

    # ----------------------------------------------------------------------------------------------
    # forward
    @staticmethod
    def backbone_features(backbone: nn.Module, x: Tensor) -> Tensor:
        """Image features ``(B, C)``: the last backbone output, average-pooled if it is a map."""
        feat = backbone(x)
        if isinstance(feat, (tuple, list)):
            feat = feat[-1]
        if feat.dim() == 4:
            feat = feat.mean(dim=(2, 3))
        if feat.dim() != 2:
            raise ValueError(f'DINO needs (B, C) backbone features (use out_type="cls_token" for a '
                             f'ViT), got shape {tuple(feat.shape)}')
        return feat

    def encode(self, modules: Dict[str, nn.Module], crops: Sequence[Tensor]) -> List[Tensor]:
        """Projection-head outputs ``(B, out)`` for each crop; one backbone pass per crop size."""
        feats = [
            self.backbone_features(modules['backbone'], torch.cat(list(crops[s:e])))
            for s, e in group_by_resolution(crops)
        ]
        out = modules['neck'](torch.cat(feats))
        return list(out.split([c.shape[0] for c in crops]))

    def check_crops(self, inputs: Union[Tensor, Sequence[Tensor]]) -> List[Tensor]:
        if isinstance(inputs, Tensor) or len(inputs) < max(self.num_global_crops, 2):
            n = 1 if isinstance(inputs, Tensor) else len(inputs)
            raise ValueError(f'{type(self).__name__} needs a list of >= {max(self.num_global_crops, 2)} '
                             f'crops (global first) from DINOMultiCrop, got {n}')
        return list(inputs)

    def check_training_step(self, inputs: Union[Tensor, Sequence[Tensor]]) -> List[Tensor]:
        """The crops of a :meth:`loss` call; in training mode, also the teacher-update check."""
        crops = self.check_crops(inputs)
        if self.training:
            self._check_teacher_update()
        return crops

    def loss(self, inputs: List[Tensor], data_samples: List[DataSample]) -> Dict[str, Tensor]:
        """DINO loss of a multi-crop batch.

        Args:
            inputs (list[Tensor]): crops ``(B, 3, H_v, W_v)``, global crops first.
            data_samples (list[DataSample]): unused.

        Returns:
            dict[str, Tensor]: ``loss``.
        """
        crops = self.check_training_step(inputs)
        student_out = self.encode(self.student_modules(), crops)
        with torch.no_grad():
            teacher_out = self.encode(self.teacher, crops[:self.num_global_crops])
        return dict(loss=self.dino_loss(student_out, teacher_out))

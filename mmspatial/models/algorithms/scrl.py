"""SCRL: Spatially Consistent Representation Learning (Roh et al., CVPR 2021)."""
import copy
from typing import Dict, List, Optional, Tuple, Union

import torch
import torch.distributed as dist
import torch.nn as nn
from mmpretrain.models.selfsup.base import BaseSelfSupervisor
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample
from torch import Tensor
from torchvision.ops import roi_align

from mmspatial.geometry import collect_view_geometry
from mmspatial.models.utils.scrl_box_generator import SCRLBoxes
from mmspatial.models.utils.scrl_target import SCRLTargetNetwork


@MODELS.register_module()
class SCRL(BaseSelfSupervisor):
    """SCRL: BYOL on RoI features of box pairs that show the same image region in two views.

    `Spatially Consistent Representation Learning <https://arxiv.org/abs/2103.06122>`_; reference code
    kakaobrain/scrl (master @62730fb): ``models/backbone.py``, ``models/box_generator.py``,
    ``trainer/trainer.py``, ``trainer/base.py``. Design notes, the reference's behaviour step by step and
    every difference from it: ``configs/scrl/README.md``.

    Contract: ``loss`` takes two views ``[v1, v2]`` of ``(B, 3, H, W)`` and data samples with the view
    geometry; it returns ``loss = mean_b[(2 - 2cos(q(z1_b), z2'_b)) + (2 - 2cos(q(z2_b), z1'_b))]``
    over the box pairs of the batch (under DDP: over the boxes of all ranks), where ``z`` is the
    projection (``neck``) of the box's RoI-aligned last-stage feature, ``q`` the predictor
    (``head.predictor``) and ``z'`` the same from the EMA target network (backbone + neck). A batch
    without any box gives a zero loss that still reaches every parameter.

    Args:
        backbone (dict): backbone config; its last output is pooled (e.g. ResNet stage 4).
        neck (dict): projector, e.g. ``NonLinearNeck(2048, 4096, 256, with_bias=True,
            with_last_bn=False)`` (Linear-BN-ReLU-Linear, no bias in the last Linear, as the reference).
        head (dict): ``LatentPredictHead`` with the predictor (256-4096-256) and
            ``CosineSimilarityLoss(shift_factor=2, scale_factor=2)``.
        base_tau (float): EMA coefficient at step 0 in the reference convention
            ``target <- tau * target + (1 - tau) * online``, annealed to 1 on a cosine: 0.97 for
            200 epochs, 0.996 for 1000; the schedule's length comes from ``SCRLTargetMomentumHook``
            (:meth:`set_target_schedule`), which the config must list in ``custom_hooks``. Defaults to 0.97.
        target_init (str): ``'random'``: the target starts from its own random initialisation, as the
            reference; ``'online'``: it starts as a copy of the online network (mmpretrain BYOL).
            Defaults to ``'random'``.
        box_generator (dict): :class:`SCRLBoxGenerator` config. Defaults to the reference settings.
        roi_align_cfg (dict): ``torchvision.ops.roi_align`` arguments ``output_size``,
            ``spatial_scale``, ``sampling_ratio``, ``aligned``. Defaults to the reference's
            ``(1, 1/32, -1, False)``. Outputs larger than 1x1 are averaged to one vector per box.
        image_loss_weight (float): weight of an extra image-level term (the same loss on globally
            pooled features; the reference has none). Defaults to 0.
        channels_last (bool): keep the online and target backbones (and the views) in channels-last
            memory format. Same computation (losses equal to fp32 rounding), faster convolutions and
            max-pooling on CPU (oneDNN) and with AMP on GPU; ``benchmarks/bench_scrl.py --speed``
            measures it. Defaults to False.
        compile_cfg (bool | dict, optional): ``torch.compile`` (``nn.Module.compile``, in place: state-dict
            keys unchanged) the online and target backbones, the projectors and the predictor with these
            keyword arguments (``True``: defaults). Box sampling and RoIAlign stay eager (data-dependent box
            counts); mmengine's ``cfg.compile`` of the whole ``train_step`` fails in the box sampler.
            ``benchmarks/bench_scrl.py --speed --compile`` measures it. Defaults to None (eager).
        pretrained (str, optional): checkpoint to initialise from.
        data_preprocessor (dict, optional): defaults to ``SelfSupDataPreprocessor``.
        init_cfg (dict | list[dict], optional): initialisation config.
    """

    def __init__(self,
                 backbone: dict,
                 neck: dict,
                 head: dict,
                 base_tau: float = 0.97,
                 target_init: str = 'random',
                 box_generator: Optional[dict] = None,
                 roi_align_cfg: Optional[dict] = None,
                 image_loss_weight: float = 0.,
                 channels_last: bool = False,
                 compile_cfg: Optional[Union[bool, dict]] = None,
                 pretrained: Optional[str] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[Union[List[dict], dict]] = None) -> None:
        super().__init__(
            backbone=backbone,
            neck=neck,
            head=head,
            pretrained=pretrained,
            data_preprocessor=data_preprocessor,
            init_cfg=init_cfg)
        if not 0.5 <= base_tau < 1:
            raise ValueError(f'base_tau={base_tau}: SCRL takes the EMA coefficient in the reference convention '
                             '(target <- tau * target + (1 - tau) * online, e.g. 0.97 or 0.996); a small value '
                             "like 0.004 is mmpretrain CosineEMA's `momentum = 1 - tau`")
        if image_loss_weight < 0:
            raise ValueError(f'image_loss_weight must be >= 0, got {image_loss_weight}')
        if target_init not in SCRLTargetNetwork.INIT:
            raise ValueError(f'target_init must be one of {SCRLTargetNetwork.INIT}, got {target_init!r}')
        self.base_tau = base_tau
        self.image_loss_weight = image_loss_weight
        box_generator = dict(box_generator or {})
        box_generator.setdefault('type', 'SCRLBoxGenerator')
        self.box_generator = MODELS.build(box_generator)
        self.roi_align_cfg = dict(output_size=1, spatial_scale=1 / 32, sampling_ratio=-1, aligned=False)
        unknown = set(roi_align_cfg or {}) - set(self.roi_align_cfg)
        if unknown:
            raise KeyError(f'roi_align_cfg: unknown keys {sorted(unknown)}; expected '
                           f'{sorted(self.roi_align_cfg)}')
        self.roi_align_cfg.update(roi_align_cfg or {})
        if target_init == 'random':
            # the target's own modules, built from the same configs (a copy of a pre-built module
            # starts equal to it); initialised with their init_cfg when the model is
            target = nn.Sequential(
                *[copy.deepcopy(cfg) if isinstance(cfg, nn.Module) else MODELS.build(cfg) for cfg in (backbone, neck)])
        else:
            target = copy.deepcopy(nn.Sequential(self.backbone, self.neck))  # overwritten at step 0
        self.target_net = SCRLTargetNetwork(target, base_tau, init=target_init)
        self.channels_last = channels_last
        self._in_channels_last = False  # converted at the first loss (after init_weights)
        if compile_cfg:
            kwargs = {} if compile_cfg is True else dict(compile_cfg)
            for module in (self.backbone, self.neck, self.head.predictor, *self.target_net.module):
                module.compile(**kwargs)

    def set_target_schedule(self, max_iters: int) -> None:
        """Length ``K`` of the target's momentum schedule (see :class:`SCRLTargetNetwork`).

        Set before each training iteration by ``SCRLTargetMomentumHook``; a hand-written loop calls it
        once with its number of steps. The loss raises if it was never called.
        """
        self.target_net.set_schedule(max_iters)

    def _backbones_to(self, memory_format: torch.memory_format) -> None:
        self.backbone.to(memory_format=memory_format)
        self.target_net.module[0].to(memory_format=memory_format)
        self._in_channels_last = memory_format == torch.channels_last

    def init_weights(self) -> None:
        """Initialise in the default layout: in-place random init fills memory in order, so a
        channels-last tensor would get other values from the same seed; the first loss converts."""
        if self._in_channels_last:
            self._backbones_to(torch.contiguous_format)
        super().init_weights()

    def last_stage(self, backbone: nn.Module, views: List[Tensor]) -> List[Tensor]:
        """Last backbone output of each view; one backbone call when the views have one size."""
        if self.channels_last:
            if not self._in_channels_last:
                # values unchanged; later in-place updates (optimiser, EMA, load_state_dict) keep the layout
                self._backbones_to(torch.channels_last)
            views = [v.contiguous(memory_format=torch.channels_last) for v in views]
        if all(v.shape == views[0].shape for v in views):
            return list(backbone(torch.cat(views))[-1].chunk(len(views)))
        return [backbone(v)[-1] for v in views]

    def pool_boxes(self, feats: List[Tensor], rois: List[Tensor]) -> Tensor:
        """RoI-align the boxes of each view on its feature map; ``(sum N_v, C, 1, 1)``.

        Pooling runs in float32 (as torchvision's autocast rule for ``roi_align`` does), so that box
        coordinates keep sub-pixel precision when the features are half precision.
        """
        pooled = [
            roi_align(f.float(), r.to(f.device, torch.float32), **self.roi_align_cfg).to(f.dtype)
            for f, r in zip(feats, rois)
        ]
        return torch.cat(pooled).mean(dim=(2, 3), keepdim=True)

    def box_rois(self,
                 boxes: SCRLBoxes,
                 views: List[Tensor],
                 num_boxes: Optional[int] = None) -> Tuple[List[Tensor], bool]:
        """``(N, 5)`` RoIs per view and whether they are real boxes.

        With no box in the whole batch, every view's full frame stands in (see :meth:`loss`).
        """
        if (boxes.num_boxes if num_boxes is None else num_boxes) > 0:
            return [boxes.rois(0), boxes.rois(1)], True
        full = []
        for view in views:
            num, (h, w) = view.shape[0], view.shape[-2:]
            frame = torch.tensor([0., 0., float(w), float(h)]).repeat(num, 1)
            full.append(torch.cat([torch.arange(num, dtype=torch.float32)[:, None], frame], dim=1))
        return full, False

    def symmetric_loss(self, online: Tensor, target: Tensor) -> Tensor:
        """Reference ``_criterion``: ``online``/``target`` are ``[view 1; view 2]`` projections.

        The predictor sees both views as one batch (as in the reference); ``head.loss`` averages
        over the ``2N`` (pred, swapped target) rows, so twice it is the reference's per-box sum of
        the two directions averaged over boxes.
        """
        t1, t2 = target.chunk(2)
        return 2 * self.head.loss(online, torch.cat([t2, t1]))

    @staticmethod
    def _global_box_weight(num_boxes: int, device: torch.device) -> Optional[Tensor]:
        """``num_boxes / mean over ranks of num_boxes`` under DDP (0 if no rank has a box), else None."""
        if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
            return None
        total = torch.tensor([float(num_boxes)], device=device)
        dist.all_reduce(total)  # every rank calls loss() once per step: the collective stays in step
        mean_per_rank = total[0] / dist.get_world_size()
        if mean_per_rank <= 0:
            return torch.zeros((), device=device)
        return float(num_boxes) / mean_per_rank

    def loss(self, inputs: List[Tensor], data_samples: List[DataSample], **kwargs) -> Dict[str, Tensor]:
        """Compute the SCRL loss of a batch of two views.

        Args:
            inputs (list[Tensor]): the two views, each ``(B, 3, H, W)``.
            data_samples (list[DataSample]): samples carrying the view geometry
                (``PackInputs(algorithm_keys=mmspatial.geometry.GEOMETRY_KEYS)``).

        Returns:
            dict[str, Tensor]: ``loss`` (or ``loss_scrl`` and ``loss_byol`` with an image-level
            term), plus ``num_boxes`` and ``valid_images`` for logging (not summed into the loss).
        """
        if not isinstance(inputs, (list, tuple)) or len(inputs) != 2:
            raise ValueError('SCRL expects two views (MultiViewWithGeometry with num_views=[1, 1]), '
                             f'got {type(inputs).__name__} of {len(inputs)} views')
        views = list(inputs)
        geometry = collect_view_geometry(data_samples)
        boxes = self.box_generator(geometry[0], geometry[1])
        num_boxes = boxes.num_boxes  # the step's one host sync for the boxes (on GPU it waits for them)
        rois, real = self.box_rois(boxes, views, num_boxes)

        feats = self.last_stage(self.backbone, views)
        online = self.neck([self.pool_boxes(feats, rois)])[0]
        with torch.no_grad():
            self.target_net.update_parameters(nn.Sequential(self.backbone, self.neck))
            target_backbone, target_neck = self.target_net.module
            target_feats = self.last_stage(target_backbone, views)
            target = target_neck([self.pool_boxes(target_feats, rois)])[0]
        loss = self.symmetric_loss(online, target)
        if not real:
            # No box anywhere in this batch. The loss still runs the backbone, projector and
            # predictor on stand-in boxes (whole views) and is multiplied by 0, so that (a) every
            # parameter gets a (zero) gradient and DDP without find_unused_parameters does not
            # hang, (b) SyncBN layers run the same collectives on every rank, and (c) no BN sees
            # an empty batch (NaN statistics). The batch then changes nothing but BN buffers.
            loss = loss * 0.
        weight = self._global_box_weight(num_boxes, loss.device)
        if weight is not None:
            loss = loss * weight

        device = loss.device
        extras = dict(
            num_boxes=torch.tensor(float(num_boxes), device=device),
            valid_images=boxes.valid.any(dim=1).float().mean().to(device))
        if self.image_loss_weight <= 0:
            return dict(loss=loss, **extras)
        online_img = self.neck([torch.cat(feats).mean(dim=(2, 3), keepdim=True)])[0]
        with torch.no_grad():
            target_img = target_neck([torch.cat(target_feats).mean(dim=(2, 3), keepdim=True)])[0]
        loss_byol = self.image_loss_weight * self.symmetric_loss(online_img, target_img)
        return dict(loss_scrl=loss, loss_byol=loss_byol, **extras)

"""ScatSimCLR: SimCLR on a scattering front-end, with an optional pretext-task regulariser.

Kinakh, Taran, Voloshynovskiy, "ScatSimCLR: self-supervised contrastive learning with pretext task
regularization for small-scale datasets", ICCV 2021 workshops, https://arxiv.org/abs/2108.13939.
Reference code: vkinakh/scatsimclr (``src/models/scatnet_simclr.py``, ``src/trainer/*.py``,
``src/loss/nt_xent_loss.py``). How the pieces map to the reference and every deliberate difference:
``configs/scatsimclr/README.md``.
"""
from typing import Dict, List, Optional, Union

import numpy as np
import torch
from mmpretrain.models.selfsup import BaseSelfSupervisor
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample


@MODELS.register_module()
class ScatSimCLR(BaseSelfSupervisor):
    """ScatSimCLR / SimCLR with an optional rotation or jigsaw regulariser on the features h.

    ``loss = NT-Xent(g(h(v1)), g(h(v2))) + lambda * CE(head(h(pretext inputs)), pretext labels)``
    (paper eq. 3), h = backbone output (2048-d for ``ScatNet``), g = projection neck. With a ResNet
    backbone, a ``MoCoV2Neck(with_avg_pool=True)`` neck and no pretext head this is the reference's
    SimCLR baseline (``ResNetSimCLR``).

    Inputs: ``[view1, view2]`` or, with a pretext head, ``[view1, view2, p_1, ..., p_T]`` (T = 4
    rotations or 9 jigsaw tiles per image, see ``mmspatial.datasets.transforms.pretext``) and
    ``data_sample.pretext_label``.

    The views go through the backbone one at a time by default, as the reference's trainers
    (``model(img1)``, ``model(img2)``: BatchNorm statistics per view); ``batched_views=True`` concatenates
    them into one forward (BatchNorm over 2N, mmpretrain's ``SimCLR``). Pretext inputs get their own
    forward in both cases, as in the reference.

    With ``pretext_start > 0`` the regulariser is off until epoch (or iteration) ``pretext_start``. The
    model reads no runner state: :class:`~mmspatial.engine.hooks.ScatSimCLRPretextScheduleHook` tells it
    the progress before every iteration (``set_pretext_progress``), and :meth:`loss` raises if the hook
    never ran while such a schedule is configured.

    Args:
        backbone (dict): backbone config, returns a 1-tuple whose element is h (or a map the neck pools).
        neck (dict): projection head config.
        loss (dict): contrastive loss. Defaults to ``NTXentLoss(temperature=0.5)``.
        pretext_head (dict, optional): ``RotationHead`` / ``JigsawHead`` config. Defaults to None.
        pretext_weight (float): lambda. Defaults to 0.3 (``config_pretext.yaml``).
        pretext_start (int): first epoch (or iteration) with the regulariser. Defaults to 0 (code); the
            paper's schedule is 40 epochs.
        pretext_start_by (str): 'epoch' or 'iter', the unit of ``pretext_start``. Defaults to 'epoch'.
        raw_pretext_inputs (bool): undo the data preprocessor's mean/std on the pretext inputs, so they
            reach the backbone in [0, 1] as the reference's jigsaw tiles (``Resize + ToTensor``). Use True
            for jigsaw, False (default) for rotation, whose images are normalised in the reference.
        batched_views (bool): one backbone forward for both views. Defaults to False (per view, as the
            reference).
        pretrained (str, optional): checkpoint to initialise from.
        data_preprocessor (dict, optional): defaults to ``SelfSupDataPreprocessor``.
        init_cfg (dict | list[dict], optional): initialisation config.
    """

    def __init__(self,
                 backbone: dict,
                 neck: dict,
                 loss: dict = dict(type='NTXentLoss', temperature=0.5),
                 pretext_head: Optional[dict] = None,
                 pretext_weight: float = 0.3,
                 pretext_start: int = 0,
                 pretext_start_by: str = 'epoch',
                 raw_pretext_inputs: bool = False,
                 batched_views: bool = False,
                 pretrained: Optional[str] = None,
                 data_preprocessor: Optional[Union[dict, torch.nn.Module]] = None,
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        super().__init__(
            backbone=backbone,
            neck=neck,
            head=None,
            pretrained=pretrained,
            data_preprocessor=data_preprocessor,
            init_cfg=init_cfg)
        if pretext_start_by not in ('epoch', 'iter'):
            raise ValueError(f"pretext_start_by must be 'epoch' or 'iter', got {pretext_start_by!r}")
        if pretext_start < 0:
            raise ValueError(f'pretext_start must be >= 0, got {pretext_start}')
        self.contrastive_loss = MODELS.build(loss)
        self.pretext_head = MODELS.build(pretext_head) if pretext_head is not None else None
        self.pretext_weight, self.pretext_start, self.pretext_start_by = \
            pretext_weight, pretext_start, pretext_start_by
        self.raw_pretext_inputs = raw_pretext_inputs
        self.batched_views = batched_views
        self._pretext_progress: Optional[int] = None  # set by ScatSimCLRPretextScheduleHook

    @property
    def needs_schedule_hook(self) -> bool:
        """Whether lambda depends on training progress, i.e. ``ScatSimCLRPretextScheduleHook`` is required."""
        return self.pretext_head is not None and self.pretext_start > 0

    def set_pretext_progress(self, epoch: int, iteration: int) -> None:
        """Record the training progress (0-based epoch and iteration) before an iteration."""
        self._pretext_progress = epoch if self.pretext_start_by == 'epoch' else iteration

    def current_pretext_weight(self) -> float:
        """lambda now: 0 before ``pretext_start``, else ``pretext_weight``."""
        if not self.needs_schedule_hook:
            return self.pretext_weight
        if self._pretext_progress is None:
            raise RuntimeError(
                f'ScatSimCLR has pretext_start={self.pretext_start} ({self.pretext_start_by}s) but does not '
                "know the training progress: add custom_hooks=[dict(type='ScatSimCLRPretextScheduleHook')] "
                'to the config (or call model.set_pretext_progress(epoch, iteration) before each step)')
        return self.pretext_weight if self._pretext_progress >= self.pretext_start else 0.

    def _to_raw(self, x: torch.Tensor) -> torch.Tensor:
        """Inverse of the preprocessor's normalisation, scaled to [0, 1] (torchvision ``ToTensor``)."""
        pre = self.data_preprocessor
        if getattr(pre, '_enable_normalize', False):
            x = x * pre.std + pre.mean
        return x / 255.

    def project_views(self, v1: torch.Tensor, v2: torch.Tensor):
        """Projections z of both views: per view (reference) or in one batch (``batched_views``)."""
        if self.batched_views:
            z = self.neck(self.backbone(torch.cat([v1, v2])))[0]
            return z[:v1.shape[0]], z[v1.shape[0]:]
        return self.neck(self.backbone(v1))[0], self.neck(self.backbone(v2))[0]

    def loss(self, inputs: List[torch.Tensor], data_samples: List[DataSample], **kwargs) -> Dict[str, torch.Tensor]:
        """Contrastive loss of views 0/1 (+ weighted pretext loss of inputs[2:])."""
        if not isinstance(inputs, (list, tuple)) or len(inputs) < 2:
            raise ValueError('ScatSimCLR needs a list of at least 2 views (MultiView(num_views=2))')
        weight = self.current_pretext_weight() if self.pretext_head is not None else 0.
        z1, z2 = self.project_views(inputs[0], inputs[1])
        losses = dict(loss_contrastive=self.contrastive_loss(z1, z2))
        if self.pretext_head is None:
            return losses
        if len(inputs) == 2:
            raise ValueError('a pretext head is set but the pipeline produced no pretext inputs '
                             '(add RotationPretext/JigsawPretext and MergePretextViews)')
        if weight == 0:
            # keep the head in the graph so DDP (find_unused_parameters=False) still syncs its grads
            losses['loss_pretext'] = sum(p.sum() for p in self.pretext_head.parameters()) * 0.
            return losses
        x = torch.stack(inputs[2:], dim=1).flatten(0, 1)  # (N * T, C, H, W), image-major
        if self.raw_pretext_inputs:
            x = self._to_raw(x)
        labels = torch.as_tensor(np.stack([np.asarray(s.pretext_label) for s in data_samples]), device=x.device)
        h = self.backbone(x)[0]
        if h.dim() > 2:  # feature maps (e.g. ResNet): global average pool, as the reference's ResNetSimCLR
            h = h.mean(dim=(2, 3))
        out = self.pretext_head.loss(h, labels)
        losses['loss_pretext'] = weight * out['loss']
        losses['acc_pretext'] = out['acc']
        return losses

"""Shared pieces of the DINO / SelfPatch tests: a tiny ViT, the data pipeline, a Runner config and
a hook that checks the teacher's EMA update after every step."""
import torch
from mmengine.hooks import Hook

from mmspatial.engine.hooks.dino_hooks import teacher_momentum_at

EMBED = 32
TINY_VIT = dict(
    type='VisionTransformer',
    arch=dict(embed_dims=EMBED, num_layers=2, num_heads=2, feedforward_channels=64),
    img_size=32,
    patch_size=8,
    drop_path_rate=0.1)
PREPROCESSOR = dict(
    type='SelfSupDataPreprocessor', mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], to_rgb=True)
BASE_MOMENTUM = 0.9


def head(out):
    return dict(type='DINONeck', in_channels=EMBED, out_channels=out, hidden_channels=64, bottleneck_channels=16)


def dino_model():
    return dict(
        type='DINO',
        data_preprocessor=PREPROCESSOR,
        backbone=dict(TINY_VIT, out_type='cls_token'),
        neck=head(128),
        loss=dict(type='DINOLoss', out_channels=128))


def selfpatch_model(**kwargs):
    cfg = dict(
        type='SelfPatch',
        data_preprocessor=PREPROCESSOR,
        backbone=dict(TINY_VIT, with_cls_token=False, final_norm=False, out_type='featmap'),
        aggregator=dict(type='ClassAttentionAggregator', embed_dims=EMBED, num_heads=2),
        neck=head(128),
        patch_neck=head(64),
        loss=dict(type='DINOLoss', out_channels=128),
        patch_loss=dict(type='SelfPatchLoss', out_channels=64))
    cfg.update(kwargs)
    return cfg


def multicrop_pipeline():
    return [
        dict(type='DINOMultiCrop', global_crop_size=32, local_crop_size=16, num_local_crops=2),  # DINO's jitter
        dict(type='PackInputs', algorithm_keys=['view_bboxes', 'view_flips', 'view_shapes', 'ori_img_shape']),
    ]


class EMACheckHook(Hook):
    """After each iteration (after DINOTeacherMomentumHook): teacher == m * old + (1 - m) * student."""

    priority = 'LOWEST'

    def __init__(self):
        self.checked = 0
        self.first_iter_teacher_equals_student = None

    def _pairs(self, runner):
        return list(runner.model._param_pairs())

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        pairs = self._pairs(runner)
        if runner.iter == 0:
            self.first_iter_teacher_equals_student = all(torch.equal(t, s) for t, s in pairs)
        self.before = [t.detach().clone() for t, _ in pairs]
        self.student_before = [s.detach().clone() for _, s in pairs]

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        m = teacher_momentum_at(runner.iter, runner.max_iters, BASE_MOMENTUM)
        moved = False
        for (t, s), t_old, s_old in zip(self._pairs(runner), self.before, self.student_before):
            assert not t.requires_grad
            expected = m * t_old + (1 - m) * s.detach()
            assert torch.allclose(t, expected, atol=1e-6, rtol=1e-5)
            moved |= not torch.equal(s, s_old)
        assert moved  # the student did take a step, so the check is not vacuous
        self.checked += 1


def runner_cfg(model, work_dir, hooks):
    return dict(
        model=model,
        work_dir=str(work_dir),
        train_dataloader=dict(
            batch_size=4,
            num_workers=0,
            sampler=dict(type='DefaultSampler', shuffle=False),
            collate_fn=dict(type='default_collate'),
            dataset=dict(
                type='SyntheticScenes', num_images=8, img_size=(48, 64), seed=0, pipeline=multicrop_pipeline())),
        train_cfg=dict(type='IterBasedTrainLoop', max_iters=2),
        optim_wrapper=dict(
            type='OptimWrapper',
            constructor='DINOParamGroupsConstructor',
            optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.04),
            clip_grad=None),
        param_scheduler=[
            dict(
                type='CosineAnnealingParamScheduler',
                param_name='weight_decay',
                eta_min_ratio=10.,
                by_epoch=False,
                begin=0,
                end=2)
        ],
        custom_hooks=[
            dict(type='DINOTeacherTempHook', warmup_teacher_temp=0.04, teacher_temp=0.07, warmup_iters=2),
            dict(type='DINOTeacherMomentumHook', base_momentum=BASE_MOMENTUM),
            dict(type='DINOFreezeLastLayerHook', freeze_epochs=1),
            dict(type='PerParamGradClipHook', max_norm=3.0),
        ] + hooks,
        default_scope='mmpretrain',
        default_hooks=dict(
            checkpoint=dict(type='CheckpointHook', interval=1000), logger=dict(type='LoggerHook', interval=1)),
        log_level='WARNING',
        randomness=dict(seed=0))


def snapshot(module):
    return {k: v.detach().clone() for k, v in module.state_dict().items()}

"""ScheduleFreeHook on a real epoch-based Runner with a conv + BatchNorm model, and the config
check that refuses a decaying lr schedule with a Schedule-Free optimizer."""
from __future__ import annotations

import copy
import os
import uuid

import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.evaluator import BaseMetric, Evaluator
from mmengine.hooks import Hook
from mmengine.model import BaseModel
from torch import nn
from torch.utils.data import Dataset

pytest.importorskip('schedulefree')

from bocb_mm.engine.schedule_free import add_schedule_free_hook, recompute_batchnorm  # noqa: E402
from bocb_mm.optim.config_check import OptimConfigError, check_optim_cfg  # noqa: E402

OPTIM = dict(optimizer=dict(type='bocb_mm.AdamWScheduleFree', lr=0.01, weight_decay=0.01,
                            warmup_steps=2))


class ConvBN(BaseModel):
    """conv -> BatchNorm -> ReLU -> pooling -> linear on 3x8x8 images, 3 classes."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)
        self.fc = nn.Linear(4, 3)

    def forward(self, inputs, data_samples=None, mode='tensor'):
        logits = self.fc(F.relu(self.bn(self.conv(inputs))).mean((2, 3)))
        if mode == 'loss':
            return dict(loss=F.cross_entropy(logits, data_samples))
        if mode == 'predict':
            return [dict(correct=bool(c)) for c in logits.argmax(1) == data_samples]
        return logits


class Images(Dataset):
    def __init__(self, n: int = 24) -> None:
        g = torch.Generator().manual_seed(1)
        self.x = torch.randn(n, 3, 8, 8, generator=g) * 2 + 1
        self.y = torch.randint(0, 3, (n,), generator=g)

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> dict:
        return dict(inputs=self.x[i], data_samples=self.y[i])


class Accuracy(BaseMetric):
    def process(self, data_batch, data_samples) -> None:
        self.results += [s['correct'] for s in data_samples]

    def compute_metrics(self, results) -> dict:
        return dict(accuracy=sum(results) / len(results))


class Recorder(Hook):
    """Before the Schedule-Free hook switches modes: the averaged weights, computed by
    ``eval()`` on a copy of the optimizer, and the BatchNorm statistics of training; during
    validation: the weights and statistics the model holds."""

    priority = 'HIGHEST'

    def __init__(self) -> None:
        self.expected, self.seen, self.train_bn, self.modes = [], [], [], []

    def before_val_epoch(self, runner) -> None:
        optimizer = copy.deepcopy(runner.optim_wrapper.optimizer)
        optimizer.eval()
        self.expected.append([p.detach().clone() for g in optimizer.param_groups
                              for p in g['params']])

    def after_train_epoch(self, runner) -> None:  # before the checkpoint is saved
        self.train_bn.append(runner.model.bn.running_mean.clone())

    def before_val_iter(self, runner, batch_idx, data_batch=None) -> None:
        if batch_idx == 0:
            model = copy.deepcopy(runner.model)  # recomputed at these weights, on this epoch's data
            recompute_batchnorm(model, runner.train_dataloader, 2)
            self.seen.append(([p.detach().clone() for p in runner.model.parameters()],
                              runner.model.bn.running_mean.clone(), model.bn.running_mean))

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        self.modes.append(runner.optim_wrapper.optimizer.param_groups[0]['train_mode'])


def _runner(work_dir: str, max_epochs: int, hooks: list, resume_from: str | None = None):
    from mmengine.runner import Runner
    torch.manual_seed(0)  # the same initial weights in every run
    loader = dict(batch_size=6, num_workers=0, dataset=Images(),
                  sampler=dict(type='DefaultSampler', shuffle=True),
                  collate_fn=dict(type='default_collate'))
    return Runner(
        model=ConvBN(), work_dir=work_dir, experiment_name=f'sf_{uuid.uuid4().hex[:10]}',
        train_dataloader=loader, val_dataloader={**loader, 'sampler': dict(
            type='DefaultSampler', shuffle=False)},
        val_evaluator=Evaluator([Accuracy()]), val_cfg=dict(),
        train_cfg=dict(by_epoch=True, max_epochs=max_epochs, val_interval=1),
        optim_wrapper=copy.deepcopy(OPTIM),
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=1),
                           logger=dict(type='LoggerHook', interval=100)),
        custom_hooks=[dict(type='bocb_mm.ScheduleFreeHook', bn_batches=2), *hooks],
        default_scope='bocb_mm', randomness=dict(seed=0), log_level='WARNING',
        resume=resume_from is not None, load_from=resume_from)


def test_validation_sees_the_averaged_weights_and_recomputed_batchnorm(tmp_path):
    recorder = Recorder()
    runner = _runner(str(tmp_path), 3, [recorder])
    runner.train()
    assert len(recorder.seen) == 3 and all(recorder.modes) and len(recorder.modes) == 12
    for expected, train_bn, (seen, bn_mean, bn_want) in zip(recorder.expected, recorder.train_bn,
                                                            recorder.seen):
        for want, got in zip(expected, seen):
            torch.testing.assert_close(got, want)
        assert not torch.allclose(bn_mean, train_bn)  # recomputed, not the training stats
        # the statistics are those of the averaged weights on two training batches
        torch.testing.assert_close(bn_mean, bn_want)
    # after validation the optimizer is back in train mode and the model holds y, not x
    assert runner.optim_wrapper.optimizer.param_groups[0]['train_mode']
    assert not torch.allclose(runner.model.conv.weight, recorder.seen[-1][0][0])


def test_checkpoint_holds_eval_mode_and_resume_follows_the_same_trajectory(tmp_path):
    straight = _runner(str(tmp_path / 'straight'), 4, [])
    straight.train()
    first = _runner(str(tmp_path / 'resumed'), 2, [])
    first.train()
    checkpoint = torch.load(os.path.join(str(tmp_path / 'resumed'), 'epoch_2.pth'),
                            weights_only=False)
    assert not checkpoint['optimizer']['param_groups'][0]['train_mode']
    resumed = _runner(str(tmp_path / 'resumed'), 4, [],
                      resume_from=os.path.join(str(tmp_path / 'resumed'), 'epoch_2.pth'))
    resumed.train()
    want, got = straight.model.state_dict(), resumed.model.state_dict()
    assert want.keys() == got.keys()
    for key in want:
        torch.testing.assert_close(got[key], want[key], rtol=0, atol=0, msg=key)
    want_state = straight.optim_wrapper.optimizer.state_dict()['state']
    got_state = resumed.optim_wrapper.optimizer.state_dict()['state']
    for index in want_state:
        torch.testing.assert_close(got_state[index]['z'], want_state[index]['z'], rtol=0,
                                   atol=0)


def _cfg(param_scheduler) -> Config:
    return Config(dict(default_scope='bocb_mm', optim_wrapper=copy.deepcopy(OPTIM),
                       param_scheduler=param_scheduler))


@pytest.mark.parametrize('scheduler', [
    dict(type='CosineAnnealingLR', T_max=100, by_epoch=False),
    dict(type='MultiStepLR', milestones=[30, 60], by_epoch=True),
    dict(type='LinearLR', start_factor=1.0, end_factor=0.0, end=100),
])
def test_config_check_refuses_a_decaying_schedule(scheduler):
    warm_up = dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=10)
    with pytest.raises(OptimConfigError, match=scheduler['type']) as error:
        check_optim_cfg(_cfg([warm_up, scheduler]))
    assert 'Schedule-Free' in str(error.value) and 'warm-up' in str(error.value)


def test_config_check_allows_a_warm_up_only_and_the_hook_is_added():
    cfg = _cfg([dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=10)])
    check_optim_cfg(cfg)
    assert add_schedule_free_hook(cfg)
    assert cfg.custom_hooks == [dict(type='bocb_mm.ScheduleFreeHook')]
    assert not add_schedule_free_hook(cfg)  # already there
    adamw = Config(dict(default_scope='bocb_mm', optim_wrapper=dict(
        optimizer=dict(type='AdamW', lr=0.01))))
    assert not add_schedule_free_hook(adamw) and 'custom_hooks' not in adamw

"""Checkpoints under torch >= 2.6: a Runner checkpoint resumes and loads as ``Pretrained`` with
weights-only loading kept on, and a checkpoint whose pickle would run code is refused."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from mmengine.model import BaseModel, BaseModule
from mmengine.runner import Runner, load_checkpoint
from torch.utils.data import Dataset

import bocb_mm  # noqa: F401  (allow-lists the checkpoint types)


class _Backbone(BaseModule):
    def __init__(self, init_cfg: dict | None = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.layers = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.BatchNorm1d(8))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


class _Net(BaseModel):
    def __init__(self) -> None:
        super().__init__()
        self.backbone = _Backbone()
        self.head = torch.nn.Linear(8, 1)

    def forward(self, x, y=None, mode='tensor'):
        out = self.head(torch.relu(self.backbone(x))).squeeze(-1)
        return dict(loss=((out - y) ** 2).mean()) if mode == 'loss' else out


class _Data(Dataset):
    def __init__(self) -> None:
        gen = torch.Generator().manual_seed(0)
        self.x = torch.randn(16, 4, generator=gen)
        self.y = self.x.sum(1)

    def __len__(self) -> int:
        return 16

    def __getitem__(self, i: int) -> dict:
        return dict(x=self.x[i], y=self.y[i])


def _runner(work_dir: Path, max_epochs: int, **kwargs) -> Runner:
    torch.manual_seed(0)  # same initial weights for every runner
    return Runner(
        model=_Net(), work_dir=str(work_dir),
        train_dataloader=dict(dataset=_Data(), batch_size=4,
                              collate_fn=dict(type='default_collate'),
                              sampler=dict(type='DefaultSampler', shuffle=True, seed=0)),
        optim_wrapper=dict(optimizer=dict(type='AdamW', lr=1e-2)),
        param_scheduler=dict(type='CosineAnnealingLR', T_max=2, by_epoch=True, begin=0, end=2),
        train_cfg=dict(by_epoch=True, max_epochs=max_epochs),
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=1),
                           logger=dict(type='LoggerHook', interval=1)),
        randomness=dict(seed=0), **kwargs)


def test_runner_checkpoint_resumes_exactly(tmp_path: Path) -> None:
    full = _runner(tmp_path / 'full', max_epochs=2)
    full.train()
    _runner(tmp_path / 'part', max_epochs=1).train()
    resumed = _runner(tmp_path / 'part', max_epochs=2, resume=True)
    resumed.train()
    assert resumed.iter == full.iter == 8
    for a, b in zip(full.model.state_dict().values(), resumed.model.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-6)
    state_full = full.optim_wrapper.optimizer.state_dict()['state']
    state_resumed = resumed.optim_wrapper.optimizer.state_dict()['state']
    for key in state_full:
        for name in ('exp_avg', 'exp_avg_sq', 'step'):
            torch.testing.assert_close(state_full[key][name], state_resumed[key][name],
                                       rtol=0, atol=1e-6)


def test_runner_checkpoint_loads_as_pretrained_backbone(tmp_path: Path) -> None:
    runner = _runner(tmp_path, max_epochs=1)
    runner.train()
    ckpt = tmp_path / 'epoch_1.pth'
    raw = torch.load(ckpt, map_location='cpu')  # weights_only (the torch default) stays on
    assert {'meta', 'state_dict', 'message_hub', 'optimizer'} <= set(raw)
    backbone = _Backbone(init_cfg=dict(type='Pretrained', checkpoint=str(ckpt),
                                       prefix='backbone.'))
    backbone.init_weights()
    torch.testing.assert_close(backbone.layers[0].weight, runner.model.backbone.layers[0].weight)
    torch.testing.assert_close(backbone.layers[1].running_mean,
                               runner.model.backbone.layers[1].running_mean)


class _Exploit:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return os.system, (f'touch {self.marker}',)


def test_checkpoint_that_runs_code_is_refused(tmp_path: Path) -> None:
    marker = tmp_path / 'pwned'
    bad = tmp_path / 'bad.pth'
    torch.save({'state_dict': {'w': torch.zeros(1)}, 'meta': _Exploit(marker)}, bad)
    with pytest.raises(Exception, match='Weights only load failed') as info:
        load_checkpoint(torch.nn.Linear(1, 1), str(bad), map_location='cpu')
    assert 'system' in str(info.value)  # names the refused global
    assert not marker.exists()


def test_getattr_allow_list_is_restricted(tmp_path: Path) -> None:
    """The restricted ``getattr`` stand-in resolves HistoryBuffer methods only."""

    from mmengine.logging.history_buffer import HistoryBuffer

    class _GetattrPrivate:
        def __reduce__(self):
            return getattr, (HistoryBuffer, '__init__')

    bad = tmp_path / 'getattr.pth'
    torch.save({'x': _GetattrPrivate()}, bad)
    with pytest.raises(Exception, match='only allows HistoryBuffer statistics methods'):
        torch.load(bad)

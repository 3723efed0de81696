"""Official UniRepLKNet checkpoints into bocb_mm (bocb_mm/cli/unireplknet_to_bocb.py).

The source checkpoints come from a network laid out as the official ``UniRepLKNet``
(github.com/AILab-CVC/UniRepLKNet, ``unireplknet.py``): its FFN is
``pwconv1 = Sequential(NCHW->NHWC, Linear)``, ``act = Sequential(GELU, GRN)`` with GRN
parameters of shape ``(1, 1, 1, C)`` computing ``(gamma * N(x) + 1) * x + beta``, and
``pwconv2 = Sequential(Linear, NHWC->NCHW, BN)`` (deploy: ``Sequential(Linear with bias,
NHWC->NCHW)``, GRN without ``beta``); the classifier is ``norm`` (LayerNorm after GAP) and
``head``. The modules whose names and computation the two codes share (stem and down-sampling
layers, depth-wise convs with their dilated branches, BNs, SE, layer scale) are bocb_mm's.
"""
from __future__ import annotations

import argparse
import copy
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.nn as nn

import bocb_mm  # noqa: F401  (registers the bocb_mm scope)
from bocb_mm.cli import unireplknet_to_bocb as conv
from bocb_mm.models import UniRepLKNet

REPO = Path(__file__).resolve().parents[2]
ARCH = dict(depths=(1, 1, 2, 1), dims=(16, 32, 64, 128))
KERNELS = ((3, ), (13, ), (13, 3), (13, ))
NUM_CLASSES = 7


class _Permute(nn.Module):
    def __init__(self, *dims: int) -> None:
        super().__init__()
        self.dims = dims

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.permute(*self.dims)


class _OfficialGRN(nn.Module):
    def __init__(self, dim: int, bias: bool) -> None:
        super().__init__()
        self.gamma = nn.Parameter(torch.zeros(1, 1, 1, dim))
        self.beta = nn.Parameter(torch.zeros(1, 1, 1, dim)) if bias else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gx = torch.norm(x, p=2, dim=(1, 2), keepdim=True)
        nx = gx / (gx.mean(dim=-1, keepdim=True) + 1e-6)
        out = (self.gamma * nx + 1) * x
        return out if self.beta is None else out + self.beta


class _OfficialBlock(nn.Module):
    def __init__(self, ours: nn.Module, deploy: bool) -> None:
        super().__init__()
        dim, ffn = ours.pwconv1.in_features, ours.pwconv1.out_features
        self.dwconv, self.norm, self.se = ours.dwconv, ours.norm, ours.se
        self.pwconv1 = nn.Sequential(_Permute(0, 2, 3, 1), nn.Linear(dim, ffn))
        self.act = nn.Sequential(nn.GELU(), _OfficialGRN(ffn, bias=not deploy))
        tail = [] if deploy else [nn.BatchNorm2d(dim)]
        self.pwconv2 = nn.Sequential(nn.Linear(ffn, dim, bias=deploy), _Permute(0, 3, 1, 2),
                                     *tail)
        self.gamma = ours.gamma

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.pwconv2(self.act(self.pwconv1(self.se(self.norm(self.dwconv(x))))))
        if self.gamma is not None:
            y = self.gamma.view(1, -1, 1, 1) * y
        return x + y


class _OfficialNet(nn.Module):
    def __init__(self, deploy: bool) -> None:
        super().__init__()
        ours = UniRepLKNet(arch=ARCH, kernel_sizes=KERNELS, deploy=deploy)
        self.downsample_layers = ours.downsample_layers
        self.stages = nn.ModuleList(nn.Sequential(*[_OfficialBlock(b, deploy) for b in stage])
                                    for stage in ours.stages)
        self.norm = nn.LayerNorm(ARCH['dims'][-1], eps=1e-6)
        self.head = nn.Linear(ARCH['dims'][-1], NUM_CLASSES)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for down, stage in zip(self.downsample_layers, self.stages):
            x = stage(down(x))
        return self.head(self.norm(x.mean((-2, -1))))


def _official(deploy: bool) -> _OfficialNet:
    """A float64 official-layout network with every tensor random (BN statistics included)."""
    torch.manual_seed(1)
    net = _OfficialNet(deploy).double()
    with torch.no_grad():
        for param in net.parameters():
            param.copy_(torch.randn_like(param) * 0.2 + (0.5 if param.dim() == 1 else 0))
        for module in net.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.running_mean.copy_(torch.randn_like(module.running_mean) * 0.1)
                module.running_var.copy_(torch.rand_like(module.running_var) + 0.5)
    return net.eval()


def _ours(deploy: bool) -> nn.Module:
    from mmpretrain.registry import MODELS
    cfg = dict(type='mmpretrain.ImageClassifier',
               backbone=dict(type='bocb_mm.UniRepLKNet', arch=ARCH, kernel_sizes=KERNELS,
                             deploy=deploy),
               head=dict(type='mmpretrain.LinearClsHead', num_classes=NUM_CLASSES,
                         in_channels=ARCH['dims'][-1]))
    return MODELS.build(cfg).double().eval()


@pytest.mark.parametrize('deploy', [False, True])
def test_official_state_dict_loads_strictly_and_gives_its_logits(deploy):
    official = _official(deploy)
    assert any(k.endswith('act.1.gamma') for k in official.state_dict())
    converted, skipped = conv.convert_state(official.state_dict())
    assert skipped == []
    model = _ours(deploy)
    model.load_state_dict(converted, strict=True)
    x = torch.randn(2, 3, 64, 64, dtype=torch.float64)
    with torch.no_grad():
        expected = official(x)
        logits = model(x, mode='tensor')
    torch.testing.assert_close(logits, expected, rtol=1e-10, atol=1e-10)
    assert conv.backbone_args(converted)['deploy'] is deploy


def test_training_checkpoint_reparameterised_by_bocb_mm_matches_deploy_checkpoint():
    """An official training-form checkpoint, converted and switched to deploy in bocb_mm, has
    the tensors of a deploy-form checkpoint."""
    converted, _ = conv.convert_state(_official(False).state_dict())
    model = _ours(False)
    model.load_state_dict(converted, strict=True)
    model.backbone.switch_to_deploy()
    assert set(model.state_dict()) == set(_ours(True).state_dict())


def test_cli_converts_a_checkpoint_file(tmp_path):
    official = _official(True)
    src, dst = tmp_path / 'unireplknet_official.pth', tmp_path / 'bocb.pth'
    torch.save({'model': official.state_dict()}, src)
    tool = REPO / 'tools' / 'model_converters' / 'unireplknet_to_bocb.py'
    result = subprocess.run([sys.executable, str(tool), str(src), str(dst)],
                            capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert 'deploy form' in result.stdout
    ckpt = torch.load(dst, map_location='cpu', weights_only=True)
    model = _ours(True)
    model.load_state_dict(ckpt['state_dict'], strict=True)
    assert ckpt['meta']['backbone']['arch'] == dict(depths=[1, 1, 2, 1], dims=[16, 32, 64, 128])


def test_mmdet_style_checkpoint_with_prefix_and_feature_norms():
    """The official mmdet / mmseg backbones: keys under ``backbone.``, one LayerNorm per stage
    instead of the classifier's ``norm`` and ``head``; other keys (neck, heads) are skipped."""
    state = {f'backbone.{k}': v for k, v in _official(False).state_dict().items()
             if not k.startswith(('norm.', 'head.'))}
    for i, dim in enumerate(ARCH['dims']):
        state[f'backbone.norm{i}.weight'] = torch.ones(dim, dtype=torch.float64)
        state[f'backbone.norm{i}.bias'] = torch.zeros(dim, dtype=torch.float64)
    state['neck.fpn_convs.0.conv.weight'] = torch.zeros(1)
    converted, skipped = conv.convert_state(state, src_prefix='backbone.')
    assert skipped == ['neck.fpn_convs.0.conv.weight']
    conv.check_fits(converted)
    backbone = UniRepLKNet(arch=ARCH, kernel_sizes=KERNELS, out_indices=(0, 1, 2, 3),
                           gap_before_final_norm=False).double()
    backbone.load_state_dict({k[len('backbone.'):]: v for k, v in converted.items()},
                             strict=True)


def test_bad_checkpoints_are_named(tmp_path):
    src = tmp_path / 'resnet.pth'
    torch.save({'conv1.weight': torch.zeros(1)}, src)
    assert conv.main([str(src), str(tmp_path / 'out.pth')]) == 1
    with pytest.raises(ValueError, match='resnet.pth.*no official UniRepLKNet key'):
        conv.convert(str(src), str(tmp_path / 'out.pth'), verbose=False)
    # an official checkpoint with a block missing its BN does not fit
    state = _official(False).state_dict()
    broken = copy.copy(state)
    for key in [k for k in state if k.startswith('stages.0.0.pwconv2.2.')]:
        del broken[key]
    src = tmp_path / 'broken.pth'
    torch.save(broken, src)
    with pytest.raises(ValueError, match='broken.pth.*do not fit.*stages.0.0.norm2'):
        conv.convert(str(src), str(tmp_path / 'out.pth'), verbose=False)
    assert not (tmp_path / 'out.pth').exists()
    # objects other than tensors are refused by name, not with an unpickling traceback
    src = tmp_path / 'with_args.pth'
    torch.save({'model': state, 'args': argparse.Namespace(lr=1.0)}, src)
    with pytest.raises(ValueError, match='with_args.pth: not readable as weights only'):
        conv.convert(str(src), str(tmp_path / 'out.pth'), verbose=False)

"""The 20 BOCB backbones as built from the zoo: training step, CIFAR stems, multi-scale
outputs, re-parameterisation and checkpoint loading."""
from __future__ import annotations

import copy

import pytest
import torch

import bocb_mm  # noqa: F401  (registers the bocb_mm scope)
from bocb_mm.models import classifier_cfg, get_backbone_info, list_backbones

# backbones whose input size is fixed at 224 by construction (position embeddings, windows,
# fully connected classifiers)
FIXED_224 = {'DeiT-S', 'MLP-S', 'Swin-T'}
# stage resolutions of the 32 px variants for a 32x32 input (DenseNet stages end with their
# transition, which already pools)
CIFAR_STAGE_SIZES = {'R-50': (32, 16, 8, 4), 'DN-121': (16, 8, 4, 4), 'CNX-T': (32, 16, 8, 4),
                     'CNXV2-T': (32, 16, 8, 4), 'Moga-S': (32, 16, 8, 4)}


@pytest.fixture(scope='module')
def MODELS():
    from mmengine.registry import init_default_scope
    from mmpretrain.registry import MODELS as registry
    init_default_scope('mmpretrain')
    return registry


def _train_step(model, size: int, num_classes: int):
    from mmpretrain.structures import DataSample
    torch.manual_seed(0)
    x = torch.randn(2, 3, size, size)
    samples = [DataSample().set_gt_label(3), DataSample().set_gt_label(num_classes - 1)]
    feats = model.extract_feat(x)
    logits = model.head(feats)
    losses = model.head.loss(feats, samples)
    loss = sum(losses.values())
    loss.backward()
    return logits, loss


@pytest.mark.parametrize('name', list_backbones())
def test_train_step_at_paper_size(name, MODELS):
    """Classifier at the BOCB input size, 100 classes: logits, finite loss, gradients."""
    info = get_backbone_info(name)
    model = MODELS.build(classifier_cfg(name, num_classes=100))
    model.train()
    logits, loss = _train_step(model, info.input_size, 100)
    assert logits.shape == (2, 100)
    assert torch.isfinite(loss)
    grads = [p.grad for p in model.backbone.parameters() if p.requires_grad]
    assert any(g is not None and g.abs().sum() > 0 for g in grads)


@pytest.mark.parametrize('name', ['Moga-S', 'URLK-T', 'TNX-T', 'CAF-12'])
def test_train_step_other_input_size(name, MODELS):
    """bocb_mm backbones are not tied to one input size (64 px here)."""
    model = MODELS.build(classifier_cfg(name, num_classes=10))
    logits, loss = _train_step(model, 64, 10)
    assert logits.shape == (2, 10) and torch.isfinite(loss)


@pytest.mark.parametrize('name', sorted(CIFAR_STAGE_SIZES))
def test_cifar_stems_keep_resolution(name, MODELS):
    info = get_backbone_info(name)
    assert info.input_size == 32
    backbone = MODELS.build(info.multiscale_cfg(cifar=True))
    backbone.eval()
    with torch.no_grad():
        outs = backbone(torch.randn(1, 3, 32, 32))
    assert tuple(o.shape[-1] for o in outs) == CIFAR_STAGE_SIZES[name]
    assert tuple(o.shape[1] for o in outs) == info.channels
    # the ImageNet variant of the same backbone down-samples in its stem
    imagenet = MODELS.build(info.multiscale_cfg(cifar=False))
    imagenet.eval()
    with torch.no_grad():
        first = imagenet(torch.randn(1, 3, 32, 32))[0]
    assert first.shape[-1] < outs[0].shape[-1]


@pytest.mark.parametrize('name', list_backbones())
def test_multiscale_outputs_match_channels(name, MODELS):
    info = get_backbone_info(name)
    size = 224 if name in FIXED_224 else 64
    backbone = MODELS.build(info.multiscale_cfg())
    backbone.eval()
    with torch.no_grad():
        outs = backbone(torch.randn(1, 3, size, size))
    assert isinstance(outs, tuple) and len(outs) == len(info.channels)
    assert tuple(o.shape[1] for o in outs) == info.channels
    if name not in ('MLP-S', ):  # token sequences (B, C, N)
        assert all(o.dim() == 4 for o in outs)


def _randomise_bn(model: torch.nn.Module) -> None:
    gen = torch.Generator().manual_seed(1)
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.copy_(torch.randn(m.num_features, generator=gen) * 0.1)
            m.running_var.copy_(torch.rand(m.num_features, generator=gen) + 0.5)
            m.weight.data.copy_(torch.rand(m.num_features, generator=gen) + 0.5)
            m.bias.data.copy_(torch.randn(m.num_features, generator=gen) * 0.1)


def _calibrate_bn(model: torch.nn.Module, x: torch.Tensor) -> None:
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.reset_running_stats()
            m.momentum = None  # cumulative average
    model.train()
    with torch.no_grad():
        model(x)


@pytest.mark.parametrize('name', ['RVGG-A1', 'URLK-T'])
@pytest.mark.parametrize('randomise', [False, True])
def test_reparameterisation_is_exact(name, randomise, MODELS):
    """switch_to_deploy() gives the same outputs as the training form (eval mode).

    float32 case: BN statistics calibrated on the input (as in a trained network), so the
    activations are O(1) and atol 1e-4 is meaningful. float64 case: random BN statistics,
    layer scales and GRN parameters (huge activations after 20 plain layers), checking the
    algebra apart from float32 rounding.
    """
    torch.manual_seed(0)
    info = get_backbone_info(name)
    backbone = MODELS.build(info.backbone_cfg())
    backbone.init_weights()
    dtype = torch.float32
    if randomise:
        dtype = torch.float64
        with torch.no_grad():
            for p in backbone.parameters():  # layer scales / GRN start at ~0: make them matter
                if p.dim() == 1 and p.abs().max() < 1e-3:
                    p.copy_(torch.randn_like(p) * 0.5)
        _randomise_bn(backbone)
    backbone.to(dtype)
    x = torch.randn(2, 3, 64, 64, dtype=dtype)
    if not randomise:
        _calibrate_bn(backbone, torch.randn(16, 3, 64, 64))
    backbone.eval()
    with torch.no_grad():
        before = backbone(x)[-1]
        train_params = sum(p.numel() for p in backbone.parameters())
        backbone.switch_to_deploy()
        after = backbone(x)[-1]
    assert sum(p.numel() for p in backbone.parameters()) < train_params
    # float32: rounding through ~20 fused layers reaches 1.2-2.2e-5 of the output's scale with
    # RepVGG-A1 on a 2-core x86 CPU (5 seeds); an algebra error would be O(1) of it, and the
    # float64 case checks the algebra to 1e-4 absolute
    atol = 1e-4 if randomise else 5e-5 * before.abs().max().item()
    torch.testing.assert_close(after, before, atol=atol, rtol=1e-5)
    # building the deploy form directly gives the same architecture
    deployed = MODELS.build(dict(info.backbone_cfg(), **info.deploy_overrides))
    assert set(deployed.state_dict()) == set(backbone.state_dict())


PRETRAINED_CASES = ['R-50', 'DN-121', 'CNX-T', 'CNXV2-T', 'Moga-S', 'URLK-T', 'TNX-T', 'IF-12',
                    'CAF-12', 'MobV2']


@pytest.mark.parametrize('name', PRETRAINED_CASES)
def test_classifier_checkpoint_loads_into_bare_backbone(name, MODELS, tmp_path):
    """init_weights works; ImageClassifier weights load with Pretrained + prefix='backbone.'."""
    model = MODELS.build(classifier_cfg(name))
    model.init_weights()
    state = model.state_dict()
    path = tmp_path / f'{name}.pth'
    torch.save({'state_dict': state}, path)

    cfg = get_backbone_info(name).backbone_cfg()
    cfg['init_cfg'] = dict(type='Pretrained', checkpoint=str(path), prefix='backbone.')
    backbone = MODELS.build(cfg)
    backbone.init_weights()
    loaded = backbone.state_dict()
    expected = {k[len('backbone.'):]: v for k, v in state.items() if k.startswith('backbone.')}
    assert set(loaded) == set(expected)
    for key, value in expected.items():
        torch.testing.assert_close(loaded[key], value, rtol=0, atol=0, msg=key)


def test_multiscale_backbone_loads_classification_checkpoint(MODELS, tmp_path):
    """Transfer path: classification weights into the multi-scale (FPN) form."""
    info = get_backbone_info('Moga-S')
    model = MODELS.build(classifier_cfg('Moga-S', cifar=False))
    state = model.state_dict()
    path = tmp_path / 'moga.pth'
    torch.save({'state_dict': state}, path)
    cfg = info.multiscale_cfg()
    cfg['init_cfg'] = dict(type='Pretrained', checkpoint=str(path), prefix='backbone.')
    backbone = MODELS.build(cfg)
    backbone.init_weights()
    torch.testing.assert_close(backbone.state_dict()['blocks3.0.attn.gate.weight'],
                               state['backbone.blocks3.0.attn.gate.weight'])
    outs = backbone(torch.randn(1, 3, 64, 64))
    assert tuple(o.shape[1] for o in outs) == info.channels


def test_default_init_is_deterministic_per_seed(MODELS):
    cfg = get_backbone_info('CAF-12').backbone_cfg()
    states = []
    for _ in range(2):
        torch.manual_seed(0)
        backbone = MODELS.build(copy.deepcopy(cfg))
        backbone.init_weights()
        states.append(backbone.state_dict())
    for key in states[0]:
        torch.testing.assert_close(states[0][key], states[1][key])

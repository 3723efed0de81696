"""The backbone zoo: names, lookup, paper facts, classifier configs and parameter counts."""
from __future__ import annotations

import pytest
import torch

import bocb_mm  # noqa: F401  (registers the bocb_mm scope)
from bocb_mm.models import classifier_cfg, get_backbone_info, list_backbones
from bocb_mm.models.zoo import RECIPES

PAPER_ORDER = ['AlexNet', 'VGG-13', 'R-50', 'DN-121', 'MobV2', 'Eff-B0', 'RVGG-A1', 'DeiT-S',
               'MLP-S', 'Swin-T', 'CNX-T', 'CNXV2-T', 'Moga-S', 'URLK-T', 'TNX-T', 'IF-12',
               'PFV2-12', 'CF-12', 'AF-12', 'CAF-12']
CIFAR_32 = {'R-50', 'DN-121', 'CNX-T', 'CNXV2-T', 'Moga-S'}
PAPER_RECIPE = {
    'AlexNet': 'PyTorch', 'VGG-13': 'PyTorch', 'R-50': 'PyTorch', 'DN-121': 'PyTorch',
    'MobV2': 'PyTorch', 'Eff-B0': 'RSB A2', 'RVGG-A1': 'PyTorch', 'DeiT-S': 'DeiT',
    'MLP-S': 'DeiT', 'Swin-T': 'ConvNeXt', 'CNX-T': 'ConvNeXt', 'CNXV2-T': 'ConvNeXt',
    'Moga-S': 'ConvNeXt', 'URLK-T': 'ConvNeXt', 'TNX-T': 'DeiT', 'IF-12': 'RSB A2',
    'PFV2-12': 'RSB A2', 'CF-12': 'RSB A2', 'AF-12': 'RSB A2', 'CAF-12': 'RSB A2'}
# official parameter counts (M) at 1000 classes that must match within 1%
OFFICIAL_PARAMS = {
    'R-50': 25.6, 'DN-121': 8.0, 'MobV2': 3.5, 'Eff-B0': 5.3, 'RVGG-A1': 12.8, 'DeiT-S': 22.1,
    'MLP-S': 18.5, 'Swin-T': 28.3, 'CNX-T': 28.6, 'CNXV2-T': 28.6, 'Moga-S': 25.3,
    'URLK-T': 31.0, 'TNX-T': 28.2, 'IF-12': 11.9, 'PFV2-12': 11.9}


@pytest.fixture(scope='module')
def mmpretrain_models():
    from mmengine.registry import init_default_scope
    from mmpretrain.registry import MODELS
    init_default_scope('mmpretrain')
    return MODELS


def count_params(module: torch.nn.Module) -> float:
    return sum(p.numel() for p in module.parameters()) / 1e6


def test_list_backbones_paper_order():
    assert list_backbones() == PAPER_ORDER


@pytest.mark.parametrize('name', PAPER_ORDER)
def test_info_matches_paper_table(name):
    info = get_backbone_info(name)
    assert info.short_name == name
    assert info.recipe == PAPER_RECIPE[name] and info.recipe in RECIPES
    assert info.input_size == (32 if name in CIFAR_32 else 224)
    assert info.has_cifar_variant == (name in CIFAR_32)
    assert info.code_url.startswith('https://github.com/')
    assert info.slug and info.slug == info.slug.lower() and ' ' not in info.slug
    assert all(isinstance(c, int) and c > 0 for c in info.channels)
    for text in (info.stage_design, info.block_design, info.operator, info.residual):
        assert text
    # returned configs are copies
    cfg = info.backbone_cfg()
    cfg['mutated'] = True
    assert 'mutated' not in info.backbone_cfg()


@pytest.mark.parametrize('alias, short', [
    ('ResNet-50', 'R-50'), ('resnet50', 'R-50'), ('r-50', 'R-50'), ('CX-T', 'CNX-T'),
    ('ConvNeXt-T', 'CNX-T'), ('convnext-tiny', 'CNX-T'), ('CXV2-T', 'CNXV2-T'),
    ('PF-S12', 'PFV2-12'), ('pfv2-12', 'PFV2-12'), ('IF-S12', 'IF-12'), ('CAF-S12', 'CAF-12'),
    ('CF-S12', 'CF-12'), ('AF-S12', 'AF-12'), ('deit-small', 'DeiT-S'), ('MobileNet.V2', 'MobV2'),
    ('mobilenet-v2', 'MobV2'), ('MogaNet-S', 'Moga-S'), ('moganet-small', 'Moga-S'),
    ('UniRepLKNet-T', 'URLK-T'), ('TransNeXt-T', 'TNX-T'), ('Swin Transformer', 'Swin-T'),
    ('MLP-Mixer-S/16', 'MLP-S'), ('DenseNet-121', 'DN-121'), ('RepVGG-A1', 'RVGG-A1'),
    ('EfficientNet-B0', 'Eff-B0'), ('vgg13', 'VGG-13'), ('alexnet', 'AlexNet')])
def test_aliases(alias, short):
    assert get_backbone_info(alias).short_name == short


def test_unknown_name_lists_valid_names():
    with pytest.raises(ValueError) as err:
        get_backbone_info('ResNet-9000')
    assert 'R-50' in str(err.value) and 'CAF-12' in str(err.value)


def test_classifier_cfg_paper_choice_and_forcing():
    cfg = classifier_cfg('R-50')
    assert cfg['backbone']['type'] == 'mmpretrain.ResNet_CIFAR'
    assert cfg['neck']['type'] == 'mmpretrain.GlobalAveragePooling'
    assert cfg['head']['type'] == 'mmpretrain.LinearClsHead'
    assert cfg['head']['num_classes'] == 100 and cfg['head']['in_channels'] == 2048
    assert cfg['head']['loss']['type'] == 'mmpretrain.CrossEntropyLoss'
    assert classifier_cfg('R-50', cifar=False)['backbone']['type'] == 'mmpretrain.ResNet'
    assert classifier_cfg('CNX-T')['backbone']['cifar_stem'] is True
    assert classifier_cfg('CNX-T', cifar=False)['backbone'].get('cifar_stem', False) is False
    assert classifier_cfg('Moga-S', num_classes=10)['head']['num_classes'] == 10
    assert classifier_cfg('AlexNet', num_classes=10)['backbone']['num_classes'] == 10
    assert classifier_cfg('DeiT-S')['head']['type'] == 'mmpretrain.VisionTransformerClsHead'
    assert 'neck' not in classifier_cfg('CAF-12')
    assert classifier_cfg('Swin-T', drop_path_rate=0.2)['backbone']['drop_path_rate'] == 0.2
    with pytest.raises(ValueError):
        classifier_cfg('DeiT-S', cifar=True)


def test_cifar_stem_described():
    for name in PAPER_ORDER:
        info = get_backbone_info(name)
        assert (info.cifar_stem != '-') == (name in CIFAR_32)


@pytest.mark.parametrize('name', PAPER_ORDER)
def test_param_count_at_1000_classes(name, mmpretrain_models):
    """Backbone + official head at 1000 classes (deploy form for RepVGG/UniRepLKNet)."""
    info = get_backbone_info(name)
    cfg = classifier_cfg(name, num_classes=1000, cifar=False, **info.deploy_overrides)
    model = mmpretrain_models.build(cfg)
    params = count_params(model)
    if name in OFFICIAL_PARAMS:
        assert info.official_params_m == OFFICIAL_PARAMS[name]
        assert abs(params - OFFICIAL_PARAMS[name]) / OFFICIAL_PARAMS[name] < 0.01, params
    elif info.official_params_m is not None:
        assert abs(params - info.official_params_m) / info.official_params_m < 0.01, params


@pytest.mark.parametrize('arch, official', [('convformer_s18', 26.8), ('caformer_s18', 26.3)])
def test_metaformer_s18_matches_official_with_mlp_head(arch, official):
    """Our MetaFormer reproduces the official S18 counts (official head: MLP, ratio 4)."""
    from bocb_mm.models import MetaFormer
    backbone = count_params(MetaFormer(arch))
    mlp_head = (512 * 2048 + 2048 + 2 * 2048 + 2048 * 1000 + 1000) / 1e6
    assert abs(backbone + mlp_head - official) / official < 0.01


def test_s12_counts_stated():
    """The S12 ConvFormer/AttentionFormer/CAFormer have no official count (documented values)."""
    from bocb_mm.models import MetaFormer
    head = (512 * 1000 + 1000) / 1e6
    counts = {a: count_params(MetaFormer(a)) + head
              for a in ('convformer_s12', 'attentionformer_s12', 'caformer_s12')}
    assert counts['convformer_s12'] == pytest.approx(16.9, abs=0.05)
    assert counts['attentionformer_s12'] == pytest.approx(16.6, abs=0.05)
    assert counts['caformer_s12'] == pytest.approx(16.6, abs=0.05)

"""BOCB backbones against their reference definitions in float64, after mapping the weights."""
from __future__ import annotations

import re

import pytest
import torch

import bocb_mm  # noqa: F401  (registers the bocb_mm scope)
from bocb_mm.models import classifier_cfg


@pytest.fixture(scope='module')
def MODELS():
    from mmengine.registry import init_default_scope
    from mmpretrain.registry import MODELS as registry
    init_default_scope('mmpretrain')
    return registry


# timm MlpMixer name -> mmpretrain ImageClassifier(MlpMixer) name
_MIXER_RULES = (
    (r'^stem\.proj\.', 'backbone.patch_embed.projection.'),
    (r'^blocks\.(\d+)\.norm1\.', r'backbone.layers.\1.ln1.'),
    (r'^blocks\.(\d+)\.norm2\.', r'backbone.layers.\1.ln2.'),
    (r'^blocks\.(\d+)\.mlp_tokens\.fc1\.', r'backbone.layers.\1.token_mix.layers.0.0.'),
    (r'^blocks\.(\d+)\.mlp_tokens\.fc2\.', r'backbone.layers.\1.token_mix.layers.1.'),
    (r'^blocks\.(\d+)\.mlp_channels\.fc1\.', r'backbone.layers.\1.channel_mix.layers.0.0.'),
    (r'^blocks\.(\d+)\.mlp_channels\.fc2\.', r'backbone.layers.\1.channel_mix.layers.1.'),
    (r'^norm\.', 'backbone.ln1.'),
    (r'^head\.', 'head.fc.'),
)


def _timm_to_mmpretrain(key: str) -> str:
    for pattern, repl in _MIXER_RULES:
        if re.match(pattern, key):
            return re.sub(pattern, repl, key)
    raise KeyError(key)


def test_mlp_mixer_matches_timm(MODELS):
    """MLP-S = timm's mixer_s16_224 (the official definition, LayerNorm eps 1e-6)."""
    timm = pytest.importorskip('timm')
    torch.manual_seed(0)
    reference = timm.create_model('mixer_s16_224', pretrained=False, num_classes=10)
    ours = MODELS.build(classifier_cfg('MLP-S', num_classes=10))
    with torch.no_grad():  # norms away from (1, 0) so that every tensor matters
        for name, param in reference.named_parameters():
            if 'norm' in name:
                param.copy_(torch.rand_like(param) + 0.5 if name.endswith('weight')
                            else torch.randn_like(param) * 0.1)
    state = {_timm_to_mmpretrain(k): v for k, v in reference.state_dict().items()}
    ours.load_state_dict(state, strict=True)
    eps = {m.eps for m in ours.modules() if isinstance(m, torch.nn.LayerNorm)}
    assert eps == {m.eps for m in reference.modules() if isinstance(m, torch.nn.LayerNorm)}
    reference.double().eval()
    ours.double().eval()
    # small inputs: the LayerNorm variances are then small enough for eps to show
    x = torch.randn(2, 3, 224, 224, dtype=torch.float64) * 0.01
    with torch.no_grad():
        expected = reference(x)
        logits = ours(x, mode='tensor')
    torch.testing.assert_close(logits, expected, rtol=0, atol=1e-12)

"""Unit tests of the backbones bocb_mm implements itself (bocb_mm/models/backbones/: MogaNet,
UniRepLKNet, TransNeXt, MetaFormer, CIFAR-stem ConvNeXt/DenseNet); the 20 BOCB backbones as built
from the zoo are in test_backbones.py."""
from __future__ import annotations

import pytest
import torch

from bocb_mm.models import ConvNeXt, DenseNet, MetaFormer, MogaNet, TransNeXt, UniRepLKNet
from bocb_mm.models.backbones.transnext import local_window_mask, relative_position_table
from bocb_mm.registry import MODELS


def test_registered_in_bocb_mm_scope():
    for name in ('MogaNet', 'UniRepLKNet', 'TransNeXt', 'MetaFormer', 'ConvNeXt', 'DenseNet'):
        assert MODELS.get(name) is not None


@pytest.mark.parametrize('cls, kwargs', [
    (MogaNet, dict(arch='xtiny')),
    (UniRepLKNet, dict(arch='atto', gap_before_final_norm=False)),
    (TransNeXt, dict(arch='micro')),
    (MetaFormer, dict(arch='convformer_s12', gap_before_final_norm=False)),
])
def test_frozen_stages_and_strides(cls, kwargs):
    model = cls(out_indices=(0, 1, 2, 3), frozen_stages=1, **kwargs)
    model.train()
    frozen = [n for n, p in model.named_parameters() if not p.requires_grad]
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    assert frozen and trainable
    outs = model(torch.randn(1, 3, 64, 64))
    assert [o.shape[-1] for o in outs] == [16, 8, 4, 2]
    # frozen modules stay in eval mode after train()
    for module in model.modules():
        own = list(module.parameters(recurse=False))
        if own and not any(p.requires_grad for p in own):
            assert not module.training


def test_moganet_norm_eval_and_arch_dict():
    arch = dict(embed_dims=[16, 32, 64, 128], depths=[1, 1, 1, 1], ffn_ratios=[2, 2, 2, 2])
    model = MogaNet(arch=arch, norm_eval=True, drop_path_rate=0.1, attn_force_fp32=True)
    model.train()
    bns = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert bns and not any(m.training for m in bns)
    out = model(torch.randn(2, 3, 32, 32))[0]
    assert out.shape == (2, 128, 1, 1)
    with pytest.raises(ValueError):
        MogaNet(arch='huge')


def test_moganet_cifar_stem_keeps_resolution():
    x = torch.randn(2, 3, 32, 32)
    assert MogaNet(arch='xtiny', cifar_stem=True, out_indices=(0, ))(x)[0].shape[-1] == 32
    assert MogaNet(arch='xtiny', out_indices=(0, ))(x)[0].shape[-1] == 8


def test_unireplknet_classification_output_and_kernel_table():
    model = UniRepLKNet(arch='atto')
    out = model(torch.randn(2, 3, 64, 64))
    assert len(out) == 1 and out[0].shape == (2, 320)
    tiny = UniRepLKNet(arch='tiny')
    kernels = [b.dwconv.kernel_size if hasattr(b.dwconv, 'kernel_size') else None
               for b in tiny.stages[2]]
    assert kernels[:4] == [13, (3, 3), 13, (3, 3)]
    with pytest.raises(ValueError):
        UniRepLKNet(arch=dict(depths=(1, 1, 1, 1), dims=(8, 16, 32, 64)))


def test_unireplknet_deploy_form_is_the_official_one():
    """deploy=True has no GRN bias (it is folded into pwconv2), like the official deploy form:
    31.038M parameters for UniRepLKNet-T with a 1000-class head; switch_to_deploy() gives the
    same structure."""
    head = 640 * 1000 + 1000
    deployed = UniRepLKNet(arch='tiny', deploy=True)
    assert not any(name.endswith('grn.beta') for name, _ in deployed.named_parameters())
    count = sum(p.numel() for p in deployed.parameters()) + head
    assert count == pytest.approx(31.038e6, abs=1e3)
    model = UniRepLKNet(arch='atto')
    model.eval()
    model.switch_to_deploy()
    assert set(model.state_dict()) == set(UniRepLKNet(arch='atto', deploy=True).state_dict())


@pytest.mark.parametrize('size', [(64, 64), (72, 104), (50, 50)])
def test_transnext_any_input_size(size):
    model = TransNeXt(arch='micro', out_indices=(0, 1, 2, 3))
    model.eval()
    with torch.no_grad():
        outs = model(torch.randn(1, 3, *size))
    assert [o.shape[1] for o in outs] == [48, 96, 192, 384]
    assert outs[0].shape[-2:] == ((size[0] + 3) // 4, (size[1] + 3) // 4)
    assert all(torch.isfinite(o).all() for o in outs)


@pytest.mark.parametrize('dtype', [torch.float64, torch.float16, torch.bfloat16])
def test_transnext_runs_in_its_parameters_dtype(dtype):
    """A model cast with ``.to(dtype)`` (no autocast) builds its position tables in that dtype;
    float64 gives the float32 outputs, half precision runs and stays finite."""
    torch.manual_seed(0)
    model = TransNeXt(arch='micro', out_indices=(0, 1, 2, 3))
    model.init_weights()
    model.eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        expected = model(x)  # float32 tables cached for the float32 model
        outs = model.to(dtype)(x.to(dtype))
    assert all(o.dtype == dtype for o in outs)
    # outputs are LayerNorm-ed (max |.| ~ 4); measured max errors: 3e-6, 8e-3, 6e-2
    tol = {torch.float64: 1e-4, torch.float16: 3e-2, torch.bfloat16: 0.2}[dtype]
    for out, ref in zip(outs, expected):
        assert torch.isfinite(out).all()
        torch.testing.assert_close(out.float(), ref, rtol=tol, atol=tol)


def test_transnext_helpers():
    valid, mask = local_window_mask((4, 5), 3, torch.device('cpu'))
    assert valid.shape == (20, 1) and mask.shape == (20, 9)
    assert valid[0, 0] == 4 and valid[6, 0] == 9  # corner vs. interior pixel
    index, table = relative_position_table((8, 8), (2, 2), (8, 8), torch.device('cpu'))
    assert index.shape == (64 * 4, ) and table.shape[1] == 2
    assert int(index.max()) == table.shape[0] - 1


def test_transnext_padding_keys_get_no_weight():
    """Keys outside the map (zero padding of the 3x3 window) are masked out of the softmax."""
    from bocb_mm.models.backbones.transnext import AggregatedAttention
    attn = AggregatedAttention(dim=16, num_heads=2, sr_ratio=2)
    attn.eval()
    hw = (4, 4)
    pos = dict(local=local_window_mask(hw, 3, torch.device('cpu')),
               pool=relative_position_table(hw, (2, 2), (4, 4), torch.device('cpu')))
    x = torch.randn(1, 16, 16, requires_grad=True)
    out = attn(x, hw, pos)
    assert out.shape == (1, 16, 16) and torch.isfinite(out).all()
    out.sum().backward()
    assert torch.isfinite(x.grad).all()


@pytest.mark.parametrize('arch, mixers', [
    ('identityformer_s12', ['IdentityMixer'] * 4),
    ('poolformerv2_s12', ['Pooling'] * 4),
    ('convformer_s12', ['SepConv'] * 4),
    ('attentionformer_s12', ['Attention'] * 4),
    ('caformer_s12', ['SepConv', 'SepConv', 'Attention', 'Attention']),
])
def test_metaformer_presets(arch, mixers):
    model = MetaFormer(arch=arch)
    assert model.depths == [2, 2, 6, 2] and model.embed_dims == [64, 128, 320, 512]
    assert [type(s[0].token_mixer).__name__ for s in model.stages] == mixers
    # ResScale only in the last two stages, no LayerScale
    assert [type(s[0].res_scale1).__name__ for s in model.stages] == \
        ['Identity', 'Identity', 'Scale', 'Scale']
    out = model(torch.randn(1, 3, 64, 64))
    assert len(out) == 1 and out[0].shape == (1, 512)


def test_metaformer_modified_layernorm_for_identity_and_pooling():
    assert MetaFormer('poolformerv2_s12').stages[0][0].norm1.normalized_dim == (1, 2, 3)
    assert MetaFormer('convformer_s12').stages[0][0].norm1.normalized_dim == (-1, )
    with pytest.raises(ValueError):
        MetaFormer('convformer_s99')
    with pytest.raises(ValueError):
        MetaFormer(dict(depths=[1], embed_dims=[8], token_mixers='rnn'))


def test_cifar_stem_subclasses_match_mmpretrain_without_the_switch():
    from mmpretrain.models.backbones import ConvNeXt as MMConvNeXt
    from mmpretrain.models.backbones import DenseNet as MMDenseNet
    for ours, theirs, kwargs in [(ConvNeXt, MMConvNeXt, dict(arch='atto')),
                                 (DenseNet, MMDenseNet, dict(arch='121'))]:
        a, b = ours(**kwargs).state_dict(), theirs(**kwargs).state_dict()
        assert {k: v.shape for k, v in a.items()} == {k: v.shape for k, v in b.items()}
    cnx = ConvNeXt(arch='atto', cifar_stem=True, frozen_stages=1)
    assert cnx.downsample_layers[0][0].stride == (1, 1)
    assert not cnx.downsample_layers[0][0].weight.requires_grad
    dn = DenseNet(arch='121', cifar_stem=True)
    assert len(dn.stem) == 1 and dn.stem[0].kernel_size == (3, 3)

"""tools/analysis/get_flops.py (bocb_mm.cli.get_flops): params/FLOPs table of the BOCB
backbones."""
from __future__ import annotations

import pytest

from bocb_mm.cli import get_flops


def test_complexity_known_values():
    row = get_flops.complexity('IF-12', num_classes=1000)
    assert row['input'] == 224
    assert row['params_m'] == pytest.approx(11.9, rel=0.01)
    assert row['flops_g'] == pytest.approx(1.8, rel=0.03)  # official: 1.8 G
    row = get_flops.complexity('R-50', num_classes=100)  # paper size: 32 px CIFAR stem
    assert row['input'] == 32 and row['flops_g'] == pytest.approx(1.30, rel=0.02)


def test_attention_is_counted():
    """scaled_dot_product_attention has a FLOP handle (AttentionFormer > ConvFormer)."""
    af = get_flops.complexity('AF-12')
    assert 'aten::scaled_dot_product_attention' not in af['unsupported']
    assert af['flops_g'] > get_flops.complexity('IF-12')['flops_g'] + 2


def test_cli_table(capsys, tmp_path):
    out = tmp_path / 'flops.csv'
    assert get_flops.main(['--backbones', 'CX-T', 'mobilenet-v2', '--format', 'csv',
                           '--out', str(out)]) == 0
    text = capsys.readouterr().out
    assert text.splitlines()[0].startswith('backbone,')
    assert [line.split(',')[0] for line in text.splitlines()[1:]] == ['CNX-T', 'MobV2']
    assert out.read_text() == text

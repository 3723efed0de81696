"""Every param group is validated with the constructor's messages.

Groups reach an optimizer three ways: ``params`` dicts given to the constructor,
``add_param_group`` and mmengine's ``paramwise_cfg`` (which builds groups with ``lr_mult`` ...);
each gets the constructor's message followed by the group's index, and a rejected group is not
added. Strings for numbers (YAML, ``--cfg-options``) and integer parameter tensors fail at
construction, naming the argument or the parameter.
"""
from __future__ import annotations

import re
from typing import Any

import pytest
import torch
from torch import nn

from bocb_mm.optim import get_info, list_optimizers

OURS = [n for n in list_optimizers() if not get_info(n).is_torch]


def base_kwargs(name: str) -> dict[str, Any]:
    """Valid constructor arguments: the zoo's defaults with an explicit lr."""
    return {**get_info(name).defaults, 'lr': 1e-3}


def bad_values(name: str) -> list[tuple[str, Any]]:
    """Hyper-parameter values the optimizer must reject, in a group as in its constructor."""
    sig_defaults = get_info(name).cls([nn.Parameter(torch.zeros(1))], **base_kwargs(name)).defaults
    bad: list[tuple[str, Any]] = [('lr', float('nan')), ('lr', -1.0), ('weight_decay', -1.0)]
    if 'betas' in sig_defaults:  # beta == 1: ZeroDivisionError / NaN weights before the checks
        bad.append(('betas', (*sig_defaults['betas'][:-1], 1.0)))
    if 'momentum' in sig_defaults:
        bad.append(('momentum', 1.0))
    if 'beta1' in sig_defaults:
        bad.append(('beta1', 1.0))
    return bad


CASES = [(name, key, value) for name in OURS for key, value in bad_values(name)]


def fresh() -> nn.Parameter:
    return nn.Parameter(torch.zeros(3))


@pytest.mark.parametrize('name,key,value', CASES,
                         ids=[f'{n}-{k}={v}' for n, k, v in CASES])
def test_group_fails_like_the_constructor(name: str, key: str, value: Any) -> None:
    cls, kwargs = get_info(name).cls, base_kwargs(name)
    with pytest.raises(ValueError) as from_ctor:
        cls([fresh()], **{**kwargs, key: value})
    expected = f'{from_ctor.value} (param group 1)'
    assert str(from_ctor.value).startswith(f'Invalid {key}')

    with pytest.raises(ValueError) as from_dicts:
        cls([{'params': [fresh()]}, {'params': [fresh()], key: value}], **kwargs)
    assert str(from_dicts.value) == expected

    opt = cls([fresh()], **kwargs)
    with pytest.raises(ValueError) as from_add:
        opt.add_param_group({'params': [fresh()], key: value})
    assert str(from_add.value) == expected
    assert len(opt.param_groups) == 1  # the rejected group is not kept


def test_mmengine_paramwise_override_is_checked() -> None:
    from mmengine.optim import build_optim_wrapper

    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))
    cfg = dict(optimizer=dict(type='bocb_mm.Lion', lr=1e-4, weight_decay=0.1),
               paramwise_cfg=dict(custom_keys={'1.': dict(decay_mult=-1.0)}))
    with pytest.raises(ValueError, match=re.escape(
            'Invalid weight_decay: -0.1; expected weight_decay >= 0 (param group')):
        build_optim_wrapper(model, cfg)


@pytest.mark.parametrize('name', OURS)
def test_string_hyper_parameter_names_the_argument(name: str) -> None:
    cls, kwargs = get_info(name).cls, base_kwargs(name)
    message = re.escape("Invalid lr: '0.1' is a str (a string: write lr=0.1, not lr='0.1')")
    with pytest.raises(TypeError, match=message):
        cls([fresh()], **{**kwargs, 'lr': '0.1'})
    opt = cls([fresh()], **kwargs)
    with pytest.raises(TypeError, match=message + r'.*\(param group 1\)'):
        opt.add_param_group({'params': [fresh()], 'lr': '0.1'})


def test_string_betas_name_the_argument() -> None:
    cls = get_info('Adan').cls
    with pytest.raises(TypeError, match=re.escape("Invalid betas: '0.98,0.92,0.99' is a str")):
        cls([fresh()], betas='0.98,0.92,0.99')
    with pytest.raises(TypeError, match=re.escape("Invalid betas[1]: '0.92' is a str")):
        cls([fresh()], betas=(0.98, '0.92', 0.99))


@pytest.mark.parametrize('name', OURS)
def test_integer_parameter_rejected_at_construction(name: str) -> None:
    cls, kwargs = get_info(name).cls, base_kwargs(name)
    counts = torch.zeros(4, dtype=torch.int64)
    with pytest.raises(TypeError, match=re.escape(
            'Invalid parameter params[1] of param group 0: a torch.int64 tensor of shape (4,)')):
        cls([fresh(), counts], **kwargs)
    with pytest.raises(TypeError, match=re.escape(
            "Invalid parameter 'head.counts' of param group 0: a torch.int64 tensor")):
        cls([('head.weight', fresh()), ('head.counts', counts)], **kwargs)


def test_valid_groups_are_untouched() -> None:
    """Checks read the groups, never rewrite them (trajectories stay bit-identical)."""
    lion = get_info('Lion').cls
    groups = [{'params': [fresh()]}, {'params': [fresh()], 'lr': 0.5, 'betas': [0.8, 0.9]}]
    opt = lion(groups, lr=1e-3)
    assert opt.param_groups[1]['betas'] == [0.8, 0.9]
    assert opt.param_groups[1]['lr'] == 0.5
    opt.add_param_group({'params': [fresh()], 'lr': torch.tensor(0.01)})
    assert len(opt.param_groups) == 3

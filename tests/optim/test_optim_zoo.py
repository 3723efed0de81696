"""Tests of the optimizer zoo: the paper's 20 optimizers, their metadata and mmengine configs.

The zoo's table drives the tests: they are parametrised over :func:`list_optimizers`.
"""
from __future__ import annotations

import importlib
import re

import pytest
import torch
import torch.nn as nn

import bocb_mm.optim  # noqa: F401  (registers the bocb_mm optimizers)
from bocb_mm.optim.zoo import (Category, OptimizerInfo, UnknownOptimizerError, get_info,
                               list_optimizers, optimizer_cfg, resolve_name)

PAPER_ORDER = ['SGD-M', 'SGDP', 'LION', 'Adam', 'Adamax', 'NAdam', 'AdamW', 'LAMB', 'RAdam',
               'AdamP', 'Adan', 'AdaBound', 'LARS', 'AdaFactor', 'AdaBelief', 'NovoGrad',
               'Sophia', 'AdaGrad', 'AdaDelta', 'RMSProp']
NAMES = list_optimizers()

# lrs under which a tiny CNN learns a fixed batch in 30 steps (not the paper's settings)
TINY_LR = {'SGD-M': 0.05, 'SGDP': 0.05, 'LION': 3e-3, 'Adam': 1e-2, 'Adamax': 1e-2,
           'NAdam': 1e-2, 'AdamW': 1e-2, 'LAMB': 3e-2, 'RAdam': 3e-2, 'AdamP': 1e-2,
           'Adan': 1e-2, 'AdaBound': 1e-2, 'LARS': 1.0, 'AdaFactor': 1e-2, 'AdaBelief': 3e-2,
           'NovoGrad': 1e-2, 'Sophia': 3e-3, 'AdaGrad': 1e-2, 'AdaDelta': 1.0, 'RMSProp': 1e-3}


def tiny_cnn() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                         nn.AdaptiveAvgPool2d(2), nn.Flatten(), nn.Linear(32, 5))


def fixed_batch() -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    return torch.randn(16, 3, 8, 8, generator=gen), torch.randint(0, 5, (16,), generator=gen)


def build(name: str, model: nn.Module, **overrides):
    from mmengine.optim import build_optim_wrapper
    return build_optim_wrapper(model, dict(optimizer=optimizer_cfg(name, **overrides)))


# ---------------------------------------------------------------- names
def test_list_order_and_length() -> None:
    assert NAMES == PAPER_ORDER
    assert len(NAMES) == 20 == len(set(NAMES))


@pytest.mark.parametrize('alias,name', [
    ('SGD-M', 'SGD-M'), ('sgd-m', 'SGD-M'), ('SGDM', 'SGD-M'), ('sgd_m', 'SGD-M'), ('SGD', 'SGD-M'),
    ('LION', 'LION'), ('Lion', 'LION'), ('lion', 'LION'),
    ('Sophia', 'Sophia'), ('SophiaG', 'Sophia'), ('sophiag', 'Sophia'),
    ('AdaFactor', 'AdaFactor'), ('Adafactor', 'AdaFactor'), ('ADAFACTOR', 'AdaFactor'),
    ('RMSProp', 'RMSProp'), ('RMSprop', 'RMSProp'), ('rmsprop', 'RMSProp'),
    ('AdaGrad', 'AdaGrad'), ('Adagrad', 'AdaGrad'), ('AdaDelta', 'AdaDelta'),
    ('Adadelta', 'AdaDelta'), ('Novograd', 'NovoGrad'), ('NvNovoGrad', 'NovoGrad'),
    ('lamb', 'LAMB'), ('lars', 'LARS'), ('adamw', 'AdamW'), ('nadam', 'NAdam'),
    ('ADABELIEF', 'AdaBelief'), ('adabound', 'AdaBound'), ('adan', 'Adan'), ('adamp', 'AdamP'),
    ('sgdp', 'SGDP'),
])
def test_aliases_case_insensitive(alias: str, name: str) -> None:
    assert resolve_name(alias) == name
    assert get_info(alias) is get_info(name)
    assert optimizer_cfg(alias, lr=0.1) == optimizer_cfg(name, lr=0.1)


@pytest.mark.parametrize('bad', ['Adagrad2', 'SGD-X', '', 'Shampoo'])
def test_unknown_name_lists_valid_names(bad: str) -> None:
    with pytest.raises(UnknownOptimizerError) as err:
        get_info(bad)
    assert isinstance(err.value, KeyError) and isinstance(err.value, ValueError)
    message = str(err.value)
    assert repr(bad) in message
    assert all(name in message for name in NAMES)
    with pytest.raises(ValueError):
        optimizer_cfg(bad)


# ---------------------------------------------------------------- metadata
def test_categories_follow_the_paper_table() -> None:
    by_cat: dict[Category, list[str]] = {}
    for name in NAMES:
        by_cat.setdefault(get_info(name).category, []).append(name)
    assert by_cat == {
        Category.FIXED_LR: ['SGD-M', 'SGDP', 'LION'],
        Category.ADAPTIVE_LR: ['Adam', 'Adamax', 'NAdam', 'AdamW', 'LAMB', 'RAdam', 'AdamP',
                               'Adan'],
        Category.ESTIMATED_LR: ['AdaBound', 'LARS', 'AdaFactor', 'AdaBelief', 'NovoGrad',
                                'Sophia'],
        Category.ADAPTIVE_LR_CURRENT_GRAD: ['AdaGrad', 'AdaDelta', 'RMSProp'],
    }
    # the labels sort (a) .. (d), as the analysis orders them
    assert sorted(c.value for c in Category) == [c.value for c in Category]


@pytest.mark.parametrize('name', NAMES)
def test_info_fields(name: str) -> None:
    info = get_info(name)
    assert isinstance(info, OptimizerInfo)
    assert info.name == name
    with pytest.raises(AttributeError):  # frozen
        info.name = 'x'  # type: ignore[misc]
    cls = info.cls
    assert isinstance(cls, type) and issubclass(cls, torch.optim.Optimizer)
    if info.is_torch:
        assert info.type == info.class_name and cls is getattr(torch.optim, info.class_name)
    else:
        assert info.type == f'bocb_mm.{info.class_name}'
        assert cls.__module__ == info.module
        assert importlib.import_module(info.module).__doc__  # documented module
    assert info.weight_decay in ('coupled', 'decoupled')
    assert info.paper and info.venue
    assert info.arxiv is None or re.fullmatch(r'\d{4}\.\d{4,5}', info.arxiv)
    assert info.code.startswith('https://')
    assert 0 <= info.state_tensors <= 4
    with pytest.raises(TypeError):  # read-only defaults
        info.defaults['lr'] = 1.0  # type: ignore[index]


def test_paper_fixed_arguments() -> None:
    assert optimizer_cfg('SGD-M', lr=0.1, weight_decay=1e-4) == dict(
        type='SGD', momentum=0.9, lr=0.1, weight_decay=1e-4)
    assert optimizer_cfg('AdaFactor', lr=5e-4) == dict(type='bocb_mm.Adafactor',
                                                      scale_parameter=False, lr=5e-4)
    assert optimizer_cfg('Adan', lr=2e-3, weight_decay=0.05) == dict(
        type='bocb_mm.Adan', lr=2e-3, weight_decay=0.05)
    assert optimizer_cfg('SGD-M', lr=0.1, momentum=0.0)['momentum'] == 0.0  # overrides win
    with pytest.raises(ValueError, match='type'):
        optimizer_cfg('Adam', type='AdamW')
    cfg = optimizer_cfg('LARS', lr=1.0)
    cfg['lr'] = 2.0  # a fresh dict every call
    assert optimizer_cfg('LARS', lr=1.0)['lr'] == 1.0


@pytest.mark.parametrize('name', NAMES)
def test_state_tensor_count(name: str) -> None:
    """``state_tensors`` matches the state one step creates for a weight matrix."""
    weight = nn.Parameter(torch.randn(6, 5))
    info = get_info(name)
    opt = info.cls([weight], **{**info.defaults, 'lr': 1e-3})
    weight.grad = torch.randn(6, 5)
    opt.step()
    full = [v for v in opt.state[weight].values()
            if isinstance(v, torch.Tensor) and v.shape == weight.shape]
    assert len(full) == info.state_tensors


# ---------------------------------------------------------------- mmengine
@pytest.mark.parametrize('name', NAMES)
def test_builds_with_mmengine(name: str) -> None:
    model = tiny_cnn()
    wrapper = build(name, model, lr=1e-3)
    info = get_info(name)
    assert type(wrapper.optimizer) is info.cls
    group = wrapper.optimizer.param_groups[0]
    assert group['lr'] == 1e-3
    for key, value in info.defaults.items():
        assert group[key] == value


@pytest.mark.parametrize('name', NAMES)
def test_reduces_loss_of_tiny_cnn(name: str) -> None:
    model = tiny_cnn()
    wrapper = build(name, model, lr=TINY_LR[name], weight_decay=1e-4)
    x, y = fixed_batch()
    losses = []
    for _ in range(30):
        loss = nn.functional.cross_entropy(model(x), y)
        losses.append(loss.item())
        wrapper.update_params(loss)
    assert all(torch.isfinite(p).all() for p in model.parameters())
    assert losses[-1] < 0.9 * losses[0], losses


def _scope_unavailable(scope: str) -> str | None:
    """Why ``scope`` cannot serve as default scope here (its optimizer registry's modules must
    import: e.g. mmdet's need the compiled mmcv ops), or None."""
    try:
        registry = importlib.import_module(f'{scope}.registry')
        for location in registry.OPTIMIZERS._locations:
            importlib.import_module(location)
    except Exception as err:  # noqa: BLE001 - any import failure: scope not usable here
        return f'{scope} does not import here: {type(err).__name__}: {err}'
    return None


@pytest.mark.parametrize('scope', ['mmpretrain', 'mmdet', 'mmpose'])
def test_builds_under_downstream_default_scopes(scope: str) -> None:
    reason = _scope_unavailable(scope)
    if reason:
        pytest.skip(reason)
    from mmengine.registry import DefaultScope
    with DefaultScope.overwrite_default_scope(scope):
        for name in NAMES:
            wrapper = build(name, tiny_cnn(), lr=1e-3)
            assert type(wrapper.optimizer) is get_info(name).cls, (scope, name)


def test_no_clash_with_mmengine_root_names() -> None:
    """Our classes live in the bocb_mm scope; same-named root entries are untouched."""
    from mmengine.registry import OPTIMIZERS as ROOT

    from bocb_mm.optim import Lion
    from bocb_mm.registry import OPTIMIZERS
    assert ROOT.get('bocb_mm.Lion') is Lion
    assert OPTIMIZERS.get('Lion') is Lion
    try:
        import lion_pytorch
    except ImportError:
        lion_pytorch = None
    if lion_pytorch is not None:  # mmengine registers lion_pytorch's Lion in its root
        assert ROOT.get('Lion') is lion_pytorch.Lion
    for name in NAMES:  # torch's classes resolve from the root, ours only with the scope
        info = get_info(name)
        if info.is_torch:
            assert ROOT.get(info.type) is info.cls
        else:
            assert OPTIMIZERS.module_dict[info.class_name] is info.cls
            assert ROOT.module_dict.get(info.class_name) is not info.cls


CUSTOM = [n for n in NAMES if get_info(n).type.startswith('bocb_mm.')]


@pytest.mark.parametrize('name', CUSTOM)
def test_closure_and_setstate(name: str) -> None:
    """Every bocb_mm optimizer: ``step(closure)`` re-enables grad, and a checkpoint written
    before the ``foreach`` option existed loads with its default."""
    model = tiny_cnn()
    inputs, targets = fixed_batch()
    opt = get_info(name).cls(model.parameters(), lr=1e-3)

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(inputs), targets)
        loss.backward()
        return loss

    with torch.no_grad():  # step must re-enable grad for the closure
        loss = opt.step(closure)
    assert torch.isfinite(loss)
    state = opt.__getstate__()
    for group in state['param_groups']:
        group.pop('foreach')
    opt.__setstate__(state)
    assert all(group['foreach'] is None for group in opt.param_groups)
    opt.step(closure)

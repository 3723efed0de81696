"""The post-paper extension suite: the libraries' classes registered apart from the paper's 20.

Each optimizer built through mmengine's registry (``type='bocb_mm.<class>'``) takes the same steps,
bit for bit, as its library's class on the same tensors; a state_dict round trip continues
exactly; a missing library leaves the import working and makes the build name the pip package.
"""
from __future__ import annotations

import copy
import importlib
import sys
from typing import Any

import pytest
import torch
from mmengine.optim import OptimWrapper, build_optim_wrapper
from mmengine.registry import OPTIMIZERS
from torch import nn

from bocb_mm.optim import extensions
from bocb_mm.optim.cards import config_line, signature_defaults
from bocb_mm.optim.zoo import SUITES, get_info, list_optimizers
from bocb_mm.optim.zoo_facts import IMPLEMENTATION_FLAGS

POST_PAPER = list_optimizers('post-paper')
LIBRARIES = ('timm', 'pytorch_optimizer', 'schedulefree')
# lr and weight decay of the comparison (Muon's default adjust_lr_fn rescales its lr)
ARGS: dict[str, dict[str, Any]] = {name: dict(lr=1e-2, weight_decay=0.1) for name in POST_PAPER}
# Kron compiles its preconditioner kernels with torch.compile on first use (tens of seconds on CPU)
STEPPED = [pytest.param(name, marks=pytest.mark.slow) if name == 'Kron' else name
           for name in POST_PAPER]


def library_class(name: str) -> type:
    """The library's own class behind an extension optimizer (timm's AdamWLegacy for Cautious
    AdamW, which the registered class only gives ``caution=True`` by default; timm's Kron, which
    the registered class only gives ``compile_kernels``)."""
    if name == 'Cautious AdamW':
        from timm.optim.adamw import AdamWLegacy
        return AdamWLegacy
    if name == 'Kron':  # the registered subclass only adds compile_kernels
        from timm.optim.kron import Kron
        return Kron
    info = get_info(name)
    return getattr(importlib.import_module(info.module), info.class_name)


def library_args(name: str) -> dict[str, Any]:
    return dict(ARGS[name], caution=True) if name == 'Cautious AdamW' else dict(ARGS[name])


def tensors() -> list[torch.Tensor]:
    """A dense matrix, a conv kernel and a bias."""
    gen = torch.Generator().manual_seed(0)
    return [torch.randn(shape, generator=gen) for shape in ((8, 6), (4, 3, 3, 3), (4,))]


def new_params() -> list[nn.Parameter]:
    return [nn.Parameter(t) for t in tensors()]


def grads(step: int) -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(100 + step)
    return [torch.randn(t.shape, generator=gen) for t in tensors()]


def run_steps(optimizer: torch.optim.Optimizer, params: list[nn.Parameter],
              steps: range) -> None:
    if hasattr(optimizer, 'train'):  # Schedule-Free: steps only in train mode
        optimizer.train()
    for step in steps:
        torch.manual_seed(step)  # Kron draws its preconditioner probe from torch's generator
        for param, grad in zip(params, grads(step)):
            param.grad = grad.clone()
        optimizer.step()


def test_suites_keep_the_paper_20_apart():
    paper = list_optimizers()
    assert len(paper) == 20 and list_optimizers('paper') == paper
    assert POST_PAPER == ['Muon', 'Kron', 'MARS', 'ADOPT', 'SOAP', 'AdEMAMix',
                          'Schedule-Free AdamW', 'Cautious AdamW']
    assert list_optimizers('all') == paper + POST_PAPER
    assert {get_info(name).suite for name in paper} == {'paper'}
    assert {get_info(name).suite for name in POST_PAPER} == {'post-paper'}
    assert get_info('cadamw').name == 'Cautious AdamW'
    assert get_info('AdamWScheduleFree').type == 'bocb_mm.AdamWScheduleFree'
    with pytest.raises(ValueError, match='Unknown optimizer suite'):
        list_optimizers('extensions')
    assert 'all' in SUITES


@pytest.mark.parametrize('name', POST_PAPER)
def test_registered_class_is_the_librarys(name):
    info = get_info(name)
    optimizer = OPTIMIZERS.build(dict(type=info.type, params=new_params(), lr=1e-3))
    assert type(optimizer) is info.cls
    assert isinstance(optimizer, library_class(name))
    assert extensions.registered_extensions()[name]


@pytest.mark.parametrize('name', STEPPED)
def test_steps_equal_the_librarys(name):
    params, reference_params = new_params(), new_params()
    built = OPTIMIZERS.build(dict(type=get_info(name).type, params=params, **ARGS[name]))
    reference = library_class(name)(reference_params, **library_args(name))
    for step in range(4):
        run_steps(built, params, range(step, step + 1))
        run_steps(reference, reference_params, range(step, step + 1))
        for ours, theirs in zip(params, reference_params):
            assert torch.equal(ours, theirs), f'{name}: step {step} differs from the library'
    assert not torch.equal(params[0], tensors()[0]), f'{name}: the parameters did not move'


@pytest.mark.parametrize('name', STEPPED)
def test_state_dict_round_trip_continues_exactly(name):
    cfg = dict(type=get_info(name).type, **ARGS[name])
    params = new_params()
    optimizer = OPTIMIZERS.build(dict(cfg, params=params))
    run_steps(optimizer, params, range(3))
    saved_state = copy.deepcopy(optimizer.state_dict())
    resumed_params = [nn.Parameter(p.detach().clone()) for p in params]
    resumed = OPTIMIZERS.build(dict(cfg, params=resumed_params))
    resumed.load_state_dict(saved_state)
    run_steps(optimizer, params, range(3, 6))
    run_steps(resumed, resumed_params, range(3, 6))
    for ours, theirs in zip(params, resumed_params):
        assert torch.equal(ours, theirs), f'{name}: the resumed run differs'


@pytest.mark.parametrize('name', POST_PAPER)
def test_info_documents_every_constructor_argument(name):
    info = get_info(name)
    args = {a for a in signature_defaults(info) if a not in IMPLEMENTATION_FLAGS}
    assert set(info.hparams) == args, f'{name}: hparams and {info.class_name} signature differ'
    assert info.update_rule and info.pitfalls and info.requirement
    assert info.code.startswith('https://github.com/')


@pytest.mark.parametrize('name', POST_PAPER)
def test_config_line_builds(name):
    scope: dict = {}
    exec(config_line(get_info(name)), {}, scope)  # the card's line, as written
    wrapper = build_optim_wrapper(nn.Linear(3, 2), scope['optim_wrapper'])
    assert isinstance(wrapper, OptimWrapper)
    assert type(wrapper.optimizer) is get_info(name).cls


@pytest.fixture
def libraries_missing(monkeypatch):
    """timm, pytorch_optimizer and schedulefree unimportable while the extensions module is
    imported again; the real registrations are restored afterwards."""
    for module in list(sys.modules):
        if module.split('.')[0] in LIBRARIES:
            monkeypatch.setitem(sys.modules, module, None)
    for library in LIBRARIES:
        monkeypatch.setitem(sys.modules, library, None)
    monkeypatch.delattr(extensions, 'CautiousAdamW')
    monkeypatch.delattr(extensions, 'Kron')
    yield importlib.reload(extensions)
    monkeypatch.undo()
    importlib.reload(extensions)


def test_missing_library_skips_and_names_the_package(libraries_missing):
    assert libraries_missing.registered_extensions() == {name: False for name in POST_PAPER}
    assert not hasattr(libraries_missing, 'CautiousAdamW')
    assert not hasattr(libraries_missing, 'Kron')
    with pytest.raises(ImportError, match=r"pip install 'schedulefree==\d"):
        OPTIMIZERS.build(dict(type='bocb_mm.AdamWScheduleFree', params=new_params()))
    with pytest.raises(ImportError, match=r"Muon .*timm.*pip install 'timm==\d"):
        OPTIMIZERS.build(dict(type='bocb_mm.Muon', params=new_params()))
    with pytest.raises(ImportError, match=r"pip install 'pytorch_optimizer==\d"):
        get_info('SOAP').cls  # noqa: B018
    assert len(list_optimizers()) == 20


def test_registrations_restored_after_the_missing_library_check():
    assert all(extensions.registered_extensions().values())
    built = OPTIMIZERS.build(dict(type='bocb_mm.CautiousAdamW', params=new_params()))
    assert built.defaults['caution'] is True


def test_kron_eager_kernels_take_timms_steps(monkeypatch):
    """``compile_kernels=False`` runs timm's own kernel functions, uncompiled: the same steps,
    bit for bit, as timm's Kron built where torch.compile is unavailable (its eager path)."""
    from timm.optim import kron as timm_kron
    ours_params = new_params()
    ours = OPTIMIZERS.build(dict(type='bocb_mm.Kron', params=ours_params, compile_kernels=False,
                                 deterministic=True, **ARGS['Kron']))
    assert all(getattr(ours, k) is getattr(timm_kron, k) for k in extensions.Kron._KERNELS)
    monkeypatch.setattr(timm_kron, 'has_dynamo', False)
    ref_params = new_params()
    ref = timm_kron.Kron(ref_params, deterministic=True, **ARGS['Kron'])
    run_steps(ours, ours_params, range(4))
    run_steps(ref, ref_params, range(4))
    for mine, theirs in zip(ours_params, ref_params):
        assert torch.equal(mine, theirs)
    resumed = OPTIMIZERS.build(dict(type='bocb_mm.Kron', params=new_params(),
                                    compile_kernels=False, **ARGS['Kron']))
    resumed.load_state_dict(copy.deepcopy(ours.state_dict()))
    assert resumed._precond_grad is timm_kron._precond_grad


def test_kron_memoizes_contraction_paths_and_restores_opt_einsum():
    """The step finds each multi-operand contraction path once (the same paths as opt_einsum's
    search, hence the steps above equal timm's) and leaves opt_einsum's function as it was."""
    import opt_einsum
    search = opt_einsum.contract_path
    params = new_params()  # the conv kernel has four Kronecker factors: 5-operand einsums
    kron = OPTIMIZERS.build(dict(type='bocb_mm.Kron', params=params, compile_kernels=False,
                                 deterministic=True, **ARGS['Kron']))
    run_steps(kron, params, range(2))
    found = dict(kron._einsum_paths)
    assert found and all(len(equation.split('->')[0].split(',')) >= 3 for equation, *_ in found)
    run_steps(kron, params, range(2, 4))
    assert kron._einsum_paths.keys() == found.keys()  # nothing searched again
    assert opt_einsum.contract_path is search
    eq = 'ab,bc,cd->ad'
    operands = [torch.randn(2, 3), torch.randn(3, 4), torch.randn(4, 5)]
    cache: dict = {}
    with extensions.memoized_contraction_paths(cache):
        inside = torch.einsum(eq, *operands)
    assert len(cache) == 1 and torch.equal(inside, torch.einsum(eq, *operands))

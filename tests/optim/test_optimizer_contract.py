"""The generic contract of torch's optimizers, for every bocb_mm optimizer and option branch.

Tensor learning rates on both paths, learning rates given only in the param groups, groups of
1-d tensors only on the multi-tensor path, state dtypes kept across a half-precision resume, and
the build-time refusals (multi-element tensor lr, Adafactor's relative step under an lr
scheduler, SophiaG stepping without a Hessian estimate).
"""
from __future__ import annotations

import copy
import warnings

import pytest
import torch
import torch.nn as nn
from optim_helpers import STEP_CASES, Net, assert_same, make_model, moved, run
from torch import Tensor

from bocb_mm.optim import (SGDP, AdaBelief, AdaBound, Adafactor, AdamP, Adan, LAMB, LARS, Lion,
                           NovoGrad, SophiaG)
from bocb_mm.optim.config_check import OptimConfigError, check_optim_cfg

ALL = [SGDP, AdamP, Lion, LAMB, Adan, LARS, AdaBound, AdaBelief, NovoGrad, SophiaG, Adafactor]
CASE_IDS = [f'{c[0].__name__}-{i}' for i, c in enumerate(STEP_CASES)]
LR_CASES = [c for c in STEP_CASES if c[1].get('lr') is not None]
LR_IDS = [i for c, i in zip(STEP_CASES, CASE_IDS) if c[1].get('lr') is not None]
#: The first case of each optimizer.
FIRST = {c[0]: c for c in reversed(STEP_CASES)}


def test_every_optimizer_has_a_case() -> None:
    assert set(FIRST) == set(ALL)


@pytest.mark.parametrize('foreach', [False, True], ids=['loop', 'foreach'])
@pytest.mark.parametrize('case', LR_CASES, ids=LR_IDS)
def test_tensor_lr_equals_float_lr(case: tuple, foreach: bool) -> None:
    """A 0-d tensor lr steps exactly like the same float, on both paths, past AdaBelief's
    rectification threshold (step 6)."""
    cls, kwargs, run_kwargs, model_cls = case
    plain, tensor = make_model(cls=model_cls), make_model(cls=model_cls)
    opt_plain = cls(plain.parameters(), foreach=foreach, **kwargs)
    lr = torch.tensor(kwargs['lr'], dtype=torch.float64)
    opt_tensor = cls(tensor.parameters(), foreach=foreach, **{**kwargs, 'lr': lr})
    run(plain, opt_plain, 8, **run_kwargs)
    run(tensor, opt_tensor, 8, **run_kwargs)
    moved(plain, make_model(cls=model_cls))
    assert_same(tensor, plain)
    assert opt_tensor.param_groups[0]['lr'] is lr  # the group keeps the user's tensor


@pytest.mark.parametrize('cls', ALL, ids=lambda c: c.__name__)
def test_multi_element_tensor_lr_is_a_value_error(cls: type) -> None:
    """As in torch: a tensor lr must have one element."""
    lr = torch.tensor([1e-3, 1e-3])
    with pytest.raises(ValueError, match=r'Invalid lr: a tensor of shape \(2,\)'):
        cls(make_model().parameters(), lr=lr)
    with pytest.raises(ValueError, match=r'Invalid lr: .*\(param group 0\)'):
        cls([dict(params=list(make_model().parameters()), lr=lr)], lr=1e-3)


@pytest.mark.parametrize('cls', ALL, ids=lambda c: c.__name__)
def test_lr_only_in_the_groups(cls: type) -> None:
    """Every optimizer takes its lr from the param groups alone (torch, timm, the official
    SGDP); a group without one falls back to the constructor's default, or, for SGDP, whose lr
    is required, is refused by name."""
    _, kwargs, run_kwargs, model_cls = FIRST[cls]
    kwargs = {k: v for k, v in kwargs.items() if k != 'lr'}
    ref, grouped = make_model(cls=model_cls), make_model(cls=model_cls)
    lr = FIRST[cls][1].get('lr', 1e-2)
    opt_ref = cls(ref.parameters(), lr=lr, **kwargs)
    opt = cls([dict(params=list(grouped.parameters()), lr=lr)], **kwargs)
    run(ref, opt_ref, 3, **run_kwargs)
    run(grouped, opt, 3, **run_kwargs)
    assert_same(grouped, ref)
    if cls is SGDP:
        with pytest.raises(ValueError, match='required optimization parameter lr'):
            SGDP([dict(params=list(make_model().parameters()))])


@pytest.mark.parametrize('case', STEP_CASES, ids=CASE_IDS)
def test_group_of_only_1d_tensors_on_both_paths(case: tuple) -> None:
    """A param group of biases and norm weights (the BOCB constructor's no-decay group) steps on
    the multi-tensor path, and equals the loop."""
    cls, kwargs, run_kwargs, model_cls = case
    single, multi = make_model(cls=model_cls), make_model(cls=model_cls)
    opts = [cls([dict(params=[p for p in m.parameters() if p.dim() > 1]),
                 dict(params=[p for p in m.parameters() if p.dim() <= 1])],
                foreach=foreach, **kwargs)
            for m, foreach in ((single, False), (multi, True))]
    only_1d = cls([p for p in make_model(cls=model_cls).parameters() if p.dim() <= 1],
                  foreach=True, **kwargs)
    assert only_1d.param_groups[0]['params']
    run(single, opts[0], 6, **run_kwargs)
    run(multi, opts[1], 6, **run_kwargs)
    assert_same(single, multi)


def _half_model(model_cls: type, dtype: torch.dtype) -> nn.Module:
    model = make_model(cls=model_cls).to(dtype)

    def cast_input(module: nn.Module, args: tuple) -> tuple:
        return tuple(a.to(dtype) for a in args)

    model.register_forward_pre_hook(cast_input)
    return model


def _assert_identical(a: dict | nn.Module, b: dict | nn.Module) -> None:
    """Equal tensors, dtypes included; NaN equals NaN (pure fp16 training with an eps that
    rounds to 0 in fp16 may produce them, and the resume must then reproduce them too)."""
    items_a = a.items() if isinstance(a, dict) else a.named_parameters()
    items_b = dict(b.items() if isinstance(b, dict) else b.named_parameters())
    for key, value in items_a:
        if isinstance(value, Tensor):
            torch.testing.assert_close(value, items_b[key], rtol=0, atol=0, equal_nan=True,
                                       msg=lambda m, key=key: f'{key}: {m}')
        else:
            assert value == items_b[key], key


@pytest.mark.parametrize('dtype', [torch.float16, torch.bfloat16], ids=['fp16', 'bf16'])
@pytest.mark.parametrize('case', STEP_CASES, ids=CASE_IDS)
def test_resume_keeps_state_dtype(case: tuple, dtype: torch.dtype) -> None:
    """A half-precision run resumed from its state_dict has the state (dtypes and values) it
    saved and continues exactly as the uninterrupted run; float32 state of Adafactor and
    NovoGrad is not rounded to the parameters' dtype on the way."""
    cls, kwargs, run_kwargs, model_cls = case
    straight = _half_model(model_cls, dtype)
    opt_straight = cls(straight.parameters(), **kwargs)
    run(straight, opt_straight, 6, **run_kwargs)
    saved = copy.deepcopy(opt_straight.state_dict())
    dtypes = {(i, k): v.dtype for i, s in saved['state'].items() for k, v in s.items()
              if isinstance(v, Tensor)}

    resumed = _half_model(model_cls, dtype)
    resumed.load_state_dict(straight.state_dict())
    opt = cls(resumed.parameters(), **kwargs)
    opt.load_state_dict(saved)
    for p_resumed, p_straight in zip(resumed.parameters(), straight.parameters()):
        _assert_identical(opt.state[p_resumed], opt_straight.state[p_straight])
    loaded = opt.state_dict()['state']
    assert {(i, k): v.dtype for i, s in loaded.items() for k, v in s.items()
            if isinstance(v, Tensor)} == dtypes
    run(straight, opt_straight, 4, start=6, **run_kwargs)
    run(resumed, opt, 4, start=6, **run_kwargs)
    _assert_identical(resumed, straight)
    if dtype == torch.bfloat16:  # float32's range: the test is not vacuous
        assert all(torch.isfinite(p).all() for p in straight.parameters())
        if kwargs.get('lr') is not None:  # 1e-6 t warm-up steps round away in bf16
            moved(straight, _half_model(model_cls, dtype), min_err=1e-3)


@pytest.mark.parametrize('cls', [Adafactor, NovoGrad], ids=lambda c: c.__name__)
def test_float32_state_of_half_parameters_survives_resume(cls: type) -> None:
    """The float32 moments of fp16 parameters come back float32 and unrounded."""
    model = _half_model(Net, torch.float16)
    opt = cls(model.parameters(), lr=1e-2)
    run(model, opt, 3)
    saved = copy.deepcopy(opt.state_dict())
    fp32 = [(i, k) for i, s in saved['state'].items() for k, v in s.items()
            if isinstance(v, Tensor) and v.dtype == torch.float32]
    assert fp32
    fresh = cls(model.parameters(), lr=1e-2)
    fresh.load_state_dict(saved)
    params = list(model.parameters())
    for i, key in fp32:
        assert torch.equal(fresh.state[params[i]][key], saved['state'][i][key])


def test_adabound_base_lr_is_not_moved_by_an_in_place_schedule() -> None:
    """A tensor lr updated in place (as a scheduler of tensor lrs does) moves the bounds through
    ``lr / base_lr``, but not ``base_lr`` itself."""
    lr = torch.tensor(1e-2, dtype=torch.float64)
    opt = AdaBound(make_model().parameters(), lr=lr)
    lr.mul_(0.5)
    assert float(opt.param_groups[0]['base_lr']) == 1e-2
    assert float(opt.param_groups[0]['lr']) == 5e-3
    scheduled, reference = make_model(), make_model()
    opt = AdaBound(scheduled.parameters(), lr=lr)
    lr.fill_(2.5e-3)
    ref_opt = AdaBound(reference.parameters(), lr=5e-3)
    ref_opt.param_groups[0]['lr'] = 2.5e-3
    run(scheduled, opt, 5)
    run(reference, ref_opt, 5)
    assert_same(scheduled, reference)


ADAFACTOR_CFG = dict(optim_wrapper=dict(optimizer=dict(type='bocb_mm.Adafactor')))


@pytest.mark.parametrize('scheduler', [
    dict(type='MultiStepLR', milestones=[30], by_epoch=True),
    dict(type='LinearParamScheduler', param_name='lr', start_factor=1.0, end_factor=0.1),
], ids=['MultiStepLR', 'param_name-lr'])
def test_relative_step_with_an_lr_scheduler_is_refused(scheduler: dict) -> None:
    cfg = copy.deepcopy(ADAFACTOR_CFG)
    cfg['param_scheduler'] = [scheduler]
    pattern = rf'relative-step mode \(lr=None\).*{scheduler["type"]}'
    with pytest.raises(OptimConfigError, match=pattern):
        check_optim_cfg(cfg)
    cfg['optim_wrapper']['optimizer'].update(lr=1e-3, relative_step=False)
    check_optim_cfg(cfg)  # an explicit lr may be scheduled
    check_optim_cfg({**ADAFACTOR_CFG, 'param_scheduler': [dict(type='CosineAnnealingMomentum')]})


def test_sophia_warns_once_when_the_hessian_is_never_refreshed() -> None:
    model = make_model()
    opt = SophiaG(model.parameters(), lr=1e-3)
    with pytest.warns(RuntimeWarning, match='without an update_hessian') as record:
        run(model, opt, 25)
    assert len([w for w in record if 'update_hessian' in str(w.message)]) == 1

    with warnings.catch_warnings():
        warnings.simplefilter('error', RuntimeWarning)
        model = make_model()
        run(model, SophiaG(model.parameters(), lr=1e-3), 25,
            hessian=lambda o: o.update_hessian())  # every 5 steps
        model = make_model()
        silent = SophiaG(model.parameters(), lr=1e-3)
        silent.hessian_interval = 0  # h = 0 on purpose
        run(model, silent, 25)

"""Behaviour of single bocb_mm optimizers beyond the reference trajectories: AdaBound with an lr
scheduled to 0, Adafactor never writing its step size into the group, SophiaG's Hessian estimate
and its per-step ``bs``."""
from __future__ import annotations

import copy

import pytest
import torch
from optim_helpers import (SOPHIA_HESSIAN, assert_same, hessian_loss_at, make_model,
                           max_rel_err, run)

from bocb_mm.optim import AdaBound, Adafactor, SophiaG


def test_adabound_lr_to_zero_no_nan() -> None:
    model = make_model()
    opt = AdaBound(model.parameters(), lr=1e-2)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=5, eta_min=0.0)
    run(model, opt, 5, step_fn=lambda o: (o.step(), sched.step()))
    assert opt.param_groups[0]['lr'] == 0.0
    before = copy.deepcopy(model)
    run(model, opt, 3, start=5)
    assert all(torch.isfinite(p).all() for p in model.parameters())
    assert_same(model, before)  # lr 0: bounds [0, 0], no movement
    # an optimizer built with lr=0 (base lr 0) does not divide by zero either
    zero = make_model()
    opt = AdaBound(zero.parameters(), lr=0.0)
    run(zero, opt, 2)
    opt.param_groups[0]['lr'] = 1e-2
    run(zero, opt, 3, start=2)
    assert all(torch.isfinite(p).all() for p in zero.parameters())


@pytest.mark.parametrize('kwargs', [dict(), dict(lr=1e-2), dict(lr=1e-2, scale_parameter=False),
                                    dict(warmup_init=True)])
@pytest.mark.parametrize('foreach', [False, True])
def test_adafactor_never_changes_group_lr(kwargs: dict, foreach: bool) -> None:
    model = make_model()
    opt = Adafactor(model.parameters(), foreach=foreach, **kwargs)
    run(model, opt, 5)
    assert opt.param_groups[0]['lr'] == kwargs.get('lr')
    assert max_rel_err(model, make_model()) > 0  # it did step


def test_sophia_hessian_zero_until_update() -> None:
    model = make_model()
    opt = SophiaG(model.parameters(), lr=1e-3)
    run(model, opt, 3)
    hessians = [opt.state[p]['hessian'] for p in model.parameters()]
    assert all(torch.count_nonzero(h) == 0 for h in hessians)
    opt.zero_grad()
    hessian_loss_at(model, 0).backward()
    opt.update_hessian()
    assert all(torch.count_nonzero(h) > 0 for h in hessians)
    # update_hessian also creates state for a fresh optimizer, starting from zero
    fresh = SophiaG(model.parameters())
    fresh.update_hessian()
    g = model.fc.weight.grad
    expected = (1 - fresh.defaults['betas'][1]) * g * g
    assert torch.allclose(fresh.state[model.fc.weight]['hessian'], expected)
    assert torch.count_nonzero(fresh.state[model.fc.weight]['exp_avg']) == 0


def test_sophia_step_bs_override() -> None:
    a, b = make_model(), make_model()
    opt_a = SophiaG(a.parameters(), lr=1e-3, bs=4)
    opt_b = SophiaG(b.parameters(), lr=1e-3)
    run(a, opt_a, 6, **SOPHIA_HESSIAN)
    run(b, opt_b, 6, step_fn=lambda o: o.step(bs=4), **SOPHIA_HESSIAN)
    assert_same(a, b)

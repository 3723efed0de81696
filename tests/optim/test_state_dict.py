"""Resuming the bocb_mm optimizers: state_dict round trips continue bit-identically, AdaBound's
base lr travels in the state_dict, and state dicts of the official classes load."""
from __future__ import annotations

import copy

import pytest
import torch
from optim_helpers import (SOPHIA_HESSIAN, STEP_CASES, assert_same, assert_same_state,
                           make_model, official_class, run)

from bocb_mm.optim import AdaBound, SophiaG

pytestmark = pytest.mark.filterwarnings('ignore::UserWarning')  # deprecated calls in adabound

CASE_IDS = [f'{c[0].__name__}-{i}' for i, c in enumerate(STEP_CASES)]


@pytest.mark.parametrize('case', STEP_CASES, ids=CASE_IDS)
def test_state_dict_round_trip(case: tuple) -> None:
    """10 steps, state_dict into a fresh model and optimizer, 10 more steps: the same parameters
    and state as 20 steps straight."""
    cls, kwargs, run_kwargs, model_cls = case
    straight = make_model(cls=model_cls)
    opt_straight = cls(straight.parameters(), **kwargs)
    run(straight, opt_straight, 20, **run_kwargs)

    first = make_model(cls=model_cls)
    opt = cls(first.parameters(), **kwargs)
    run(first, opt, 10, **run_kwargs)
    model_sd = copy.deepcopy(first.state_dict())
    opt_sd = copy.deepcopy(opt.state_dict())
    del first, opt

    resumed = make_model(seed=123, cls=model_cls)
    resumed.load_state_dict(model_sd)
    opt = cls(resumed.parameters(), **kwargs)
    opt.load_state_dict(opt_sd)
    run(resumed, opt, 10, start=10, **run_kwargs)
    assert_same(resumed, straight)
    assert_same_state(opt, opt_straight, resumed, straight)


def test_adabound_resume_keeps_base_lr() -> None:
    """The bounds scale with lr / base_lr; base_lr travels in the state_dict, so a resume that
    builds the optimizer from an already-decayed lr continues exactly."""
    def decay(o: torch.optim.Optimizer) -> None:
        o.step()
        for g in o.param_groups:
            g['lr'] *= 0.9

    straight = make_model()
    run(straight, AdaBound(straight.parameters(), lr=1e-2), 20, step_fn=decay)
    first = make_model()
    opt = AdaBound(first.parameters(), lr=1e-2)
    run(first, opt, 10, step_fn=decay)
    opt_sd = copy.deepcopy(opt.state_dict())
    assert opt_sd['param_groups'][0]['base_lr'] == 1e-2
    resumed = make_model(seed=1)
    resumed.load_state_dict(first.state_dict())
    opt = AdaBound(resumed.parameters(), lr=opt.param_groups[0]['lr'])  # a decayed lr
    opt.load_state_dict(opt_sd)
    run(resumed, opt, 10, start=10, step_fn=decay)
    assert_same(resumed, straight)


def test_load_official_checkpoints() -> None:
    """State dicts of the official AdaBound / SophiaG classes load (missing keys defaulted)."""
    for ours_cls, ref_name, extra in ((AdaBound, 'adabound', {}),
                                      (SophiaG, 'sophia', SOPHIA_HESSIAN)):
        ref = make_model()
        ref_opt = official_class(ref_name)(ref.parameters(), lr=1e-3)
        run(ref, ref_opt, 3, **extra)
        ours = make_model()
        opt = ours_cls(ours.parameters(), lr=1e-3)
        opt.load_state_dict(copy.deepcopy(ref_opt.state_dict()))
        assert opt.param_groups[0]['foreach'] is None
        assert all(isinstance(s['step'], int) for s in opt.state.values())
        run(ours, opt, 2, start=3, **extra)

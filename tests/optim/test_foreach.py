"""The multi-tensor (``foreach=True``) path of every bocb_mm optimizer equals its per-tensor loop
bit for bit: parameters and optimizer state after 20 float64 steps with two param groups."""
from __future__ import annotations

import pytest
from optim_helpers import STEP_CASES, assert_same, assert_same_state, make_model, run, two_groups

CASE_IDS = [f'{c[0].__name__}-{i}' for i, c in enumerate(STEP_CASES)]


@pytest.mark.parametrize('case', STEP_CASES, ids=CASE_IDS)
def test_foreach_equals_single_tensor(case: tuple) -> None:
    cls, kwargs, run_kwargs, model_cls = case
    single, multi = make_model(cls=model_cls), make_model(cls=model_cls)
    opt_s = cls(two_groups(single, kwargs), foreach=False, **kwargs)
    opt_m = cls(two_groups(multi, kwargs), foreach=True, **kwargs)
    run(single, opt_s, 20, **run_kwargs)
    run(multi, opt_m, 20, **run_kwargs)
    assert_same(single, multi)
    assert_same_state(opt_s, opt_m, single, multi)  # the optimizer state agrees too

"""The multi-tensor (``foreach=True``) path of every bocb_mm optimizer equals its per-tensor loop
bit for bit: parameters and optimizer state after 20 float64 steps with two param groups, and
SGDP / AdamP's stacked projection on weights that share a shape."""
from __future__ import annotations

import pytest
import torch
from optim_helpers import STEP_CASES, assert_same, assert_same_state, make_model, run, two_groups
from torch import Tensor

from bocb_mm.optim import _base
from bocb_mm.optim.sgdp import project_and_decay_, project_radial

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


def _orthogonal(grad: Tensor, param: Tensor, rows: int) -> Tensor:
    """``grad`` without its component along ``param``, per row of the ``(rows, -1)`` view."""
    g, p = grad.reshape(rows, -1), param.reshape(rows, -1)
    coef = (g * p).sum(1, keepdim=True) / (p * p).sum(1, keepdim=True)
    return (g - coef * p).reshape(grad.shape)


@pytest.mark.parametrize('dtype', [torch.float32, torch.float64])
def test_batched_projection_equals_per_tensor(dtype: torch.dtype) -> None:
    """SGDP / AdamP's multi-tensor projection stacks the weights of one 2-D view shape: it gives
    the per-tensor projection's numbers bit for bit, weights that hit the channel view, the
    layer view or neither mixed in one stack."""
    gen = torch.Generator().manual_seed(0)
    shapes = [(8, 4, 3, 3)] * 3 + [(16, 8)] * 3 + [(16, 8, 1, 1), (5,), (8, 36)]
    params = [torch.randn(s, generator=gen, dtype=dtype) for s in shapes]
    grads = [torch.randn(s, generator=gen, dtype=dtype) for s in shapes]
    grads[0] = _orthogonal(grads[0], params[0], 8)  # channel view
    grads[3] = _orthogonal(grads[3], params[3], 1)  # layer view
    grads[6] = _orthogonal(grads[6], params[6], 16)
    grads[1] = params[1] + 0.1 * grads[1]  # aligned with the weight: no projection
    updates = [torch.randn(s, generator=gen, dtype=dtype) for s in shapes]
    expected, hits = [], []
    for p, g, u in zip(params, grads, updates):
        out, hit = project_radial(p, g, u, 0.1, 1e-8) if p.dim() > 1 else (u, torch.tensor(False))
        expected.append(out)
        hits.append(bool(hit))
    assert hits[0] and hits[3] and hits[6] and not hits[1]
    decayed = [p.clone() for p in params]
    outs = project_and_decay_(decayed, grads, updates, delta=0.1, eps=1e-8, weight_decay=0.1,
                              plain=0.9, reduced=0.99)
    for out, exp, p, q, hit in zip(outs, expected, params, decayed, hits):
        assert torch.equal(out, exp)
        assert torch.equal(q, p * (0.99 if hit else 0.9))


@pytest.mark.parametrize('case', STEP_CASES, ids=CASE_IDS)
def test_cpu_chunks_equal_single_tensor(case: tuple, monkeypatch: pytest.MonkeyPatch) -> None:
    """The multi-tensor path cut into CPU chunks of a few tensors each still equals the loop."""
    monkeypatch.setattr(_base, 'CPU_CHUNK_BYTES', 300)
    cls, kwargs, run_kwargs, model_cls = case
    single, multi = make_model(cls=model_cls), make_model(cls=model_cls)
    params = list(multi.parameters())
    assert 2 < len(_base.cpu_chunks(params, list(range(len(params))))) < len(params)
    opt_s = cls(two_groups(single, kwargs), foreach=False, **kwargs)
    opt_m = cls(two_groups(multi, kwargs), foreach=True, **kwargs)
    run(single, opt_s, 10, **run_kwargs)
    run(multi, opt_m, 10, **run_kwargs)
    assert_same(single, multi)
    assert_same_state(opt_s, opt_m, single, multi)


def test_cpu_chunks_cover_the_bucket_in_order() -> None:
    tensors = [torch.zeros(n) for n in (10, 300_000, 5, 5, 70_000, 200_000, 1)]
    idx = [0, 1, 2, 4, 5, 6]  # one bucket, tensor 3 elsewhere
    chunks = _base.cpu_chunks(tensors, idx)
    assert [i for chunk in chunks for i in chunk] == idx
    assert chunks == [[0, 1], [2, 4, 5], [6]]  # each closed once it reaches 1 MiB
    assert _base.cpu_chunks(tensors, []) == [[]]


def test_optimizer_paths_benchmark_times_every_variant() -> None:
    """tools/benchmark/optimizer_paths.py on tiny tensors: each variant timed, the chunk size
    restored, bad arguments refused."""
    from bocb_mm.benchmark import optimizer_paths as bench
    params = [torch.randn(64, 32, requires_grad=True), torch.randn(32, requires_grad=True)]
    for p in params:
        p.grad = torch.randn_like(p)
    result = bench.time_paths('LAMB', params, repeats=2)
    assert set(result) == set(bench.VARIANTS)
    assert all(ms > 0 and faults >= 0 for ms, faults in result.values())
    assert _base.CPU_CHUNK_BYTES == 1 << 20
    assert bench.parse_args([]).optimizers == list(bench.OPTIMIZERS)
    with pytest.raises(SystemExit):
        bench.parse_args(['Adamm'])

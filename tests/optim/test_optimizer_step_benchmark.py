"""The optimizer-step benchmark (``tools/benchmark/optimizer_step.py``) by import, on tiny
tensors: every implementation of an optimizer steps and is timed, and the tables print."""
from __future__ import annotations

import math

import pytest
import torch

from bocb_mm.benchmark import optimizer_step as bench


def test_implementations_start_with_the_zoos_own() -> None:
    lamb = [impl.label for impl in bench.implementations('LAMB')]
    assert lamb[:3] == ['bocb_mm default', 'bocb_mm', 'bocb_mm foreach']
    adamw = [impl.label for impl in bench.implementations('adamw')]
    assert adamw[:2] == ['torch (loop)', 'torch foreach']


def test_interleaved_steps_time_every_implementation(capsys) -> None:
    work = bench.Workload([torch.Size([16, 8]), torch.Size([8])])
    assert work.numel == 136
    rows = bench.measure_interleaved('LAMB', work, repeats=2)
    assert [r.impl for r in rows] == [i.label for i in bench.implementations('LAMB')]
    ours = [r for r in rows if r.impl.startswith('bocb_mm')]
    assert all(r.error is None and r.ms > 0 and r.state_per_param >= 8 for r in ours)
    bench.print_table('tiny', rows, bandwidth=1e9, ref_bw=1e9)
    bench.print_summary(rows)
    out = capsys.readouterr().out
    assert '== tiny: step time' in out and 'bocb_mm foreach' in out


def test_time_steps_and_state_bytes() -> None:
    params = bench.Workload([torch.Size([4, 4])]).fresh()
    opt = torch.optim.Adam(params, lr=1e-3)
    assert bench.time_steps(opt, repeats=3) > 0
    assert bench.state_bytes(opt) >= 2 * 16 * 4  # exp_avg and exp_avg_sq
    assert math.isfinite(bench.copy_bandwidth(1024, repeats=1))


def test_arguments() -> None:
    args = bench.parse_args([])
    assert args.models == list(bench.MODELS) and args.optimizers is None and args.repeats == 10
    with pytest.raises(SystemExit):
        bench.parse_args(['--models', 'vgg'])

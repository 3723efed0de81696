"""SophiaOptimWrapper under real DDP (2 CPU processes, gloo, MMDistributedDataParallel): the
Hessian estimate is all-reduced, so every rank folds the same EMA and stays in sync."""
from __future__ import annotations

import os

import pytest
import torch
import torch.multiprocessing as mp


def _worker(rank: int, world: int, store: str, out: str, estimator: str) -> None:
    """One rank (a spawned process: the ``single_thread`` fixture does not reach it)."""
    from helpers import one_thread
    with one_thread():
        _train_rank(rank, world, store, out, estimator)


def _train_rank(rank: int, world: int, store: str, out: str, estimator: str) -> None:
    import torch.distributed as dist
    dist.init_process_group('gloo', init_method=f'file://{store}', rank=rank, world_size=world)
    try:
        from engine_helpers import batches, tiny_base_model
        from mmengine.model import MMDistributedDataParallel

        from bocb_mm.engine import SophiaOptimWrapper
        from bocb_mm.optim import SophiaG
        torch.manual_seed(0)
        model = tiny_base_model()
        ddp = MMDistributedDataParallel(module=model)
        wrapper = SophiaOptimWrapper(SophiaG(model.parameters(), lr=1e-2), hessian_interval=2,
                                     estimator=estimator, accumulative_counts=2)
        for x, y in batches(8, seed=100 + rank):  # different data per rank
            ddp.train_step(dict(inputs=x, data_samples=y), optim_wrapper=wrapper)
        torch.save(dict(params=[p.detach() for p in model.parameters()],
                        hessian=[wrapper.optimizer.state[p]['hessian'] for p in
                                 model.parameters()],
                        bs=[g['bs'] for g in wrapper.optimizer.param_groups],
                        refreshes=wrapper._num_refreshes), os.path.join(out, f'{rank}.pth'))
    finally:
        dist.destroy_process_group()


@pytest.mark.slow
@pytest.mark.parametrize('estimator', ['gnb', 'hutchinson'])
def test_ddp_two_processes(tmp_path, monkeypatch, estimator):
    import sys
    here = os.path.dirname(os.path.abspath(__file__))
    monkeypatch.setenv('PYTHONPATH', os.pathsep.join([here, os.getcwd(), *sys.path]))
    mp.spawn(_worker, args=(2, str(tmp_path / 'store'), str(tmp_path), estimator), nprocs=2)
    r0 = torch.load(tmp_path / '0.pth', weights_only=True)
    r1 = torch.load(tmp_path / '1.pth', weights_only=True)
    assert r0['refreshes'] == r1['refreshes'] == 2  # 8 iterations, 4 updates, k=2
    assert r0['bs'] == r1['bs'] == [16.0 if estimator == 'gnb' else 1.0]  # 8 rows x 2 ranks
    for a, b in zip(r0['params'], r1['params']):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    for a, b in zip(r0['hessian'], r1['hessian']):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
        assert float(a.abs().sum()) > 0

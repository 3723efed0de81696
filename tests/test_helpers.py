"""The shared test helpers check what they claim to check."""
from __future__ import annotations

import json
import math

import pytest

from helpers import assert_trained


def _write_run(work_dir, losses: list[float]) -> None:
    """A work dir whose json log holds ``losses`` and a validation, as mmengine writes them."""
    vis = work_dir / '20260101_000000' / 'vis_data'
    vis.mkdir(parents=True)
    rows = [dict(loss=loss, iter=i + 1) for i, loss in enumerate(losses)]
    rows.append({'accuracy/top1': 1.0, 'accuracy/top5': 5.0, 'step': 1})
    (vis / 'scalars.json').write_text(''.join(json.dumps(r) + '\n' for r in rows))


@pytest.mark.parametrize('bad', [math.inf, -math.inf, math.nan])
def test_assert_trained_rejects_a_loss_that_is_not_finite(tmp_path, bad):
    _write_run(tmp_path, [2.3, bad])
    with pytest.raises(AssertionError, match='inf|nan'):
        assert_trained(str(tmp_path), iters=2)


def test_assert_trained_accepts_finite_losses(tmp_path):
    import torch
    _write_run(tmp_path, [2.3, 2.2])
    for name in ('epoch_1.pth', 'best_accuracy_top1_epoch_1.pth'):
        torch.save(dict(meta=dict(iter=2)), tmp_path / name)
    assert assert_trained(str(tmp_path), iters=2)['meta']['iter'] == 2

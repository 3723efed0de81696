"""SophiaOptimWrapper: refresh schedule, GNB / Hutchinson estimates, AMP-style autocast,
gradient accumulation, state dict / resume."""
from __future__ import annotations

import contextlib
import io

import pytest
import torch
import torch.nn.functional as F
from engine_helpers import SmallNet, SoftmaxRegression, batches
from torch import nn

from bocb_mm.engine import SophiaOptimWrapper
from bocb_mm.optim import SophiaG


def make(model: nn.Module, **kwargs) -> SophiaOptimWrapper:
    opt = SophiaG(model.parameters(), lr=1e-2, rho=0.05, weight_decay=0.0)
    kwargs.setdefault('estimator', 'gnb')
    return SophiaOptimWrapper(opt, **kwargs)


def train(model: nn.Module, wrapper: SophiaOptimWrapper, data, on_iter=None) -> None:
    for i, (x, y) in enumerate(data):
        with wrapper.optim_context(model):
            loss = F.cross_entropy(model(x), y)
        wrapper.update_params(loss)
        if on_iter is not None:
            on_iter(i)


def hessians(model: nn.Module, wrapper: SophiaOptimWrapper) -> list[torch.Tensor]:
    state = wrapper.optimizer.state
    return [state[p]['hessian'].clone() if 'hessian' in state[p] else torch.zeros_like(p)
            for p in model.parameters()]


def test_hessian_ema_schedule():
    torch.manual_seed(0)
    model = SmallNet()
    wrapper = make(model, hessian_interval=3)
    history = []
    train(model, wrapper, batches(9), on_iter=lambda i: history.append(hessians(model, wrapper)))
    total = [sum(float(h.abs().sum()) for h in hs) for hs in history]
    assert total[0] == total[1] == 0.0  # zero before the first refresh
    assert total[2] > 0  # first refresh after update 3 (official: iter_num % k == k - 1)
    for i in range(1, 9):
        changed = any(not torch.equal(a, b) for a, b in zip(history[i - 1], history[i]))
        assert changed == ((i + 1) % 3 == 0), f'update {i + 1}: changed={changed}'
    assert wrapper.num_updates == 9 and wrapper._num_refreshes == 3
    assert all(g['bs'] == 8 for g in wrapper.optimizer.param_groups)  # global batch size
    # BatchNorm running statistics are untouched by the extra Hessian forwards
    assert int(model.bn.num_batches_tracked) == 9


def test_refresh_changes_training():
    data = batches(8)
    finals = []
    for interval in (2, 0):
        torch.manual_seed(0)
        model = SmallNet()
        train(model, make(model, hessian_interval=interval), data)
        finals.append(torch.cat([p.detach().flatten() for p in model.parameters()]))
    assert not torch.allclose(finals[0], finals[1])


def test_real_grads_restored_and_clip_composes():
    torch.manual_seed(0)
    model = SmallNet()
    wrapper = make(model, hessian_interval=1, clip_grad=dict(max_norm=0.1))
    x, y = batches(1)[0]
    with wrapper.optim_context(model):
        loss = F.cross_entropy(model(x), y)
    wrapper.backward(wrapper.scale_loss(loss))
    grads = [p.grad.clone() for p in model.parameters()]
    total = torch.linalg.vector_norm(torch.stack([g.norm() for g in grads]))
    expect = [g * min(1.0, 0.1 / (float(total) + 1e-6)) for g in grads]
    wrapper.step()  # clip, SophiaG step, Hessian refresh with set-aside real grads
    assert wrapper._num_refreshes == 1
    for a, p in zip(expect, model.parameters()):
        torch.testing.assert_close(p.grad, a)  # the clipped real gradients are back


def analytic_gn_diag(model: SoftmaxRegression, x: torch.Tensor) -> list[torch.Tensor]:
    """Gauss-Newton diagonal of the mean CE of softmax regression (= its exact Hessian)."""
    with torch.no_grad():
        p = torch.softmax(model(x), -1)  # (B, C)
        s = p * (1 - p)
        dw = (s.T @ (x * x)) / x.shape[0]  # (C, D)
        db = s.mean(0)
    return [dw, db]


@pytest.mark.parametrize('estimator', ['gnb', 'hutchinson'])
def test_estimator_matches_gauss_newton_diagonal(estimator):
    torch.manual_seed(0)
    model = SoftmaxRegression(dim=4, classes=3)
    x = torch.randn(32, 4)
    y = torch.randint(0, 3, (32,))
    wrapper = make(model, estimator=estimator, seed=123)
    closure = ((lambda: model(x)) if estimator == 'gnb'
               else (lambda: F.cross_entropy(model(x), y)))
    n = 1000
    acc = [torch.zeros_like(p) for p in model.parameters()]
    for _ in range(n):
        est, bs = wrapper.estimate_hessian(model, closure)
        for a, e in zip(acc, est):
            a += e
    if estimator == 'gnb':
        assert bs == 32
    mean = torch.cat([(a / n).flatten() for a in acc])
    true = torch.cat([t.flatten() for t in analytic_gn_diag(model, x)])
    rel = float((mean - true).norm() / true.norm())
    assert rel < 0.1, (rel, mean, true)


def test_hutchinson_sets_bs_one_and_clamps():
    torch.manual_seed(0)
    model = SmallNet()
    wrapper = make(model, estimator='hutchinson', hessian_interval=2)
    for x, y in batches(4):
        with wrapper.optim_context(model):
            loss = F.cross_entropy(model(x), y)
        wrapper.set_hessian_closure(model, lambda x=x, y=y: F.cross_entropy(model(x), y))
        wrapper.update_params(loss)
    assert wrapper._num_refreshes == 2
    assert all(g['bs'] == 1 for g in wrapper.optimizer.param_groups)
    for p in model.parameters():
        h = wrapper.optimizer.state[p]['hessian']
        assert torch.isfinite(h).all() and (h >= 0).all()
    assert float(sum(wrapper.optimizer.state[p]['hessian'].sum() for p in model.parameters())) > 0


def test_missing_batch_raises_clear_error():
    model = SmallNet()
    wrapper = make(model, hessian_interval=1)
    x, y = batches(1)[0]
    loss = F.cross_entropy(model(x), y)  # forward outside optim_context
    with pytest.raises(RuntimeError, match='optim_context'):
        wrapper.update_params(loss)


class CPUBf16SophiaWrapper(SophiaOptimWrapper):
    """AmpOptimWrapper-style context on CPU: autocast to bfloat16 (mmengine's AmpOptimWrapper
    needs an accelerator)."""

    @contextlib.contextmanager
    def optim_context(self, model):
        with super().optim_context(model), torch.autocast('cpu', dtype=torch.bfloat16):
            yield


class FakeScaler:
    """The part of GradScaler the wrapper uses to unscale the Hessian pass."""

    def __init__(self, scale: float) -> None:
        self.scale = scale

    def is_enabled(self) -> bool:
        return True

    def get_scale(self) -> float:
        return self.scale


def test_bf16_autocast_and_unscaled_estimate():
    torch.manual_seed(0)
    model = SmallNet()
    wrapper = CPUBf16SophiaWrapper(SophiaG(model.parameters(), lr=1e-2, weight_decay=0.0),
                                   hessian_interval=2, estimator='gnb', seed=7)
    modes = []
    model.fc2.register_forward_hook(
        lambda m, i, o: modes.append((torch.is_autocast_enabled('cpu'), o.dtype)))
    train(model, wrapper, batches(4))
    assert wrapper._num_refreshes == 2
    # training forwards and the Hessian forwards ran under bf16 autocast
    assert len(modes) == 6 and all(m == (True, torch.bfloat16) for m in modes)
    for p in model.parameters():
        h = wrapper.optimizer.state[p]['hessian']
        assert h.dtype == torch.float32 and torch.isfinite(h).all()
    assert float(wrapper.optimizer.state[model.fc2.weight]['hessian'].abs().sum()) > 0

    # a loss scaler multiplies the Hessian loss; the estimate is divided back (unscaled)
    x = batches(1)[0][0]
    estimates = []
    for scaler in (None, FakeScaler(2.0**12)):
        w = make(model, seed=11)
        if scaler is not None:
            w.loss_scaler = scaler
        with torch.autocast('cpu', dtype=torch.bfloat16):
            est, _ = w.estimate_hessian(model, lambda: model(x), autocast=[('cpu',
                                                                           torch.bfloat16)])
        estimates.append(est)
    for a, b in zip(*estimates):
        torch.testing.assert_close(a, b, rtol=1e-2, atol=1e-12)


def test_accumulation_counts_updates_not_iterations():
    torch.manual_seed(0)
    model = SmallNet()
    wrapper = make(model, hessian_interval=3, accumulative_counts=2)
    history = []
    train(model, wrapper, batches(12), on_iter=lambda i: history.append(hessians(model, wrapper)))
    assert wrapper.num_updates == 6 and wrapper._num_refreshes == 2
    for i in range(1, 12):
        changed = any(not torch.equal(a, b) for a, b in zip(history[i - 1], history[i]))
        assert changed == (i + 1 in (6, 12)), f'iteration {i + 1}: changed={changed}'


def test_resume_mid_interval_is_bit_identical():
    data = batches(11, seed=3)

    def fresh():
        torch.manual_seed(0)
        model = SmallNet()
        return model, make(model, hessian_interval=3, seed=5)

    model_a, wrapper_a = fresh()
    train(model_a, wrapper_a, data)

    model_b, wrapper_b = fresh()
    train(model_b, wrapper_b, data[:7])  # stop mid-interval (refreshes after 3, 6; next at 9)
    buf = io.BytesIO()
    torch.save(dict(model=model_b.state_dict(), optim=wrapper_b.state_dict()), buf)
    buf.seek(0)
    ckpt = torch.load(buf, weights_only=True)
    assert ckpt['optim']['sophia']['num_updates'] == 7

    torch.manual_seed(999)  # the global RNG does not matter: sampling uses the saved generator
    model_c = SmallNet()
    wrapper_c = make(model_c, hessian_interval=3, seed=0)
    model_c.load_state_dict(ckpt['model'])
    wrapper_c.load_state_dict(ckpt['optim'])
    assert wrapper_c.num_updates == 7
    train(model_c, wrapper_c, data[7:])
    for a, c in zip(model_a.state_dict().values(), model_c.state_dict().values()):
        assert torch.equal(a, c)
    for a, c in zip(hessians(model_a, wrapper_a), hessians(model_c, wrapper_c)):
        assert torch.equal(a, c)


def test_rejects_other_optimizers_and_bad_args():
    model = SmallNet()
    with pytest.raises(TypeError, match='SophiaG'):
        SophiaOptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1))
    with pytest.raises(ValueError, match='estimator'):
        make(model, estimator='fisher')
    with pytest.raises(ValueError, match='hessian_interval'):
        make(model, hessian_interval=-1)


def test_amp_variant_on_cpu(monkeypatch):
    """SophiaAmpOptimWrapper = SophiaMixin + mmengine's AmpOptimWrapper (bf16 autocast); the
    accelerator check is bypassed so it runs on CPU (the GradScaler disables itself there)."""
    import warnings

    import mmengine.optim.optimizer.amp_optimizer_wrapper as amp_module
    from mmengine.registry import OPTIM_WRAPPERS
    monkeypatch.setattr(amp_module, 'is_cuda_available', lambda: True)
    torch.manual_seed(0)
    model = SmallNet()
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        wrapper = OPTIM_WRAPPERS.build(dict(
            type='bocb_mm.SophiaAmpOptimWrapper', dtype='bfloat16', hessian_interval=2,
            estimator='gnb', optimizer=SophiaG(model.parameters(), lr=1e-2)))
    from bocb_mm.engine import SophiaAmpOptimWrapper
    assert isinstance(wrapper, SophiaAmpOptimWrapper)
    dtypes = []
    model.fc2.register_forward_hook(lambda m, i, o: dtypes.append(o.dtype))
    train(model, wrapper, batches(4))
    assert wrapper.num_updates == 4 and wrapper._num_refreshes == 2
    assert set(dtypes) == {torch.bfloat16} and len(dtypes) == 6
    state = wrapper.state_dict()
    assert {'loss_scaler', 'sophia'} <= set(state)
    wrapper.load_state_dict(state)
    assert wrapper.num_updates == 4

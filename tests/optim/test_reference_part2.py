"""Reference tests for AdaBound, Adafactor, AdaBelief, NovoGrad and SophiaG.

Trajectories are compared in float64 against the official packages (``adabound``,
``adabelief_pytorch``, ``sophia_opt``), timm (``NvNovoGrad``, ``Adafactor`` where its semantics
coincide with fairseq's) and a test-local Adafactor written from the paper / fairseq algorithm, on
a small model with conv, linear, bias, BatchNorm and LayerNorm parameters. The multi-tensor path
must equal the per-tensor path bit for bit, and state_dict round trips must continue
bit-identically.
"""
from __future__ import annotations

import copy
import math
import re
from typing import Any, Callable

import pytest
import torch
import torch.nn as nn
from torch import Tensor

from bocb_mm.optim.adabelief import AdaBelief
from bocb_mm.optim.adabound import AdaBound
from bocb_mm.optim.adafactor import Adafactor
from bocb_mm.optim.novograd import NovoGrad
from bocb_mm.optim.sophia import SophiaG

DTYPE = torch.float64
STEPS = 50
HESSIAN_EVERY = 5

pytestmark = pytest.mark.filterwarnings('ignore::UserWarning')  # deprecated calls in adabound


class Net(nn.Module):
    """conv -> ReLU -> BN -> linear -> LN -> linear head: conv, linear, bias and norm parameters.

    The BN sits after the ReLU so that the conv bias has a real gradient (a BN right after the
    conv cancels it, leaving rounding noise that Adafactor would normalise to unit RMS)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)
        self.fc = nn.Linear(64, 8)
        self.ln = nn.LayerNorm(8)
        self.head = nn.Linear(8, 3)

    def forward(self, x: Tensor) -> Tensor:
        x = self.bn(torch.relu(self.conv(x))).flatten(1)
        return self.head(torch.relu(self.ln(self.fc(x))))


class WideMLP(nn.Module):
    """Linear layers whose both dims exceed 16: timm's Adafactor then factors the same dims as
    fairseq's (it does not factor 3x3 conv kernels over their last two dims)."""

    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(20, 24)
        self.ln = nn.LayerNorm(24)
        self.fc2 = nn.Linear(24, 18)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc2(torch.relu(self.ln(self.fc1(x))))


def make_model(seed: int = 0, cls: type = Net) -> nn.Module:
    torch.manual_seed(seed)
    model = cls().to(DTYPE)
    with torch.no_grad():  # non-trivial norm parameters
        for m in model.modules():
            if isinstance(m, (nn.BatchNorm2d, nn.LayerNorm)):
                m.weight.add_(0.1 * torch.randn_like(m.weight))
                m.bias.add_(0.1 * torch.randn_like(m.bias))
    return model


def _batch(model: nn.Module, step: int, salt: int = 0) -> tuple[Tensor, Tensor]:
    gen = torch.Generator().manual_seed(1000 + step + salt)
    shape = (8, 20) if isinstance(model, WideMLP) else (8, 3, 4, 4)
    x = torch.randn(*shape, generator=gen, dtype=DTYPE)
    y = torch.randn(8, 18 if isinstance(model, WideMLP) else 3, generator=gen, dtype=DTYPE)
    return x, y


def loss_at(model: nn.Module, step: int) -> Tensor:
    x, y = _batch(model, step)
    return ((model(x) - y)**2).mean()


def hessian_loss_at(model: nn.Module, step: int) -> Tensor:
    """A second loss for Sophia's ``update_hessian`` (its GNB loss in real training)."""
    x, _ = _batch(model, step, salt=5000)
    return (model(x)**2).mean()


def run(model: nn.Module, opt: torch.optim.Optimizer, steps: int, start: int = 0,
        step_fn: Callable[[torch.optim.Optimizer], Any] | None = None,
        hessian: Callable[[torch.optim.Optimizer], None] | None = None) -> None:
    for s in range(start, start + steps):
        if hessian is not None and s % HESSIAN_EVERY == 0:
            opt.zero_grad()
            hessian_loss_at(model, s).backward()
            hessian(opt)
        opt.zero_grad()
        loss_at(model, s).backward()
        (step_fn or (lambda o: o.step()))(opt)


def max_rel_err(a: nn.Module, b: nn.Module) -> float:
    err = 0.0
    for pa, pb in zip(a.parameters(), b.parameters()):
        err = max(err, ((pa - pb).norm() / pb.norm().clamp(min=1e-12)).item())
    return err


def assert_same(a: nn.Module, b: nn.Module) -> None:
    for (name, pa), pb in zip(a.named_parameters(), b.parameters()):
        assert torch.equal(pa, pb), (name, (pa - pb).abs().max().item())


def assert_same_state(opt_a: torch.optim.Optimizer, opt_b: torch.optim.Optimizer,
                      a: nn.Module, b: nn.Module) -> None:
    for pa, pb in zip(a.parameters(), b.parameters()):
        sa, sb = opt_a.state[pa], opt_b.state[pb]
        assert sa.keys() == sb.keys()
        for key, value in sa.items():
            other = sb[key]
            assert torch.equal(value, other) if isinstance(value, Tensor) else value == other, key


def moved(model: nn.Module, ref: nn.Module) -> None:
    """Sanity check: the trajectory went somewhere (the test is not vacuous)."""
    assert max_rel_err(model, ref) > 1e-4


# ---------------------------------------------------------------- test-local Adafactor reference
class PaperAdafactor(torch.optim.Optimizer):
    """Adafactor written from Algorithms 4/5 of arXiv:1804.04235 with fairseq's conventions
    (means over the last two dims, eps_1 added to g^2, update clipping by RMS, relative step
    ``min(1e-2, 1/sqrt(t))``, parameter scale ``max(eps_2, RMS(p))``), but the step size is never
    written back into the group. Plain, unfused tensor algebra; the factored estimate uses the
    paper's sum form ``V = R C / (1^T R)``."""

    def __init__(self, params: Any, lr: float | None = None,
                 eps: tuple[float, float] = (1e-30, 1e-3), clip_threshold: float = 1.0,
                 decay_rate: float = -0.8, beta1: float | None = None, weight_decay: float = 0.0,
                 scale_parameter: bool = True, warmup_init: bool = False) -> None:
        super().__init__(params, dict(lr=lr, eps=eps, clip_threshold=clip_threshold,
                                      decay_rate=decay_rate, beta1=beta1,
                                      weight_decay=weight_decay, scale_parameter=scale_parameter,
                                      warmup_init=warmup_init))

    @torch.no_grad()
    def step(self, closure: Any = None) -> None:
        for group in self.param_groups:
            eps1, eps2 = group['eps']
            for p in group['params']:
                if p.grad is None:
                    continue
                g = p.grad
                st = self.state[p]
                t = st['t'] = st.get('t', 0) + 1
                if group['lr'] is None:
                    rho = min(1e-6 * t if group['warmup_init'] else 1e-2, 1 / math.sqrt(t))
                else:
                    rho = group['lr']
                rms = lambda x: torch.sqrt((x * x).mean())  # noqa: E731
                alpha = max(eps2, rms(p).item()) * rho if group['scale_parameter'] else rho
                beta2 = 1 - t**group['decay_rate']
                sq = g * g + eps1
                if p.dim() >= 2:
                    R = beta2 * st.get('R', 0) + (1 - beta2) * sq.sum(-1)  # row sums
                    C = beta2 * st.get('C', 0) + (1 - beta2) * sq.sum(-2)  # column sums
                    st['R'], st['C'] = R, C
                    V = R.unsqueeze(-1) * C.unsqueeze(-2) / R.sum(-1)[..., None, None]
                else:
                    V = beta2 * st.get('V', 0) + (1 - beta2) * sq
                    st['V'] = V
                u = g / torch.sqrt(V)
                u = u / max(1.0, rms(u).item() / group['clip_threshold'])
                u = alpha * u
                if group['beta1'] is not None:
                    u = st['m'] = group['beta1'] * st.get('m', 0) + (1 - group['beta1']) * u
                p.copy_(p - group['weight_decay'] * alpha * p - u)


# ---------------------------------------------------------------- reference trajectories
def _official(name: str) -> Any:
    if name == 'adabound':
        return pytest.importorskip('adabound').AdaBound
    if name == 'adabelief':
        cls = pytest.importorskip('adabelief_pytorch').AdaBelief
        return lambda params, **kw: cls(params, print_change_log=False, **kw)
    if name == 'sophia':
        return pytest.importorskip('sophia_opt').SophiaG
    if name == 'nvnovograd':
        return pytest.importorskip('timm.optim').NvNovoGrad
    if name == 'timm_adafactor':
        return pytest.importorskip('timm.optim').Adafactor
    if name == 'paper_adafactor':
        return PaperAdafactor
    raise KeyError(name)


_SOPHIA_HESSIAN = dict(hessian=lambda o: o.update_hessian())

REFERENCE_CASES = [
    # (ours, our kwargs, reference name, reference kwargs, run kwargs, model class)
    (AdaBound, dict(lr=1e-2), 'adabound', dict(lr=1e-2), {}, Net),
    (AdaBound, dict(lr=1e-2, final_lr=0.05, gamma=0.1, weight_decay=1e-2), 'adabound',
     dict(lr=1e-2, final_lr=0.05, gamma=0.1, weight_decay=1e-2), {}, Net),
    (AdaBound, dict(lr=1e-2, amsbound=True, weight_decay=1e-3, betas=(0.8, 0.99)), 'adabound',
     dict(lr=1e-2, amsbound=True, weight_decay=1e-3, betas=(0.8, 0.99)), {}, Net),
    (AdaBelief, dict(lr=1e-2), 'adabelief', dict(lr=1e-2), {}, Net),
    (AdaBelief, dict(lr=1e-2, weight_decay=0.05), 'adabelief', dict(lr=1e-2, weight_decay=0.05),
     {}, Net),
    (AdaBelief, dict(lr=1e-2, weight_decay=1e-2, weight_decouple=False, rectify=False,
                     eps=1e-8, amsgrad=True),
     'adabelief', dict(lr=1e-2, weight_decay=1e-2, weight_decouple=False, rectify=False,
                       eps=1e-8, amsgrad=True), {}, Net),
    (AdaBelief, dict(lr=1e-2, weight_decay=1e-3, fixed_decay=True, degenerated_to_sgd=False,
                     amsgrad=True),
     'adabelief', dict(lr=1e-2, weight_decay=1e-3, fixed_decay=True, degenerated_to_sgd=False,
                       amsgrad=True), {}, Net),
    (NovoGrad, dict(lr=1e-2), 'nvnovograd', dict(lr=1e-2), {}, Net),
    (NovoGrad, dict(lr=1e-2, weight_decay=1e-2, grad_averaging=True), 'nvnovograd',
     dict(lr=1e-2, weight_decay=1e-2, grad_averaging=True), {}, Net),
    (NovoGrad, dict(lr=1e-2, weight_decay=1e-3, amsgrad=True, betas=(0.9, 0.9)), 'nvnovograd',
     dict(lr=1e-2, weight_decay=1e-3, amsgrad=True, betas=(0.9, 0.9)), {}, Net),
    (SophiaG, dict(lr=1e-3, weight_decay=0.0), 'sophia', dict(lr=1e-3, weight_decay=0.0),
     _SOPHIA_HESSIAN, Net),
    (SophiaG, dict(lr=1e-3), 'sophia', dict(lr=1e-3), _SOPHIA_HESSIAN, Net),
    (SophiaG, dict(lr=1e-3, rho=0.5, bs=4, betas=(0.9, 0.95)), 'sophia',
     dict(lr=1e-3, rho=0.5, betas=(0.9, 0.95)),
     dict(hessian=lambda o: o.update_hessian(), step_fn=lambda o: o.step(bs=4)), Net),
    (Adafactor, dict(), 'paper_adafactor', dict(), {}, Net),
    (Adafactor, dict(lr=1e-2, weight_decay=1e-2), 'paper_adafactor',
     dict(lr=1e-2, weight_decay=1e-2), {}, Net),
    (Adafactor, dict(lr=1e-2, scale_parameter=False, beta1=0.9, weight_decay=1e-2,
                     clip_threshold=0.5), 'paper_adafactor',
     dict(lr=1e-2, scale_parameter=False, beta1=0.9, weight_decay=1e-2, clip_threshold=0.5),
     {}, Net),
    (Adafactor, dict(warmup_init=True, decay_rate=-0.5), 'paper_adafactor',
     dict(warmup_init=True, decay_rate=-0.5), {}, Net),
    # timm's port: same semantics for relative steps, and for an explicit lr without RMS scale
    (Adafactor, dict(), 'timm_adafactor', dict(), {}, WideMLP),
    (Adafactor, dict(weight_decay=1e-2, beta1=0.9), 'timm_adafactor',
     dict(weight_decay=1e-2, betas=(0.9, 0.999)), {}, WideMLP),
    (Adafactor, dict(lr=1e-2, scale_parameter=False, weight_decay=1e-2), 'timm_adafactor',
     dict(lr=1e-2, scale_parameter=False, weight_decay=1e-2), {}, WideMLP),
]
REF_IDS = [f'{c[0].__name__}-{c[2]}-{i}' for i, c in enumerate(REFERENCE_CASES)]


@pytest.fixture(autouse=True, scope='module')
def _one_thread():
    """Tiny tensors: threading only adds overhead (and the box may be busy)."""
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


@pytest.fixture
def float64_default():
    """timm's NvNovoGrad keeps its scalar state in the default dtype."""
    old = torch.get_default_dtype()
    torch.set_default_dtype(DTYPE)
    yield
    torch.set_default_dtype(old)


@pytest.mark.parametrize('foreach', [False, True])
@pytest.mark.parametrize('case', REFERENCE_CASES, ids=REF_IDS)
def test_matches_reference(case: tuple, foreach: bool, float64_default: None) -> None:
    cls, kwargs, ref_name, ref_kwargs, run_kwargs, model_cls = case
    ours, ref, init = (make_model(cls=model_cls) for _ in range(3))
    opt = cls(ours.parameters(), foreach=foreach, **kwargs)
    ref_opt = _official(ref_name)(ref.parameters(), **ref_kwargs)
    run_ours = dict(run_kwargs)
    if 'step_fn' in run_ours and cls is SophiaG:  # ours takes bs from the group
        run_ours.pop('step_fn')
    run(ours, opt, STEPS, **run_ours)
    run(ref, ref_opt, STEPS, **run_kwargs)
    assert max_rel_err(ours, ref) < 1e-6
    moved(ours, init)


# ---------------------------------------------------------------- foreach == single tensor
FOREACH_CASES = [
    (AdaBound, dict(lr=1e-2, weight_decay=1e-2), {}),
    (AdaBound, dict(lr=1e-2, amsbound=True, gamma=0.1), {}),
    (AdaBelief, dict(lr=1e-2, weight_decay=0.05), {}),
    (AdaBelief, dict(lr=1e-2, weight_decay=1e-2, weight_decouple=False, rectify=False,
                     amsgrad=True), {}),
    (AdaBelief, dict(lr=1e-2, degenerated_to_sgd=False, amsgrad=True), {}),
    (NovoGrad, dict(lr=1e-2, weight_decay=1e-2), {}),
    (NovoGrad, dict(lr=1e-2, weight_decay=1e-2, grad_averaging=True, amsgrad=True), {}),
    (SophiaG, dict(lr=1e-3, rho=0.5, bs=4), _SOPHIA_HESSIAN),
    (SophiaG, dict(lr=1e-3, maximize=True), _SOPHIA_HESSIAN),
    (Adafactor, dict(lr=1e-2, weight_decay=1e-2), {}),
    (Adafactor, dict(lr=1e-2, scale_parameter=False, beta1=0.9), {}),
    (Adafactor, dict(weight_decay=1e-2, warmup_init=True), {}),
]
CASE_IDS = [f'{c[0].__name__}-{i}' for i, c in enumerate(FOREACH_CASES)]


def param_groups(model: nn.Module, kwargs: dict) -> list[dict]:
    """Two parameter groups with different learning rates (when there is an lr)."""
    head = list(model.head.parameters())
    rest = [p for n, p in model.named_parameters() if not n.startswith('head.')]
    extra = dict(lr=kwargs['lr'] * 0.5) if kwargs.get('lr') is not None else {}
    return [dict(params=rest), dict(params=head, **extra)]


@pytest.mark.parametrize('case', FOREACH_CASES, ids=CASE_IDS)
def test_foreach_equals_single_tensor(case: tuple) -> None:
    cls, kwargs, run_kwargs = case
    single, multi = make_model(), make_model()
    opt_s = cls(param_groups(single, kwargs), foreach=False, **kwargs)
    opt_m = cls(param_groups(multi, kwargs), foreach=True, **kwargs)
    run(single, opt_s, 20, **run_kwargs)
    run(multi, opt_m, 20, **run_kwargs)
    assert_same(single, multi)
    assert_same_state(opt_s, opt_m, single, multi)


@pytest.mark.parametrize('case', FOREACH_CASES, ids=CASE_IDS)
def test_state_dict_round_trip(case: tuple) -> None:
    cls, kwargs, run_kwargs = case
    straight = make_model()
    opt_straight = cls(straight.parameters(), **kwargs)
    run(straight, opt_straight, 20, **run_kwargs)

    first = make_model()
    opt = cls(first.parameters(), **kwargs)
    run(first, opt, 10, **run_kwargs)
    model_sd = copy.deepcopy(first.state_dict())
    opt_sd = copy.deepcopy(opt.state_dict())
    del first, opt

    resumed = make_model(seed=123)
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
    run(a, opt_a, 6, **_SOPHIA_HESSIAN)
    run(b, opt_b, 6, step_fn=lambda o: o.step(bs=4), **_SOPHIA_HESSIAN)
    assert_same(a, b)


ALL = [AdaBound, Adafactor, AdaBelief, NovoGrad, SophiaG]


def test_load_official_checkpoints() -> None:
    """State dicts of the official AdaBound / SophiaG classes load (missing keys defaulted)."""
    for ours_cls, ref_name, extra in ((AdaBound, 'adabound', {}),
                                      (SophiaG, 'sophia', _SOPHIA_HESSIAN)):
        ref = make_model()
        ref_opt = _official(ref_name)(ref.parameters(), lr=1e-3)
        run(ref, ref_opt, 3, **extra)
        ours = make_model()
        opt = ours_cls(ours.parameters(), lr=1e-3)
        opt.load_state_dict(copy.deepcopy(ref_opt.state_dict()))
        assert opt.param_groups[0]['foreach'] is None
        assert all(isinstance(s['step'], int) for s in opt.state.values())
        run(ours, opt, 2, start=3, **extra)


def test_registered() -> None:
    from bocb_mm.registry import OPTIMIZERS
    for cls in ALL:
        assert OPTIMIZERS.module_dict[cls.__name__] is cls


def test_defaults() -> None:
    p = [nn.Parameter(torch.zeros(2))]
    assert AdaBound(p).defaults == dict(lr=1e-3, betas=(0.9, 0.999), final_lr=0.1, gamma=1e-3,
                                        eps=1e-8, weight_decay=0, amsbound=False, foreach=None)
    assert Adafactor(p).defaults == dict(lr=None, eps=(1e-30, 1e-3), clip_threshold=1.0,
                                         decay_rate=-0.8, beta1=None, weight_decay=0.0,
                                         scale_parameter=True, relative_step=True,
                                         warmup_init=False, foreach=None)
    assert Adafactor(p, lr=0.1).defaults['relative_step'] is False
    assert AdaBelief(p).defaults == dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-16, weight_decay=0,
                                         amsgrad=False, weight_decouple=True, fixed_decay=False,
                                         rectify=True, degenerated_to_sgd=True, foreach=None)
    assert NovoGrad(p).defaults == dict(lr=1e-3, betas=(0.95, 0.98), eps=1e-8, weight_decay=0,
                                        grad_averaging=False, amsgrad=False, foreach=None)
    assert SophiaG(p).defaults == dict(lr=1e-4, betas=(0.965, 0.99), rho=0.04, weight_decay=0.1,
                                       maximize=False, bs=5120, eps=1e-15, foreach=None)


# ---------------------------------------------------------------- bad input
BAD_ARGS = [
    (AdaBound, dict(lr=-1.0), 'lr'),
    (AdaBound, dict(betas=(1.0, 0.999)), 'betas[0]'),
    (AdaBound, dict(betas=(0.9, -0.5)), 'betas[1]'),
    (AdaBound, dict(final_lr=-0.1), 'final_lr'),
    (AdaBound, dict(gamma=0.0), 'gamma'),
    (AdaBound, dict(gamma=1.0), 'gamma'),
    (AdaBound, dict(eps=-1.0), 'eps'),
    (AdaBound, dict(weight_decay=-1.0), 'weight_decay'),
    (Adafactor, dict(lr=-1.0), 'lr'),
    (Adafactor, dict(eps=(-1.0, 1e-3)), 'eps[0]'),
    (Adafactor, dict(eps=(1e-30, -1.0)), 'eps[1]'),
    (Adafactor, dict(eps=(1e-30,)), 'eps'),
    (Adafactor, dict(clip_threshold=0.0), 'clip_threshold'),
    (Adafactor, dict(decay_rate=0.5), 'decay_rate'),
    (Adafactor, dict(beta1=1.0), 'beta1'),
    (Adafactor, dict(weight_decay=-1.0), 'weight_decay'),
    (Adafactor, dict(lr=1e-3, relative_step=True), 'relative_step'),
    (Adafactor, dict(relative_step=False), 'lr'),
    (Adafactor, dict(lr=1e-3, warmup_init=True), 'warmup_init'),
    (AdaBelief, dict(lr=-1.0), 'lr'),
    (AdaBelief, dict(betas=(0.9, 1.0)), 'betas[1]'),
    (AdaBelief, dict(eps=-1.0), 'eps'),
    (AdaBelief, dict(weight_decay=-1.0), 'weight_decay'),
    (NovoGrad, dict(lr=float('nan')), 'lr'),
    (NovoGrad, dict(betas=(-0.1, 0.98)), 'betas[0]'),
    (NovoGrad, dict(eps=-1.0), 'eps'),
    (NovoGrad, dict(weight_decay=-1.0), 'weight_decay'),
    (SophiaG, dict(lr=-1.0), 'lr'),
    (SophiaG, dict(betas=(0.965,)), 'betas'),
    (SophiaG, dict(rho=0.0), 'rho'),
    (SophiaG, dict(weight_decay=-1.0), 'weight_decay'),
    (SophiaG, dict(bs=0), 'bs'),
    (SophiaG, dict(eps=-1.0), 'eps'),
]


@pytest.mark.parametrize('cls,kwargs,name', BAD_ARGS,
                         ids=[f'{c.__name__}-{n}-{i}' for i, (c, _, n) in enumerate(BAD_ARGS)])
def test_bad_arguments(cls: type, kwargs: dict, name: str) -> None:
    with pytest.raises(ValueError, match=re.escape(f'Invalid {name}:')):
        cls([nn.Parameter(torch.zeros(2))], **kwargs)


@pytest.mark.parametrize('cls', ALL)
def test_sparse_grad_raises(cls: type) -> None:
    emb = nn.Embedding(10, 3, sparse=True)
    opt = cls(emb.parameters(), lr=0.1)
    emb(torch.tensor([1, 2])).sum().backward()
    with pytest.raises(RuntimeError, match='sparse'):
        opt.step()

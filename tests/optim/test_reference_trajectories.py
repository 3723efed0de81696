"""Trajectories against the official / timm / paper implementations of the 11 bocb_mm optimizers.

Each case runs 50 float64 steps of ours and of a reference on a small model with conv, linear,
bias, BatchNorm and LayerNorm parameters (tests/optim/optim_helpers.py) and requires a relative
difference below 1e-6: SGDP, AdamP, Lion, LAMB, Adan and LARS on the per-tensor path against
adamp, lion_pytorch, timm and a test-local Lion written from the paper; AdaBound, AdaBelief,
NovoGrad, SophiaG and Adafactor on both paths against the official packages (``adabound``,
``adabelief_pytorch``, ``sophia_opt``), timm (``NvNovoGrad``, ``Adafactor`` where its semantics
coincide with fairseq's) and a test-local Adafactor written from the paper / fairseq algorithm.
"""
from __future__ import annotations

import math
from typing import Any, Callable

import pytest
import torch
import torch.nn as nn
from optim_helpers import (DTYPE, SOPHIA_HESSIAN, STEPS, Net, ProjectionNet, WideMLP, loss_at,
                           make_model, max_rel_err, moved, official_class, run)

from bocb_mm.optim import (SGDP, AdaBelief, AdaBound, Adafactor, AdamP, Adan, LAMB, LARS, Lion,
                           NovoGrad, SophiaG)
from bocb_mm.optim.sgdp import project_radial

pytestmark = pytest.mark.filterwarnings('ignore::UserWarning')  # deprecated calls in adabound


# ---------------------------------------------------------------- test-local references
class PaperLion(torch.optim.Optimizer):
    """Lion written from Algorithm 2 of arXiv:2302.06675."""

    def __init__(self, params: Any, lr: float, betas: tuple[float, float],
                 weight_decay: float) -> None:
        super().__init__(params, dict(lr=lr, betas=betas, weight_decay=weight_decay))

    @torch.no_grad()
    def step(self, closure: Any = None) -> None:
        for group in self.param_groups:
            lr, wd, (beta1, beta2) = group['lr'], group['weight_decay'], group['betas']
            for p in group['params']:
                if p.grad is None:
                    continue
                m = self.state[p].setdefault('m', torch.zeros_like(p))
                c = beta1 * m + (1 - beta1) * p.grad
                p.copy_(p * (1 - lr * wd) - lr * torch.sign(c))
                m.copy_(beta2 * m + (1 - beta2) * p.grad)


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


# ------------------------------------------------ SGDP, AdamP, Lion, LAMB, Adan, LARS (loop path)
def _adamp_mod():
    return pytest.importorskip('adamp')


def _timm_optim():
    return pytest.importorskip('timm.optim')


REFERENCE_CASES = [
    # (ours, our kwargs, reference factory, reference kwargs)
    (SGDP, dict(lr=0.1, momentum=0.9, weight_decay=1e-2),
     lambda: _adamp_mod().SGDP, dict(lr=0.1, momentum=0.9, weight_decay=1e-2)),
    (SGDP, dict(lr=0.1, momentum=0.9, nesterov=True),
     lambda: _adamp_mod().SGDP, dict(lr=0.1, momentum=0.9, nesterov=True)),
    (SGDP, dict(lr=0.05, dampening=0.1, weight_decay=1e-3, wd_ratio=0.5),
     lambda: _adamp_mod().SGDP, dict(lr=0.05, dampening=0.1, weight_decay=1e-3, wd_ratio=0.5)),
    (AdamP, dict(lr=1e-2), lambda: _adamp_mod().AdamP, dict(lr=1e-2)),
    (AdamP, dict(lr=1e-2, weight_decay=0.1, nesterov=True, betas=(0.8, 0.99)),
     lambda: _adamp_mod().AdamP, dict(lr=1e-2, weight_decay=0.1, nesterov=True,
                                      betas=(0.8, 0.99))),
    (Lion, dict(lr=1e-3), lambda: PaperLion, dict(lr=1e-3, betas=(0.9, 0.99), weight_decay=0)),
    (Lion, dict(lr=1e-3, betas=(0.95, 0.98), weight_decay=0.5),
     lambda: PaperLion, dict(lr=1e-3, betas=(0.95, 0.98), weight_decay=0.5)),
    (Lion, dict(lr=1e-3, weight_decay=0.5),
     lambda: pytest.importorskip('lion_pytorch').Lion, dict(lr=1e-3, weight_decay=0.5)),
    (LAMB, dict(lr=1e-2, weight_decay=0.0), lambda: _timm_optim().Lamb,
     dict(lr=1e-2, weight_decay=0.0)),
    (LAMB, dict(lr=1e-2, weight_decay=0.05, max_grad_norm=0.5, trust_clip=True),
     lambda: _timm_optim().Lamb, dict(lr=1e-2, weight_decay=0.05, max_grad_norm=0.5,
                                      trust_clip=True)),
    (LAMB, dict(lr=1e-2, weight_decay=0.0, always_adapt=True, grad_averaging=False,
                bias_correction=False, max_grad_norm=0.0),
     lambda: _timm_optim().Lamb, dict(lr=1e-2, weight_decay=0.0, always_adapt=True,
                                      grad_averaging=False, bias_correction=False,
                                      max_grad_norm=None)),
    (Adan, dict(lr=1e-2), lambda: _timm_optim().Adan, dict(lr=1e-2)),
    (Adan, dict(lr=1e-2, weight_decay=0.05), lambda: _timm_optim().Adan,
     dict(lr=1e-2, weight_decay=0.05)),
    (Adan, dict(lr=1e-2, weight_decay=0.05, no_prox=True, betas=(0.9, 0.9, 0.999)),
     lambda: _timm_optim().Adan, dict(lr=1e-2, weight_decay=0.05, no_prox=True,
                                      betas=(0.9, 0.9, 0.999))),
    (LARS, dict(lr=0.1), lambda: _timm_optim().Lars, dict(lr=0.1)),
    (LARS, dict(lr=0.5, momentum=0.9, weight_decay=1e-2),
     lambda: _timm_optim().Lars, dict(lr=0.5, momentum=0.9, weight_decay=1e-2)),
    (LARS, dict(lr=0.5, momentum=0.9, nesterov=True, trust_clip=True, always_adapt=True),
     lambda: _timm_optim().Lars, dict(lr=0.5, momentum=0.9, nesterov=True, trust_clip=True,
                                      always_adapt=True)),
]


@pytest.mark.parametrize('case', REFERENCE_CASES,
                         ids=[f'{c[0].__name__}-{i}' for i, c in enumerate(REFERENCE_CASES)])
def test_matches_reference(case: tuple) -> None:
    # single-tensor path; the multi-tensor path is checked bitwise against it below
    cls, kwargs, ref_factory, ref_kwargs = case
    ref_cls = ref_factory()
    ours, ref, init = (make_model(cls=ProjectionNet) for _ in range(3))
    opt = cls(ours.parameters(), foreach=False, **kwargs)
    ref_opt = ref_cls(ref.parameters(), **ref_kwargs)
    run(ours, opt, STEPS)
    run(ref, ref_opt, STEPS)
    assert max_rel_err(ours, ref) < 1e-6
    moved(ours, init, 1e-3)


def _official_adan_clip(max_grad_norm: float, eps: float) -> Callable[[nn.Module], None]:
    """Scale grads like the official Adan global clipping (timm's port has no clipping)."""

    def scale(model: nn.Module) -> None:
        grads = [p.grad for p in model.parameters() if p.grad is not None]
        norm = torch.sqrt(sum(g.pow(2).sum() for g in grads))
        factor = torch.clamp(max_grad_norm / (norm + eps), max=1.0)
        for g in grads:
            g.mul_(factor)

    return scale


@pytest.mark.parametrize('foreach', [False, True])
def test_adan_global_clip_matches_reference(foreach: bool) -> None:
    timm_optim = _timm_optim()
    ours, ref, unclipped = (make_model(cls=ProjectionNet) for _ in range(3))
    run(ours, Adan(ours.parameters(), lr=1e-2, max_grad_norm=0.1, foreach=foreach), STEPS)
    run(ref, timm_optim.Adan(ref.parameters(), lr=1e-2), STEPS,
        before_step=_official_adan_clip(0.1, 1e-8))
    run(unclipped, Adan(unclipped.parameters(), lr=1e-2), STEPS)
    assert max_rel_err(ours, ref) < 1e-6
    moved(ours, unclipped, 1e-3)  # clipping is active


def test_projection_views_hit_as_expected() -> None:
    """The test model exercises both projection views and the no-projection branch."""
    model = make_model(cls=ProjectionNet)
    loss_at(model, 0).backward()
    eps, delta = 1e-8, 0.1
    conv = model.conv.weight
    _, hit = project_radial(conv, conv.grad, conv.grad.clone(), delta, eps)
    assert hit.item()  # channel view (BN after conv)
    fc = model.fc.weight
    rows = fc.grad.reshape(fc.size(0), -1)
    cos = torch.nn.functional.cosine_similarity(rows, fc.reshape(fc.size(0), -1), dim=1).abs()
    assert cos.max() > delta / fc[0].numel()**0.5  # channel view misses ...
    _, hit = project_radial(fc, fc.grad, fc.grad.clone(), delta, eps)
    assert hit.item()  # ... layer view hits (LN after bias-free linear)
    head = model.head.weight
    _, hit = project_radial(head, head.grad, head.grad.clone(), delta, eps)
    assert not hit.item()


# ------------------------------------ AdaBound, AdaBelief, NovoGrad, Sophia, Adafactor (both paths)
def _official(name: str) -> Any:
    return PaperAdafactor if name == 'paper_adafactor' else official_class(name)


OFFICIAL_CASES = [
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
     SOPHIA_HESSIAN, Net),
    (SophiaG, dict(lr=1e-3), 'sophia', dict(lr=1e-3), SOPHIA_HESSIAN, Net),
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
OFFICIAL_IDS = [f'{c[0].__name__}-{c[2]}-{i}' for i, c in enumerate(OFFICIAL_CASES)]


@pytest.fixture
def float64_default():
    """timm's NvNovoGrad keeps its scalar state in the default dtype."""
    old = torch.get_default_dtype()
    torch.set_default_dtype(DTYPE)
    yield
    torch.set_default_dtype(old)


@pytest.mark.parametrize('foreach', [False, True])
@pytest.mark.parametrize('case', OFFICIAL_CASES, ids=OFFICIAL_IDS)
def test_matches_official(case: tuple, foreach: bool, float64_default: None) -> None:
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

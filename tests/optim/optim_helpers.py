"""Models, losses, the training loop and the comparisons shared by the optimizer tests.

Trajectories run in float64 on tiny models with conv, linear, bias, BatchNorm and LayerNorm
parameters; :func:`run` steps an optimizer on a deterministic sequence of batches.
"""
from __future__ import annotations

from typing import Any, Callable

import pytest
import torch
import torch.nn as nn
from torch import Tensor

from bocb_mm.optim import (SGDP, AdaBelief, AdaBound, Adafactor, AdamP, Adan, LAMB, LARS, Lion,
                           NovoGrad, SophiaG)

DTYPE = torch.float64
STEPS = 50
HESSIAN_EVERY = 5
#: ``run`` keyword arguments that refresh Sophia's Hessian estimate.
SOPHIA_HESSIAN = dict(hessian=lambda o: o.update_hessian())


class ProjectionNet(nn.Module):
    """conv -> BN (scale-invariant conv weight, channel view), bias-free linear -> LN
    (scale-invariant linear weight, layer view), then a plain linear head: SGDP / AdamP take
    both projection views and the no-projection branch."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)
        self.fc = nn.Linear(64, 8, bias=False)
        self.ln = nn.LayerNorm(8)
        self.head = nn.Linear(8, 3)
        self.unused = nn.Parameter(torch.randn(3))  # never gets a gradient

    def forward(self, x: Tensor) -> Tensor:
        x = torch.relu(self.bn(self.conv(x))).flatten(1)
        return self.head(torch.relu(self.ln(self.fc(x))))


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
    """A float64 ``cls`` with non-trivial norm parameters, seeded."""
    torch.manual_seed(seed)
    model = cls().to(DTYPE)
    with torch.no_grad():
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
    """The regression loss of batch ``step``."""
    x, y = _batch(model, step)
    return ((model(x) - y)**2).mean()


def hessian_loss_at(model: nn.Module, step: int) -> Tensor:
    """A second loss for Sophia's ``update_hessian`` (its GNB loss in real training)."""
    x, _ = _batch(model, step, salt=5000)
    return (model(x)**2).mean()


def run(model: nn.Module, opt: torch.optim.Optimizer, steps: int, start: int = 0,
        step_fn: Callable[[torch.optim.Optimizer], Any] | None = None,
        hessian: Callable[[torch.optim.Optimizer], None] | None = None,
        before_step: Callable[[nn.Module], None] | None = None) -> None:
    """``steps`` optimizer steps on batches ``start, start + 1, ...``.

    Args:
        model: The model.
        opt: Its optimizer.
        steps: How many steps.
        start: The first batch index.
        step_fn: Called instead of ``opt.step()``.
        hessian: Called after a backward pass of :func:`hessian_loss_at` every
            ``HESSIAN_EVERY`` steps (Sophia's Hessian refresh).
        before_step: Called with the model between the backward pass and the step.
    """
    for s in range(start, start + steps):
        if hessian is not None and s % HESSIAN_EVERY == 0:
            opt.zero_grad()
            hessian_loss_at(model, s).backward()
            hessian(opt)
        opt.zero_grad()
        loss_at(model, s).backward()
        if before_step is not None:
            before_step(model)
        (step_fn or (lambda o: o.step()))(opt)


def max_rel_err(a: nn.Module, b: nn.Module) -> float:
    """The largest relative L2 difference between corresponding parameters."""
    err = 0.0
    for pa, pb in zip(a.parameters(), b.parameters()):
        err = max(err, ((pa - pb).norm() / pb.norm().clamp(min=1e-12)).item())
    return err


def assert_same(a: nn.Module, b: nn.Module) -> None:
    """Every parameter equal bit for bit."""
    for (name, pa), pb in zip(a.named_parameters(), b.parameters()):
        assert torch.equal(pa, pb), (name, (pa - pb).abs().max().item())


def assert_same_state(opt_a: torch.optim.Optimizer, opt_b: torch.optim.Optimizer,
                      a: nn.Module, b: nn.Module) -> None:
    """The optimizer states of corresponding parameters: the same keys, equal values."""
    for pa, pb in zip(a.parameters(), b.parameters()):
        sa, sb = opt_a.state[pa], opt_b.state[pb]
        assert sa.keys() == sb.keys()
        for key, value in sa.items():
            other = sb[key]
            assert torch.equal(value, other) if isinstance(value, Tensor) else value == other, key


def moved(model: nn.Module, ref: nn.Module, min_err: float = 1e-4) -> None:
    """Sanity check: the trajectory went somewhere (the test is not vacuous)."""
    assert max_rel_err(model, ref) > min_err


def two_groups(model: nn.Module, kwargs: dict) -> list[dict]:
    """Two parameter groups, the head's with half the lr (when there is an lr)."""
    head = list(model.head.parameters())
    rest = [p for n, p in model.named_parameters() if not n.startswith('head.')]
    extra = dict(lr=kwargs['lr'] * 0.5) if kwargs.get('lr') is not None else {}
    return [dict(params=rest), dict(params=head, **extra)]


def official_class(name: str) -> Any:
    """The installed reference class (a factory for adabelief_pytorch, without its banner);
    skips the test when the package is missing."""
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
    raise KeyError(name)


#: One configuration per option branch of each optimizer, for the foreach and state_dict tests:
#: (optimizer, kwargs, run kwargs, model class).
STEP_CASES = [
    # (optimizer, kwargs, run kwargs, model class)
    (SGDP, dict(lr=0.1, momentum=0.9, weight_decay=1e-2), {}, ProjectionNet),
    (SGDP, dict(lr=0.1, momentum=0.9, nesterov=True, dampening=0.0, weight_decay=1e-2), {},
     ProjectionNet),
    (AdamP, dict(lr=1e-2, weight_decay=0.1), {}, ProjectionNet),
    (AdamP, dict(lr=1e-2, weight_decay=0.1, nesterov=True), {}, ProjectionNet),
    (Lion, dict(lr=1e-3, weight_decay=0.5), {}, ProjectionNet),
    (LAMB, dict(lr=1e-2), {}, ProjectionNet),
    (LAMB, dict(lr=1e-2, max_grad_norm=0.5, trust_clip=True, always_adapt=True,
                grad_averaging=False, bias_correction=False), {}, ProjectionNet),
    (Adan, dict(lr=1e-2, weight_decay=0.05), {}, ProjectionNet),
    (Adan, dict(lr=1e-2, weight_decay=0.05, no_prox=True, max_grad_norm=0.1), {}, ProjectionNet),
    (LARS, dict(lr=0.5, momentum=0.9, weight_decay=1e-2), {}, ProjectionNet),
    (LARS, dict(lr=0.5, momentum=0.9, dampening=0.1, trust_clip=True, always_adapt=True), {},
     ProjectionNet),
    (LARS, dict(lr=0.5, momentum=0.9, nesterov=True, weight_decay=1e-2), {}, ProjectionNet),
    (AdaBound, dict(lr=1e-2, weight_decay=1e-2), {}, Net),
    (AdaBound, dict(lr=1e-2, amsbound=True, gamma=0.1), {}, Net),
    (AdaBelief, dict(lr=1e-2, weight_decay=0.05), {}, Net),
    (AdaBelief, dict(lr=1e-2, weight_decay=1e-2, weight_decouple=False, rectify=False,
                     amsgrad=True), {}, Net),
    (AdaBelief, dict(lr=1e-2, degenerated_to_sgd=False, amsgrad=True), {}, Net),
    (NovoGrad, dict(lr=1e-2, weight_decay=1e-2), {}, Net),
    (NovoGrad, dict(lr=1e-2, weight_decay=1e-2, grad_averaging=True, amsgrad=True), {}, Net),
    (SophiaG, dict(lr=1e-3, rho=0.5, bs=4), SOPHIA_HESSIAN, Net),
    (SophiaG, dict(lr=1e-3, maximize=True), SOPHIA_HESSIAN, Net),
    (Adafactor, dict(lr=1e-2, weight_decay=1e-2), {}, Net),
    (Adafactor, dict(lr=1e-2, scale_parameter=False, beta1=0.9), {}, Net),
    (Adafactor, dict(weight_decay=1e-2, warmup_init=True), {}, Net),
]

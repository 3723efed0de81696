"""Plumbing shared by the bocb_mm optimizers, so that each optimizer file holds its algorithm.

:class:`BOCBOptimizer` runs the parts every ``step`` repeats: the closure, the parameters with a
(dense) gradient per group, the lazy state initialisation and the integer step count, the
defaults a state_dict of an older version or of the official class lacks. A subclass writes
``init_state`` (the zero state of one parameter) and ``update_group`` (the update of one param
group), which hands its tensor lists to :func:`foreach_or_loop`: the per-tensor loop or the
multi-tensor (``torch._foreach_*``) kernels, on the tensors of each (device, dtype[, step]) bucket.

Both paths compute the same numbers bit for bit (tests/optim/test_foreach.py).
"""
from __future__ import annotations

from typing import Any, Callable, ClassVar, Iterable, Sequence, Union

import torch
from torch import Tensor

from ._utils import CheckedOptimizer

__all__ = ['Params', 'BOCBOptimizer', 'evaluate_closure', 'zeros_like', 'scratch', 'lazy_state',
           'params_with_grad', 'scalar_hparams',
           'global_grad_norm', 'use_foreach', 'CPU_CHUNK_BYTES', 'cpu_chunks', 'foreach_buckets',
           'foreach_or_loop']

#: What an optimizer constructor takes: tensors, or dicts that define parameter groups.
Params = Union[Iterable[Tensor], Iterable[dict[str, Any]]]


def evaluate_closure(closure: Callable[[], Any] | None) -> Any:
    """The loss of ``closure`` evaluated with gradients enabled, or ``None`` without a closure."""
    if closure is None:
        return None
    with torch.enable_grad():
        return closure()


def zeros_like(p: Tensor) -> Tensor:
    """A zero state tensor shaped, typed and laid out like ``p``."""
    return torch.zeros_like(p, memory_format=torch.preserve_format)


def scratch(tensors: Sequence[Tensor]) -> Callable[[Tensor], Tensor]:
    """``like(t)``: a view shaped like ``t`` of one flat buffer as large as the largest of
    ``tensors`` (one device and dtype), reused by every tensor of a per-tensor loop.

    On CPU a fresh temporary per tensor costs page faults that can exceed the arithmetic; the
    result written with ``out=`` is the same number (a contiguous layout, the same values).
    """
    flat = torch.empty(max(t.numel() for t in tensors), dtype=tensors[0].dtype,
                       device=tensors[0].device)

    def like(t: Tensor) -> Tensor:
        return flat[:t.numel()].view(t.shape)

    return like


def lazy_state(params: list[Tensor], states: list[dict[str, Any]], key: str,
               factory: Callable[[Tensor], Tensor] = zeros_like) -> list[Tensor]:
    """``state[key]`` of each parameter, made by ``factory(p)`` where missing (a buffer that a
    group option such as ``amsgrad`` adds)."""
    out = []
    for p, state in zip(params, states):
        if key not in state:
            state[key] = factory(p)
        out.append(state[key])
    return out


def params_with_grad(group: dict[str, Any], optimizer: str) -> list[Tensor]:
    """The group's parameters that have a gradient; ``RuntimeError`` for a sparse gradient."""
    out = []
    for p in group['params']:
        if p.grad is None:
            continue
        if p.grad.is_sparse:
            raise RuntimeError(f'{optimizer} does not support sparse gradients; '
                               'use a dense embedding (sparse=False) or torch.optim.SparseAdam')
        out.append(p)
    return out


def scalar_hparams(group: dict[str, Any]) -> dict[str, Any]:
    """``group`` with its tensor hyper-parameters (a tensor ``lr``) read as Python numbers.

    A shallow copy when there are any, ``group`` itself otherwise. Both paths then compute with
    the same scalars, and the multi-tensor kernels, which take numbers or lists of numbers as
    coefficients, accept them. Reading a tensor lr costs one host synchronisation per group and
    step, as in torch's own optimizers outside ``capturable`` mode.
    """
    tensors = [key for key, value in group.items() if isinstance(value, Tensor)]
    if not tensors:
        return group
    return {**group, **{key: group[key].item() for key in tensors}}


def global_grad_norm(grads: list[Tensor]) -> Tensor:
    """The L2 norm of all ``grads`` together, a 0-d tensor on the first one's device (no sync)."""
    device = grads[0].device
    norms = [n.to(device) for n in torch._foreach_norm(grads)]
    return torch.linalg.vector_norm(torch.stack(norms))


def use_foreach(foreach: bool | None, params: Iterable[Tensor]) -> bool:
    """Resolve ``foreach=None``: the multi-tensor path on accelerators, the per-tensor loop on CPU.

    On CPU the loop measures at least as fast for every bocb_mm optimizer (ResNet-50 shapes,
    2 threads; docs/optimizers.md); on CUDA the multi-tensor kernels win.
    """
    if foreach is not None:
        return foreach
    return all(p.device.type != 'cpu' for p in params) and not torch.jit.is_scripting()


#: On CPU the multi-tensor path runs on consecutive chunks of at most about this many parameter
#: bytes. Each pass over a chunk then finds it in cache, and the chunk's temporaries reuse the
#: memory the previous chunk freed; one call over all parameters would stream every pass through
#: memory and fault its full-size temporaries in afresh at every step. The numbers are the same.
CPU_CHUNK_BYTES = 1 << 20


def cpu_chunks(params: Sequence[Tensor], idx: list[int]) -> list[list[int]]:
    """``idx`` (one bucket of ``params``) cut into chunks of about :data:`CPU_CHUNK_BYTES` on
    CPU; one chunk elsewhere."""
    if not idx or params[idx[0]].device.type != 'cpu':
        return [idx]
    chunks, chunk, size = [], [], 0
    for i in idx:
        chunk.append(i)
        size += params[i].numel() * params[i].element_size()
        if size >= CPU_CHUNK_BYTES:
            chunks.append(chunk)
            chunk, size = [], 0
    return chunks + [chunk] if chunk else chunks


def foreach_buckets(tensors: Sequence[Tensor],
                    steps: Sequence[int] | None = None) -> dict[tuple, list[int]]:
    """Indices of ``tensors`` grouped by ``(device, dtype)``, or ``(device, dtype, step)``.

    The multi-tensor kernels take one device and dtype per call, and the bias corrections of
    Adam-like steps are scalars per step count.
    """
    buckets: dict[tuple, list[int]] = {}
    for i, t in enumerate(tensors):
        key = (t.device, t.dtype) if steps is None else (t.device, t.dtype, steps[i])
        buckets.setdefault(key, []).append(i)
    return buckets


def foreach_or_loop(foreach: bool, single: Callable[..., None], multi: Callable[..., None],
                    params: list[Tensor], *lists: Sequence[Any], steps: list[int] | None = None,
                    **kwargs: Any) -> None:
    """Run ``multi`` or ``single`` on each (device, dtype) bucket of the tensors.

    Both paths see one device and dtype per call, so either may stack per-tensor scalars (norms,
    trust ratios) without type promotion; the multi-tensor path also splits by step count, and
    on CPU into :func:`cpu_chunks`. A call must therefore compute each tensor's update from that
    tensor alone (a global quantity, such as LAMB's clipping norm, comes from ``prepare_step``).

    Args:
        foreach: Take the multi-tensor path (see :func:`use_foreach`).
        single: The per-tensor loop, called with ``steps=`` the bucket's step counts.
        multi: The multi-tensor function, called with ``step=`` the bucket's one step count.
        params: The parameters (what the buckets are formed from).
        *lists: Per-parameter lists (gradients, state tensors or dicts, per-tensor scalars),
            sliced like ``params``.
        steps: Per-parameter step counts, or ``None``: no step argument.
        **kwargs: Hyper-parameters passed to both.
    """
    for key, bucket in foreach_buckets(params, steps if foreach else None).items():
        for idx in cpu_chunks(params, bucket) if foreach else [bucket]:
            if len(idx) == len(params):
                args: tuple = (params, *lists)
            else:
                args = ([params[i] for i in idx], *([lst[i] for i in idx] for lst in lists))
            if steps is None:
                (multi if foreach else single)(*args, **kwargs)
            elif foreach:
                multi(*args, step=key[2], **kwargs)
            else:
                single(*args, steps=[steps[i] for i in idx], **kwargs)


class BOCBOptimizer(CheckedOptimizer):
    """Base of the bocb_mm optimizers: closure, parameter collection, lazy state, step count.

    A subclass defines :meth:`check_hparams` (see :class:`CheckedOptimizer`),
    :meth:`init_state` and :meth:`update_group`, and may set the class attributes below.
    """

    #: Group keys (besides ``foreach``) with the default a loaded state_dict may lack.
    group_defaults: ClassVar[dict[str, Any]] = {}
    #: Options read from the constructor's ``defaults`` for all groups at once (global gradient
    #: clipping), with the value a loaded state_dict that lacks them gets.
    global_defaults: ClassVar[dict[str, Any]] = {}
    #: Keep ``state['step']``, an int counted by :meth:`step` (a tensor step of another
    #: implementation's state_dict becomes an int once, at load time).
    counts_steps: ClassVar[bool] = True

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        for key, value in self.global_defaults.items():
            self.defaults.setdefault(key, value)
        for group in self.param_groups:
            for key, value in self.group_defaults.items():
                group.setdefault(key, value)
            for key in self.global_defaults:
                group.setdefault(key, self.defaults[key])
            group.setdefault('foreach', None)
        if self.counts_steps:
            for s in self.state.values():
                if isinstance(s.get('step'), Tensor):
                    s['step'] = int(s['step'].item())

    def init_state(self, state: dict[str, Any], p: Tensor, group: dict[str, Any]) -> None:
        """Fill the empty ``state`` of ``p`` (the step count is set by the caller)."""

    def state_dtype(self, p: Tensor, key: str) -> torch.dtype | None:
        """The dtype in which state ``key`` of ``p`` is kept when it differs from ``p``'s.

        ``None`` (the default) keeps torch's rule: floating-point state is cast to the dtype of
        its parameter when a state_dict is loaded. An optimizer that keeps float32 state for
        half-precision parameters returns ``torch.float32`` there, so that a resumed run
        continues from the saved values instead of their fp16 / bf16 rounding.
        """
        return None

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """torch's ``load_state_dict``, then the state that :meth:`state_dtype` keeps in
        another dtype than its parameter's restored from the saved tensors (torch has cast it
        to the parameter's dtype)."""
        saved = state_dict['state']
        saved_ids = [i for group in state_dict['param_groups'] for i in group['params']]
        super().load_state_dict(state_dict)
        params = [p for group in self.param_groups for p in group['params']]
        for param_id, p in zip(saved_ids, params):
            for key, value in saved.get(param_id, {}).items():
                if not (isinstance(value, Tensor) and value.is_floating_point()):
                    continue
                dtype = self.state_dtype(p, key)
                if dtype is not None:
                    self.state[p][key] = value.to(device=p.device, dtype=dtype, copy=True)

    def group_states(self, group: dict[str, Any], params: list[Tensor],
                     count: bool = True) -> list[dict[str, Any]]:
        """The states of ``params``, initialised where empty; ``count`` advances the step."""
        states = []
        counts = self.counts_steps
        for p in params:
            state = self.state[p]
            if not state:
                if counts:
                    state['step'] = 0
                self.init_state(state, p, group)
            if counts and count:
                state['step'] += 1
            states.append(state)
        return states

    def foreach(self, group: dict[str, Any], params: list[Tensor]) -> bool:
        """Whether ``group`` takes the multi-tensor path (its ``foreach`` option resolved)."""
        return use_foreach(group['foreach'], params)

    def prepare_step(self, params: list[Tensor]) -> dict[str, Any]:
        """Keyword arguments for every :meth:`update_group` of a step, from the parameters of
        all groups (LAMB and Adan compute their global gradient clipping here)."""
        return {}

    def update_group(self, group: dict[str, Any], params: list[Tensor],
                     states: list[dict[str, Any]], **kwargs: Any) -> None:
        """Update the parameters of one group (those with a gradient, ``states`` counted)."""
        raise NotImplementedError

    @torch.no_grad()
    def step(self, closure: Callable[[], Any] | None = None, **kwargs: Any) -> Any:
        """Perform one optimisation step.

        Args:
            closure: Optional callable that re-evaluates the model and returns the loss (run
                with gradients enabled).
            **kwargs: Per-step options of the optimizer (SophiaG's ``bs``).

        Returns:
            The loss returned by ``closure``, or ``None``.
        """
        loss = evaluate_closure(closure)
        name = type(self).__name__
        groups = [(group, params_with_grad(group, name)) for group in self.param_groups]
        kwargs.update(self.prepare_step([p for _, params in groups for p in params]))
        for group, params in groups:
            if params:
                self.update_group(scalar_hparams(group), params,
                                  self.group_states(group, params), **kwargs)
        return loss

"""Training statistics of the optimizer update: gradient, update and weight norms, their ratios,
the effective learning rate and the LARS/LAMB trust ratios, globally and per layer group.

The measurement sits on the optimizer itself (``Optimizer.register_step_pre_hook`` /
``register_step_post_hook``), so it sees exactly what the optimizer uses - the gradients after the
wrapper's clipping and AMP unscaling, the update it really applied - and composes with every
wrapper (plain, AMP, :class:`~bocb_mm.engine.SophiaOptimWrapper`, accumulation). Two front ends:

* ``optim_wrapper=dict(type='bocb_mm.StatsOptimWrapper', optimizer=..., interval=10)``: an
  ``OptimWrapper`` with the statistics built in;
* ``custom_hooks=[dict(type='bocb_mm.OptimStatsHook', interval=10)]``: the same for any wrapper.

Every ``interval`` iterations (on the first optimizer update at or after each multiple of
``interval``, counted with the Runner's iteration so it lines up with ``LoggerHook``) the scalars
below go to the current ``MessageHub`` with prefix ``train/optim/``, so they reach the text log,
``vis_data/scalars.json`` and TensorBoard/W&B backends. On other steps the hooks only compare two
integers. At a logging step the norms are computed with ``torch._foreach_norm`` and reduced on
device; the only host sync is one ``.tolist()`` of the final vector.

Keys (``<g>`` = layer group, e.g. ``backbone.layer1``, ``backbone.layers.3``, ``head``):

``optim/grad_l2[/<g>]``      L2 norm of the gradients the optimizer used
``optim/weight_l2[/<g>]``    L2 norm of the weights before the update
``optim/update_l2[/<g>]``    L2 norm of the applied update ``p_new - p_old``
``optim/update_ratio[/<g>]`` ``update_l2 / weight_l2``
``optim/eff_lr[/<g>]``       ``update_l2 / grad_l2`` (effective learning rate)
``optim/trust_ratio[/<g>]``  LARS / LAMB only: mean layer-wise trust ratio over the adapted
                             tensors (the ones with weight_decay != 0 or always_adapt)

Names avoid the substrings ``loss``/``time``/``grad_norm``, which mmengine's ``LogProcessor``
would average over its window instead of showing the current value.
"""
from __future__ import annotations

import math
import re
import weakref
from typing import Any, Iterable

import torch
from mmengine.hooks import Hook
from mmengine.logging import MessageHub
from mmengine.optim import OptimWrapper, OptimWrapperDict
from torch import Tensor, nn
from torch.optim import Optimizer

from bocb_mm.optim import LAMB, LARS
from bocb_mm.optim.lamb import scaled_updates, trust_ratio, update_scale
from bocb_mm.optim.lars import layer_trust_ratio
from bocb_mm.registry import HOOKS, OPTIM_WRAPPERS

from ._utils import unwrap_model

__all__ = ['OptimizerStats', 'StatsOptimWrapper', 'OptimStatsHook', 'layer_group']

METRICS = ('grad_l2', 'weight_l2', 'update_l2', 'update_ratio', 'eff_lr')
_NUM = re.compile(r'^\d+$')
_CONTAINERS = ('module', '_orig_mod')


def layer_group(name: str, depth: int = 2) -> str:
    """Layer group of a parameter name: its first ``depth`` module names, plus the index that
    follows a plural container (``layers.3``, ``stages.1``, ``blocks.0``).

    ``backbone.layer1.0.conv1.weight`` -> ``backbone.layer1``;
    ``backbone.layers.3.attn.qkv.weight`` -> ``backbone.layers.3``; ``head.fc.bias`` -> ``head.fc``.
    """
    parts = [p for p in name.split('.')[:-1] if p not in _CONTAINERS]
    if not parts:
        return name
    out = parts[:depth]
    if len(parts) > depth and _NUM.match(parts[depth]) and out[-1].endswith('s'):
        out.append(parts[depth])
    return '.'.join(out)


class OptimizerStats:
    """Attach update statistics to ``optimizer`` (see the module docstring).

    Args:
        optimizer: The torch optimizer to observe.
        interval: Log every ``interval`` iterations. Default: 10.
        groups: How parameters are grouped: ``'auto'`` (:func:`layer_group` with depth 2), an int
            depth, ``'param_group'`` (optimizer param groups ``pg0, pg1, ...``), ``None`` (global
            values only) or a dict ``{group: [name substrings]}`` (first match; the rest goes to
            ``other``). Default: ``'auto'``.
        prefix: MessageHub key prefix. Default: ``'train/optim'``.
    """

    def __init__(self, optimizer: Optimizer, interval: int = 10, groups: Any = 'auto',
                 prefix: str = 'train/optim') -> None:
        if not isinstance(interval, int) or interval < 1:
            raise ValueError(f'Invalid interval: {interval!r}; expected an int >= 1')
        self.optimizer = optimizer
        self.interval = interval
        self.groups = groups
        self.prefix = prefix.rstrip('/')
        self.last_stats: dict[str, float] = {}
        self._names: dict[int, str] = {}
        self._next_log = interval
        self._num_steps = 0
        self._pending: dict[str, Any] | None = None
        self._buffer: list[Tensor] = []  # parameter snapshot for the update norm
        self._buffer_key: list[int] | None = None
        ref = weakref.ref(self)
        self._handles = [
            optimizer.register_step_pre_hook(lambda o, a, k: _call(ref, '_pre_step')),
            optimizer.register_step_post_hook(lambda o, a, k: _call(ref, '_post_step')),
        ]

    def set_param_names(self, model: nn.Module) -> None:
        """Name the parameters (for layer groups) from ``model.named_parameters()``."""
        self._names = {id(p): n for n, p in unwrap_model(model).named_parameters()}

    def remove(self) -> None:
        """Detach from the optimizer."""
        for h in self._handles:
            h.remove()
        self._handles = []
        self._buffer, self._buffer_key = [], None

    # ------------------------------------------------------------------ schedule
    def _iteration(self) -> int:
        it = MessageHub.get_current_instance().get_info('iter')
        return self._num_steps if it is None else int(it)

    def _pre_step(self) -> None:
        self._pending = None
        it = self._iteration()
        if it + 1 < self._next_log:
            return
        self._next_log = ((it + 1) // self.interval + 1) * self.interval
        self._pending = self._collect_pre()

    def _post_step(self) -> None:
        self._num_steps += 1
        if self._pending is None:
            return
        pending, self._pending = self._pending, None
        self.last_stats = self._finish(pending)
        hub = MessageHub.get_current_instance()
        for key, value in self.last_stats.items():
            hub.update_scalar(f'{self.prefix}/{key}', value)

    # ------------------------------------------------------------------ measurement
    def _group_names(self, entries: list[tuple[int, Tensor]]) -> list[str]:
        spec = self.groups
        if spec is None:
            return [''] * len(entries)
        if spec == 'param_group':
            return [f'pg{gi}' for gi, _ in entries]
        names = [self._names.get(id(p)) for _, p in entries]
        if isinstance(spec, dict):
            out = []
            for (gi, _), n in zip(entries, names):
                n = n or f'pg{gi}'
                out.append(next((g for g, keys in spec.items()
                                 if any(k in n for k in ([keys] if isinstance(keys, str)
                                                         else keys))), 'other'))
            return out
        depth = 2 if spec == 'auto' else int(spec)
        return [layer_group(n, depth) if n else f'pg{gi}' for (gi, _), n in zip(entries, names)]

    @torch.no_grad()
    def _collect_pre(self) -> dict[str, Any] | None:
        entries = [(gi, p) for gi, g in enumerate(self.optimizer.param_groups)
                   for p in g['params'] if p.grad is not None]
        if not entries:
            return None
        params = [p for _, p in entries]
        grads = [p.grad for p in params]
        device = params[0].device
        w = _stack_norms(params, device)
        g = _stack_norms(grads, device)
        trust = self._lars_trust(entries, w, g) if isinstance(self.optimizer, LARS) else None
        key = [id(p) for p in params]
        if self._buffer_key != key:  # (re)allocate the snapshot buffer, reused across logs
            self._buffer = [torch.empty_like(p, memory_format=torch.preserve_format)
                            for p in params]
            self._buffer_key = key
        old = self._buffer
        torch._foreach_copy_(old, [p.detach() for p in params])
        return dict(entries=entries, old=old, w=w, g=g, trust=trust, device=device)

    @torch.no_grad()
    def _finish(self, pending: dict[str, Any]) -> dict[str, float]:
        entries, old, device = pending['entries'], pending['old'], pending['device']
        params = [p for _, p in entries]
        trust = pending['trust']
        if isinstance(self.optimizer, LAMB):
            trust = self._lamb_trust(entries, old, pending['w'], device)
        torch._foreach_sub_(old, params)  # old <- p_old - p_new, in the snapshot buffer
        u = _stack_norms(old, device)
        names = self._group_names(entries)
        labels = sorted(set(names), key=names.index)
        index = torch.tensor([labels.index(n) for n in names], device=device)
        k = len(labels)
        rows = [pending['w'], pending['g'], u]
        sq = torch.stack(rows).float().pow(2)  # (3, N)
        per_group = torch.zeros(3, k, device=device).index_add_(1, index, sq)
        vec = [per_group.flatten(), sq.sum(1)]
        if trust is not None:
            ratio, mask = trust
            mask = mask.float()
            vec += [torch.zeros(k, device=device).index_add_(0, index, ratio * mask),
                    torch.zeros(k, device=device).index_add_(0, index, mask),
                    (ratio * mask).sum().reshape(1), mask.sum().reshape(1)]
        values = torch.cat(vec).tolist()  # the one host sync
        grouped = [values[0:k], values[k:2 * k], values[2 * k:3 * k]]
        totals = values[3 * k:3 * k + 3]
        out: dict[str, float] = {}
        _put(out, '', *(math.sqrt(t) for t in totals))
        if self.groups is not None:
            for j, label in enumerate(labels):
                _put(out, '/' + label, *(math.sqrt(grouped[r][j]) for r in range(3)))
        if trust is not None:
            base = 3 * k + 3
            tsum, tcnt = values[base:base + k], values[base + k:base + 2 * k]
            if values[base + 2 * k + 1] > 0:
                out['trust_ratio'] = values[base + 2 * k] / values[base + 2 * k + 1]
            if self.groups is not None:
                for j, label in enumerate(labels):
                    if tcnt[j] > 0:
                        out[f'trust_ratio/{label}'] = tsum[j] / tcnt[j]
        return out

    def _lars_trust(self, entries: list[tuple[int, Tensor]], w: Tensor,
                    g: Tensor) -> tuple[Tensor, Tensor]:
        ratios, masks = [], []
        for gi, group in enumerate(self.optimizer.param_groups):
            sel = [i for i, (j, _) in enumerate(entries) if j == gi]
            if not sel:
                continue
            idx = torch.tensor(sel, device=w.device)
            wd = group['weight_decay']
            ratios.append(layer_trust_ratio(w[idx], g[idx], lr=group['lr'], weight_decay=wd,
                                            trust_coeff=group['trust_coeff'], eps=group['eps'],
                                            trust_clip=group['trust_clip']))
            adapt = wd != 0 or group.get('always_adapt', False)
            masks.append(torch.full((len(sel),), adapt, device=w.device))
        return _in_entry_order(ratios, masks)

    def _lamb_trust(self, entries: list[tuple[int, Tensor]], old: list[Tensor], w: Tensor,
                    device: torch.device) -> tuple[Tensor, Tensor]:
        """LAMB's trust ratio ``||p|| / ||u||``, rebuilt from the moments after the step with
        LAMB's own helpers (:mod:`bocb_mm.optim.lamb`)."""
        ratios, masks = [], []
        for gi, group in enumerate(self.optimizer.param_groups):
            sel = [i for i, (j, _) in enumerate(entries) if j == gi]
            if not sel:
                continue
            wd = group['weight_decay']
            ratio = torch.zeros(len(sel), device=device)
            by_step: dict[int, list[int]] = {}
            for pos, i in enumerate(sel):
                by_step.setdefault(int(self.optimizer.state[entries[i][1]]['step']),
                                   []).append(pos)
            for step, poss in by_step.items():
                states = [self.optimizer.state[entries[sel[q]][1]] for q in poss]
                scale, eps_scaled = update_scale(group['bias_correction'], group['betas'], step,
                                                 group['eps'])
                upd = scaled_updates([old[sel[q]] for q in poss], [s['exp_avg'] for s in states],
                                     [s['exp_avg_sq'] for s in states], scale=scale,
                                     eps_scaled=eps_scaled, weight_decay=wd)
                at = torch.tensor(poss, device=device)
                w_sel = w[torch.tensor([sel[q] for q in poss], device=device)].float()
                # trust_ratio gives scale * ||p|| / ||u|| for the scaled update u / scale
                ratio[at] = trust_ratio(w_sel, _stack_norms(upd, device), group['trust_clip'],
                                        scale) / scale
            ratios.append(ratio)
            adapt = wd != 0 or group.get('always_adapt', False)
            masks.append(torch.full((len(sel),), adapt, device=device))
        return _in_entry_order(ratios, masks)


def _call(ref: 'weakref.ref[OptimizerStats]', method: str) -> None:
    obj = ref()
    if obj is not None:
        getattr(obj, method)()


def _stack_norms(tensors: list[Tensor], device: torch.device) -> Tensor:
    return torch.stack([n.to(device=device, dtype=torch.float32)
                        for n in torch._foreach_norm(tensors)])


def _in_entry_order(ratios: list[Tensor], masks: list[Tensor]) -> tuple[Tensor, Tensor]:
    # entries are grouped by param group in order, so concatenation keeps the entry order
    return torch.cat(ratios).float(), torch.cat(masks)


def _put(out: dict[str, float], suffix: str, w: float, g: float, u: float) -> None:
    out['grad_l2' + suffix] = g
    out['weight_l2' + suffix] = w
    out['update_l2' + suffix] = u
    out['update_ratio' + suffix] = u / w if w > 0 else 0.0
    out['eff_lr' + suffix] = u / g if g > 0 else 0.0


@OPTIM_WRAPPERS.register_module()
class StatsOptimWrapper(OptimWrapper):
    """``OptimWrapper`` that logs update statistics every ``interval`` iterations.

    Args:
        optimizer: Any torch optimizer.
        interval: Logging interval in iterations. Default: 10 (LoggerHook's default).
        groups: Layer grouping, see :class:`OptimizerStats`. Default: ``'auto'``.
        prefix: MessageHub key prefix. Default: ``'train/optim'``.
        **kwargs: ``accumulative_counts``, ``clip_grad`` of :class:`mmengine.optim.OptimWrapper`.

    Parameter names (for the layer groups) come from the model passed to :meth:`optim_context`
    (mmengine's ``train_step`` does that); until then parameters are grouped by param group.
    """

    def __init__(self, optimizer: Optimizer, interval: int = 10, groups: Any = 'auto',
                 prefix: str = 'train/optim', **kwargs: Any) -> None:
        super().__init__(optimizer=optimizer, **kwargs)
        self.stats = OptimizerStats(optimizer, interval=interval, groups=groups, prefix=prefix)
        self._named_model: int | None = None

    def optim_context(self, model: nn.Module):
        if self._named_model != id(model):
            self.stats.set_param_names(model)
            self._named_model = id(model)
        return super().optim_context(model)


@HOOKS.register_module()
class OptimStatsHook(Hook):
    """Log update statistics for any optimizer wrapper (see :class:`OptimizerStats`).

    ``custom_hooks=[dict(type='bocb_mm.OptimStatsHook', interval=10)]``.
    """

    priority = 'LOW'

    def __init__(self, interval: int = 10, groups: Any = 'auto',
                 prefix: str = 'train/optim') -> None:
        self.interval = interval
        self.groups = groups
        self.prefix = prefix
        self.stats: list[OptimizerStats] = []

    def before_train(self, runner) -> None:
        wrappers: Iterable[OptimWrapper]
        ow = runner.optim_wrapper
        wrappers = ow.values() if isinstance(ow, OptimWrapperDict) else [ow]
        for name_wrapper in wrappers:
            existing = getattr(name_wrapper, 'stats', None)
            if isinstance(existing, OptimizerStats):
                continue  # a StatsOptimWrapper already measures this optimizer
            stats = OptimizerStats(name_wrapper.optimizer, interval=self.interval,
                                   groups=self.groups, prefix=self.prefix)
            stats.set_param_names(runner.model)
            self.stats.append(stats)

    def after_train(self, runner) -> None:
        for stats in self.stats:
            stats.remove()
        self.stats = []

"""Plan a BOCB grid: which configs x seeds to run, and where each run writes.

A run is identified by its config and seed; its identity (backbone, optimizer, ...) is read from
the config's top-level ``bocb`` field, never parsed from the file name.
"""
from __future__ import annotations

import dataclasses
import glob
import os.path as osp
from pathlib import Path
from typing import Iterable, Sequence

from mmengine.config import Config

from bocb_mm.optim.config_check import OptimConfigError, check_optim_cfg


@dataclasses.dataclass(frozen=True)
class Run:
    """One training run of the grid."""

    config: str
    seed: int
    work_dir: str
    backbone: str = ''
    optimizer: str = ''
    dataset: str = ''
    extra_args: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return f'{osp.splitext(osp.basename(self.config))[0]}/seed{self.seed}'


def read_identity(config: str | Config) -> dict:
    """The ``bocb`` identity dict of a config file or loaded config (empty when it has none)."""
    cfg = Config.fromfile(config) if isinstance(config, str) else config
    return dict(cfg.get('bocb', {}) or {})


def _matches(value: str, wanted: Sequence[str] | None) -> bool:
    return not wanted or value.lower() in {w.lower() for w in wanted}


def find_configs(patterns: Iterable[str]) -> list[str]:
    """Expand config paths, globs (``configs/cifar100/**/*.py``) and list files (``@runs.txt``)."""
    out: list[str] = []
    for pattern in patterns:
        if pattern.startswith('@'):
            lines = Path(pattern[1:]).read_text().splitlines()
            out += [line.strip() for line in lines if line.strip() and not line.startswith('#')]
        elif any(ch in pattern for ch in '*?['):
            out += sorted(glob.glob(pattern, recursive=True))
        else:
            out.append(pattern)
    missing = [c for c in out if not osp.isfile(c)]
    if missing:
        raise FileNotFoundError(f'config(s) not found: {", ".join(missing[:5])}')
    if not out:
        raise ValueError(f'no config matches {list(patterns)}')
    return sorted(dict.fromkeys(out))


def plan_grid(configs: Sequence[str], work_root: str, seeds: Sequence[int] = (0,),
              backbones: Sequence[str] | None = None, optimizers: Sequence[str] | None = None,
              extra_args: Sequence[str] = ()) -> list[Run]:
    """Runs for ``configs x seeds``, filtered by the configs' ``bocb`` identity.

    A run's ``backbone`` is the config's ``bocb.column`` when it has one (transfer configs: the
    paper's column, e.g. ``'det:R-50 (LARS)'``), else ``bocb.backbone``; its ``dataset`` is
    ``bocb.dataset`` joined with ``bocb.task`` when there is one (``'coco-det'``).

    Args:
        configs: config files (see :func:`find_configs`).
        work_root: each run writes to ``work_root/<config stem>/seed<seed>``.
        seeds: random seeds; each becomes ``--cfg-options randomness.seed=<seed>``.
        backbones: keep only these paper backbone names (case-insensitive), if given.
        optimizers: keep only these paper optimizer names, if given.
        extra_args: more ``tools/train.py`` arguments for every run.
    """
    runs = []
    for config in configs:
        cfg = Config.fromfile(config)
        try:  # a misspelled optimizer fails the plan, not each run after its data and model
            check_optim_cfg(cfg)
        except OptimConfigError as err:
            raise OptimConfigError(f'{config}: {err}') from None
        ident = read_identity(cfg)
        if not ((_matches(ident.get('backbone', ''), backbones)
                 or _matches(ident.get('column', ''), backbones))
                and _matches(ident.get('optimizer', ''), optimizers)):
            continue
        stem = osp.splitext(osp.basename(config))[0]
        # Transfer configs name the paper's column ('det:R-50 (LARS)'): several pre-trainings of
        # one backbone are then separate rows of the analysis, as in the paper's table.
        label = ident.get('column') or ident.get('backbone', '')
        dataset = '-'.join(x for x in (ident.get('dataset', ''), ident.get('task', '')) if x)
        for seed in seeds:
            runs.append(Run(config=config, seed=int(seed),
                            work_dir=osp.join(work_root, stem, f'seed{seed}'),
                            backbone=label, optimizer=ident.get('optimizer', ''),
                            dataset=dataset, extra_args=tuple(extra_args)))
    if not runs:
        raise ValueError('the grid is empty: no config matches the backbone/optimizer filters')
    return runs

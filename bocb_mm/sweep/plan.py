"""Plan a BOCB grid: which configs x seeds to run, and where each run writes.

A run is identified by its config and seed; its identity (backbone, optimizer, ...) is read from
the config's top-level ``bocb`` field, never parsed from the file name.

Work dirs: ``<work_root>/<key>/seed<seed>``, where a config's key is its file name without
``.py``; configs of one plan that share a file name in different folders (an lr grid as
``grid/lr0.1/r50.py``, ``grid/lr0.2/r50.py``) get ``<name>@<folders>``, the folders that tell them
apart (``r50@lr0.1``, ``r50@lr0.2``), so no two of them share a work dir (:func:`work_dir_keys`).
A run's fingerprint (:func:`run_fingerprint`: its merged config, seed and extra arguments) is
written into its record, so a work dir that holds another configuration's run is never taken for
this one's (see :mod:`bocb_mm.sweep.record`).
"""
from __future__ import annotations

import dataclasses
import glob
import hashlib
import json
import os.path as osp
import re
import warnings
from collections import Counter
from pathlib import Path
from typing import Any, Iterable, Sequence

from mmengine.config import Config

from bocb_mm.optim.config_check import OptimConfigError, check_optim_cfg
from bocb_mm.training.options import TrainOptions


@dataclasses.dataclass(frozen=True)
class Run:
    """One training run of the grid."""

    config: str
    seed: int
    work_dir: str
    backbone: str = ''
    optimizer: str = ''
    dataset: str = ''
    options: TrainOptions = dataclasses.field(default_factory=TrainOptions)
    """How to train it, besides its work dir and seed (``resume``: a checkpoint to start from
    when the work dir has none of its own)."""
    config_hash: str = ''
    """:func:`config_fingerprint` of ``config`` (computed from the file when empty)."""

    @property
    def name(self) -> str:
        return f'{osp.splitext(osp.basename(self.config))[0]}/seed{self.seed}'


def read_identity(config: str | Config) -> dict:
    """The ``bocb`` identity dict of a config file or loaded config (empty when it has none)."""
    cfg = Config.fromfile(config) if isinstance(config, str) else config
    return dict(cfg.get('bocb', {}) or {})


def _matches(value: str, wanted: Sequence[str] | None) -> bool:
    return not wanted or value.lower() in {w.lower() for w in wanted}


def _list_file_entries(spec: str) -> list[str]:
    """The entries of a list file (``@runs.txt``), relative paths taken from its folder.

    A ``#`` at the start of a line or after a space begins a comment (indented and trailing
    comments included); blank lines are skipped.

    Raises:
        FileNotFoundError: If the list file does not exist.
    """
    path = Path(spec)
    if not path.is_file():
        raise FileNotFoundError(f'list file @{spec}: not found')
    entries = []
    for line in path.read_text().splitlines():
        entry = re.split(r'(?:^|\s)#', line, maxsplit=1)[0].strip()
        if entry:
            entries.append(osp.normpath(osp.join(str(path.parent), entry)))
    return entries


def _expand(pattern: str) -> list[str]:
    """The config paths of one pattern: a path, a glob, or ``@file`` (entries expanded alike).

    Raises:
        FileNotFoundError: If a glob matches nothing, naming it.
    """
    if pattern.startswith('@'):
        return [c for entry in _list_file_entries(pattern[1:]) for c in _expand(entry)]
    if any(ch in pattern for ch in '*?['):
        found = sorted(glob.glob(pattern, recursive=True))
        if not found:
            raise FileNotFoundError(f'no config matches the pattern {pattern!r}')
        return found
    return [pattern]


def find_configs(patterns: Iterable[str]) -> list[str]:
    """Expand config paths, globs (``configs/cifar100/**/*.py``) and list files (``@runs.txt``).

    A list file holds one path or glob per line, relative to the list file's folder; ``#``
    starts a comment.

    Raises:
        FileNotFoundError: A path that does not exist, a glob that matches nothing, a missing
            list file.
        ValueError: A folder where a config file is expected, or no pattern at all.
    """
    patterns = list(patterns)
    out = [config for pattern in patterns for config in _expand(pattern)]
    folders = [c for c in out if osp.isdir(c)]
    if folders:
        raise ValueError(f'{folders[0]} is a folder, not a config file (for every config under '
                         f'it give a glob: {osp.join(folders[0], "**", "*.py")!r})')
    missing = [c for c in out if not osp.isfile(c)]
    if missing:
        raise FileNotFoundError(f'config(s) not found: {", ".join(missing[:5])}')
    if not out:
        raise ValueError(f'no config matches {patterns}')
    return sorted(dict.fromkeys(out))


def _canonical(obj: Any) -> Any:
    """A JSON-ready form of a config value that does not depend on dict order or addresses."""
    if isinstance(obj, dict):
        return {str(k): _canonical(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_canonical(v) for v in obj]
    if isinstance(obj, (set, frozenset)):
        return sorted(repr(v) for v in obj)
    if obj is None or isinstance(obj, (str, int, float, bool)):
        return obj
    name = getattr(obj, '__qualname__', None)  # classes and functions of lazy-import configs
    return f'{getattr(obj, "__module__", "")}.{name}' if name else repr(obj)


def _digest(obj: Any) -> str:
    text = json.dumps(_canonical(obj), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def config_fingerprint(config: str | Config) -> str:
    """A short hash of what a config trains: its content with every ``_base_`` merged in.

    Comments, formatting and the order of fields do not count; any value (inherited ones
    included) does, also one derived from the file's location (``{{fileDirname}}``).

    Args:
        config: A config file, or a loaded config.

    Returns:
        16 hex digits.
    """
    cfg = Config.fromfile(config) if isinstance(config, str) else config
    return _digest(cfg.to_dict())


def run_fingerprint(run: Run) -> str:
    """A short hash of a run's configuration: its config's content, its seed, its options
    (as ``tools/train.py`` arguments; written into its record: a mismatch means another run).

    Returns:
        16 hex digits.
    """
    return _digest(dict(config=run.config_hash or _file_fingerprint(run.config),
                        seed=run.seed, extra_args=run.options.to_argv()))


def _file_fingerprint(config: str) -> str:
    """:func:`config_fingerprint` of a file; for one that does not load, a hash of its bytes
    (of its path when it is missing): its training fails and says why, the sweep goes on."""
    try:
        return config_fingerprint(config)
    except Exception:  # noqa: BLE001 - any loading error is the training's to report
        try:
            data = Path(config).read_bytes()
        except OSError:
            data = config.encode()
        return 'file-' + hashlib.sha256(data).hexdigest()[:16]


def _tell_apart(paths: Sequence[str]) -> list[str]:
    """For files of one name in different folders, the folders that tell them apart.

    Returns:
        Per file, its folder relative to the deepest folder common to all, with ``+`` for the
        path separator; ``''`` for a file in that common folder.
    """
    folders = [osp.dirname(osp.abspath(p)) for p in paths]
    common = osp.commonpath(folders)
    rel = [osp.relpath(f, common) for f in folders]
    return ['' if r == '.' else r.replace(osp.sep, '+') for r in rel]


def work_dir_keys(configs: Sequence[str]) -> dict[str, str]:
    """The folder (under the work root) of each config's runs, unique among ``configs``.

    A config's key is its file name without ``.py``, as it always was, unless another config
    of the same name (in another folder) is planned with it: those get
    ``<name>@<folders that tell them apart>`` (``r50@lr0.1``; one in the folder common to the
    others keeps the plain name). Keys that still collide get a hash of the resolved path.

    Args:
        configs: Distinct config files (by resolved path).

    Returns:
        config -> key.
    """
    by_stem: dict[str, list[str]] = {}
    for config in configs:
        by_stem.setdefault(osp.splitext(osp.basename(config))[0], []).append(config)
    keys: dict[str, str] = {}
    for stem, group in by_stem.items():
        parts = _tell_apart(group) if len(group) > 1 else ['']
        keys.update({c: f'{stem}@{part}' if part else stem for c, part in zip(group, parts)})
    counts = Counter(keys.values())
    for config, key in keys.items():
        if counts[key] > 1:
            digest = hashlib.sha256(osp.realpath(config).encode()).hexdigest()[:8]
            keys[config] = f'{key}-{digest}'
    return keys


def _distinct_configs(configs: Sequence[str]) -> list[str]:
    """``configs`` with each file once (by resolved path); a repeat is named in a warning."""
    seen: dict[str, str] = {}
    for config in configs:
        real = osp.realpath(config)
        if real in seen:
            if config != seen[real]:
                warnings.warn(f'config {config} is {seen[real]} (the same file); planned once',
                              stacklevel=3)
            continue
        seen[real] = config
    return list(seen.values())


def _distinct_seeds(seeds: Sequence[int]) -> list[int]:
    """``seeds`` with each value once, in order; repeats are named in a warning."""
    counts = Counter(int(s) for s in seeds)
    repeated = [s for s, n in counts.items() if n > 1]
    if repeated:
        warnings.warn(f'seed(s) {", ".join(map(str, repeated))} given more than once; each '
                      'seed is planned once', stacklevel=3)
    return list(counts)


def plan_grid(configs: Sequence[str], work_root: str, seeds: Sequence[int] = (0,),
              backbones: Sequence[str] | None = None, optimizers: Sequence[str] | None = None,
              options: TrainOptions | None = None) -> list[Run]:
    """Runs for ``configs x seeds``, filtered by the configs' ``bocb`` identity.

    A run's ``backbone`` is the config's ``bocb.column`` when it has one (transfer configs: the
    paper's column, e.g. ``'det:R-50 (LARS)'``), else ``bocb.backbone``; its ``dataset`` is
    ``bocb.dataset`` joined with ``bocb.task`` when there is one (``'coco-det'``).

    Args:
        configs: config files (see :func:`find_configs`); a file given twice (by two paths)
            is planned once, with a warning.
        work_root: each run writes to ``work_root/<key>/seed<seed>``, the key being the
            config's file name without ``.py`` unless it is not unique
            (:func:`work_dir_keys`).
        seeds: random seeds (``randomness.seed``); a repeated seed is planned once, with a
            warning.
        backbones: keep only these paper backbone names (case-insensitive), if given.
        optimizers: keep only these paper optimizer names, if given.
        options: How to train every run (its ``work_dir``, ``seed`` and ``resume`` are each
            run's own).
    """
    options = _shared_options(options or TrainOptions())
    runs = []
    configs = _distinct_configs(configs)
    seeds = _distinct_seeds(seeds)
    keys = work_dir_keys(configs)  # of every config given: a filter does not move a run
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
        config_hash = config_fingerprint(cfg)
        # Transfer configs name the paper's column ('det:R-50 (LARS)'): several pre-trainings of
        # one backbone are then separate rows of the analysis, as in the paper's table.
        label = ident.get('column') or ident.get('backbone', '')
        dataset = '-'.join(x for x in (ident.get('dataset', ''), ident.get('task', '')) if x)
        for seed in seeds:
            runs.append(Run(config=config, seed=int(seed),
                            work_dir=osp.join(work_root, keys[config], f'seed{seed}'),
                            backbone=label, optimizer=ident.get('optimizer', ''),
                            dataset=dataset, options=options,
                            config_hash=config_hash))
    if not runs:
        raise ValueError('the grid is empty: no config matches the backbone/optimizer filters')
    return runs


def _shared_options(options: TrainOptions) -> TrainOptions:
    """``options`` for every run of a grid: each run has its own work dir, seed and resume."""
    for name in ('work_dir', 'seed', 'resume'):
        if getattr(options, name) is not None:
            raise ValueError(f'{name} is set per run by the sweep (--{name.replace("_", "-")} '
                             'cannot be given for the whole grid)')
    if 'randomness.seed' in options.cfg_options:
        raise ValueError('randomness.seed is set per run by the sweep (use --seeds)')
    return options

"""Check the checkpoint a ``resume=True`` run will load, before the Runner builds anything.

mmengine resumes from ``load_from`` or, with ``load_from=None`` (``tools/train.py --resume``),
from the checkpoint named in ``<work_dir>/last_checkpoint``. Two things go wrong there without a
word of explanation:

* a truncated checkpoint (a run killed while saving, a full disk) fails deep in ``torch.load``
  with a zip-reader traceback, and auto-resume never tries the previous checkpoint;
* a checkpoint of another optimizer (Adan -> Lion) loads "successfully", then the first step
  fails with ``too many values to unpack`` or a missing state key.

:func:`prepare_resume` names the corrupt file; with auto-resume it falls back to the newest intact
checkpoint (saying so) or stops listing what it found; and it compares the optimizer type
recorded in the checkpoint (its config text, read with ``ast``, never executed) with the config's.
"""
from __future__ import annotations

import ast
import glob
import os.path as osp
from typing import Any, Callable, Mapping

import torch

__all__ = ['ResumeError', 'prepare_resume', 'read_checkpoint', 'checkpoint_optimizer_type']

Log = Callable[[str], None]


class ResumeError(RuntimeError):
    """The checkpoint a run should resume from is unusable; the message says why and what to do."""


def read_checkpoint(path: str) -> dict:
    """A Runner checkpoint, memory-mapped (tensors are read only when touched).

    Raises:
        ResumeError: naming ``path`` when it is missing, truncated or not a Runner checkpoint.
    """
    import bocb_mm  # noqa: F401  (the weights-only allow-list for Runner checkpoints)
    if not osp.isfile(path):
        raise ResumeError(f'checkpoint {path} does not exist')
    try:
        ckpt = _load(path)
    except Exception as err:  # noqa: BLE001 - any reader error means the file is unusable
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ResumeError(f'checkpoint {path} is corrupt or truncated ({reason})') from None
    if not isinstance(ckpt, dict) or 'state_dict' not in ckpt:
        raise ResumeError(f'checkpoint {path} is not a Runner checkpoint (no state_dict)')
    return ckpt


def _load(path: str) -> Any:
    try:
        return torch.load(path, map_location='cpu', weights_only=True, mmap=True)
    except RuntimeError as err:
        if 'mmap' not in str(err):  # a legacy (non-zip) file cannot be mapped: read it whole
            raise
    return torch.load(path, map_location='cpu', weights_only=True)


def _candidates(work_dir: str) -> list[str]:
    """Checkpoints to resume from, best first: ``last_checkpoint``'s, then newest first."""
    found = sorted(glob.glob(osp.join(work_dir, 'epoch_*.pth')) +
                   glob.glob(osp.join(work_dir, 'iter_*.pth')), key=osp.getmtime, reverse=True)
    marker = osp.join(work_dir, 'last_checkpoint')
    if osp.isfile(marker):
        with open(marker) as f:
            last = f.read().strip()
        if last:
            found = [last] + [p for p in found if osp.abspath(p) != osp.abspath(last)]
    return found


def _pick_intact(work_dir: str, log: Log) -> tuple[str, dict] | None:
    """The newest intact checkpoint of ``work_dir`` (None when there is none at all)."""
    problems: list[str] = []
    for path in _candidates(work_dir):
        try:
            ckpt = read_checkpoint(path)
        except ResumeError as err:
            problems.append(str(err))
            continue
        if problems:
            log(f'auto-resume: {"; ".join(problems)}; resuming from {path} instead, the newest '
                'intact checkpoint')
        return path, ckpt
    if problems:
        raise ResumeError(f'auto-resume found no intact checkpoint in {work_dir}: '
                          + '; '.join(problems) + '. Remove the broken file(s) to start over, '
                          'or pass a checkpoint: --resume PATH')
    return None


def checkpoint_optimizer_type(ckpt: Mapping) -> str | None:
    """``optim_wrapper.optimizer.type`` of the config text saved in a checkpoint's meta."""
    text = (ckpt.get('meta') or {}).get('cfg')
    if not isinstance(text, str):
        return None
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return None
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == 'optim_wrapper' for t in node.targets):
            return _nested_type(node.value, ('optimizer', 'type'))
    return None


def _nested_type(node: ast.AST, keys: tuple[str, ...]) -> str | None:
    """The string at ``keys`` in a ``dict(...)`` / ``{...}`` literal tree, else None."""
    for key in keys:
        if isinstance(node, ast.Call):
            node = next((k.value for k in node.keywords if k.arg == key), None)
        elif isinstance(node, ast.Dict):
            node = next((v for k, v in zip(node.keys, node.values)
                         if isinstance(k, ast.Constant) and k.value == key), None)
        else:
            return None
        if node is None:
            return None
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _short(type_name: str) -> str:
    return type_name.rpartition('.')[2]


def check_same_optimizer(cfg: Any, path: str, ckpt: Mapping) -> None:
    """``ResumeError`` if ``ckpt`` was written by another optimizer than ``cfg`` builds."""
    optimizer = (cfg.get('optim_wrapper') or {}).get('optimizer') or {}
    new = optimizer.get('type')
    old = checkpoint_optimizer_type(ckpt)
    if not isinstance(new, str) or old is None or _short(old) == _short(new):
        return
    raise ResumeError(
        f'checkpoint {path} was written by optimizer {old}, but this config trains with {new}: '
        f'the optimizer state of {_short(old)} cannot continue as {_short(new)}. Resume with '
        f'{old}, or start a new run (another work_dir) from the weights only: '
        f'--cfg-options load_from={path} without --resume')


def prepare_resume(cfg: Any, log: Log = print) -> None:
    """Check, and for auto-resume choose, the checkpoint a ``resume=True`` config loads.

    Sets ``cfg.load_from`` to the chosen checkpoint (mmengine then resumes from it as from an
    explicit ``--resume PATH``). Does nothing when ``cfg.resume`` is false, or when auto-resume
    finds no checkpoint at all (mmengine starts from scratch, as it always did).

    Args:
        cfg: The run's mmengine ``Config`` (``resume``, ``load_from``, ``work_dir``,
            ``optim_wrapper``).
        log: Where the fallback notice goes.

    Raises:
        ResumeError: the named checkpoint is corrupt, all found ones are, or the checkpoint's
            optimizer is not the config's.
    """
    if not cfg.get('resume') or '://' in str(cfg.get('load_from') or ''):
        return  # remote checkpoints are mmengine's file backends' business
    if cfg.get('load_from'):
        path, ckpt = cfg.load_from, read_checkpoint(cfg.load_from)
    else:
        picked = _pick_intact(cfg.work_dir, log)
        if picked is None:
            return
        path, ckpt = picked
        cfg.load_from = path
    check_same_optimizer(cfg, path, ckpt)

"""Reading BOCB results: the sweep's long CSV or the paper's wide table, detected automatically.

Long format (one row per run): columns ``backbone, optimizer, seed, top1`` at least; optional
``last_top1, epochs, wall_time, status, work_dir`` (and ``lr, weight_decay`` for a grid).
Wide format (the paper's tables): first column ``optimizer``, one column per backbone.
"""
from __future__ import annotations

import csv
import io
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from ..models.zoo import list_backbones
from ..optim.zoo import list_optimizers

LONG_REQUIRED = ('backbone', 'optimizer', 'seed', 'top1')
"""Columns a long-format (sweep) CSV must have."""

LONG_OPTIONAL = ('last_top1', 'epochs', 'wall_time', 'status', 'work_dir', 'lr', 'weight_decay',
                 'metric', 'dataset')
"""Columns a long-format CSV may have (others are kept but not used)."""

FRACTION_METRIC_PREFIXES = ('coco/',)
"""``metric`` values (prefixes) reported as fractions in [0, 1] (mmdet / mmpose COCO metrics);
their ``top1`` / ``last_top1`` are multiplied by 100 so every score is in points."""

DROPPED_STATUSES = frozenset({'failed', 'error', 'crashed', 'killed', 'cancelled', 'canceled',
                              'running', 'pending', 'queued', 'submitted', 'timeout'})
"""Run statuses (case-insensitive) whose rows are left out: unfinished or crashed runs. Any other
status (e.g. ``done``, ``diverged``) is kept: a diverged run's accuracy is a real result."""


class BocbInputError(ValueError):
    """A results file that cannot be read as BOCB results; the message names the problem."""


@dataclass
class ResultSet:
    """Results of backbone x optimizer runs.

    Attributes:
        runs: One row per run: ``backbone, optimizer, seed, top1`` plus any optional columns.
        fmt: ``'long'`` or ``'wide'``.
        source: Where the results came from.
        backbones: Backbone names in display order (from the data).
        optimizers: Optimizer names in display order (from the data).
        dropped: Number of rows left out (by status or empty top-1), by reason.
        notes: What was done to the input (e.g. metrics rescaled), for the report.
    """

    runs: pd.DataFrame
    fmt: str
    source: str = ''
    backbones: list[str] = field(default_factory=list)
    optimizers: list[str] = field(default_factory=list)
    dropped: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def matrix(self, column: str = 'top1') -> pd.DataFrame:
        """Seed-averaged results as an optimizer x backbone frame (NaN where no run).

        Args:
            column: The value column to average.

        Returns:
            Frame indexed by optimizer, one column per backbone.
        """
        cells = self.runs.groupby(['optimizer', 'backbone'], sort=False)[column]
        m = cells.mean().unstack('backbone')
        return m.reindex(index=self.optimizers, columns=self.backbones).astype(float)

    def seed_counts(self) -> pd.DataFrame:
        """Number of runs (seeds) per optimizer x backbone cell.

        Returns:
            Integer frame indexed by optimizer, one column per backbone.
        """
        cells = self.runs.groupby(['optimizer', 'backbone'], sort=False)['top1']
        n = cells.size().unstack('backbone')
        return n.reindex(index=self.optimizers, columns=self.backbones).fillna(0).astype(int)

    @property
    def has_seeds(self) -> bool:
        """Whether at least one cell has two or more runs."""
        return bool((self.seed_counts().to_numpy() >= 2).any())

    def cube(self) -> np.ndarray:
        """Per-seed results as an array ``(n_optimizers, n_backbones, max_seeds)``, NaN-padded.

        Returns:
            The array; seeds of one cell come first along the last axis.
        """
        oi = {o: i for i, o in enumerate(self.optimizers)}
        bi = {b: j for j, b in enumerate(self.backbones)}
        smax = int(self.seed_counts().to_numpy().max(initial=1))
        out = np.full((len(self.optimizers), len(self.backbones), max(smax, 1)), np.nan)
        fill = np.zeros(out.shape[:2], dtype=int)
        for o, b, v in zip(self.runs['optimizer'], self.runs['backbone'], self.runs['top1']):
            i, j = oi[o], bi[b]
            out[i, j, fill[i, j]] = v
            fill[i, j] += 1
        return out


def _read_header(path: Path) -> list[str]:
    """Read the raw header row of a CSV (before pandas renames duplicates).

    Args:
        path: The CSV.

    Returns:
        The header cells, stripped.
    """
    with open(path, newline='', encoding='utf-8-sig') as fh:
        row = next(csv.reader(fh), None)
    return [c.strip() for c in row] if row else []


LONG_NONEMPTY = ('backbone', 'optimizer', 'seed')
"""Long-format columns no row may leave empty (``top1`` may be: a run without a result)."""


def check_csv_rows(path: str | Path, nonempty: Sequence[str] = ()) -> None:
    """Check that every row of a CSV is whole: as many fields as the header, none cut off.

    A file cut mid-row (an interrupted or full-disk write) parses as a shorter last row whose
    last value is a prefix of the real one (``...,LAMB,0,7`` for ``...,LAMB,0,77.1``); readers
    that fill missing fields with blanks would take it as a result.

    Args:
        path: The CSV (its first row is the header; blank lines are skipped).
        nonempty: Columns (case-insensitive) whose cells must not be blank; columns the header
            does not have are ignored.

    Raises:
        BocbInputError: Naming the file and line of the first row with too few or too many
            fields or a blank required cell, or a file whose last row does not end with a
            newline (cut mid-row).
    """
    path = Path(path)
    with open(path, newline='', encoding='utf-8-sig') as fh:
        text = fh.read()
    if text.strip() and not text.endswith(('\n', '\r')):
        tail = text.rsplit('\n', 1)[-1]
        raise BocbInputError(f'{path}, line {text.count(chr(10)) + 1}: the last row does not end '
                             'with a newline; the file looks cut mid-row (an interrupted '
                             f'write?): {tail[-60:]!r}')
    reader = csv.reader(io.StringIO(text, newline=''))
    header = next(reader, None) or []
    names = [c.strip().lower() for c in header]
    required = [(names.index(c.lower()), c) for c in nonempty if c.lower() in names]
    for row in reader:
        if not row:
            continue
        where = f'{path}, line {reader.line_num}'
        if len(row) != len(header):
            raise BocbInputError(f'{where}: {len(row)} field(s) where the header has '
                                 f'{len(header)} (a cut or malformed row): {",".join(row)[:80]!r}')
        for i, name in required:
            if not row[i].strip():
                raise BocbInputError(f'{where}: empty {name} (a required field)')


def _nonempty_columns(header: Sequence[str]) -> tuple[str, ...]:
    """Columns no row may leave blank: :data:`LONG_NONEMPTY`, or a wide table's first column."""
    names = [c.strip().lower() for c in header]
    if 'backbone' in names:
        return LONG_NONEMPTY
    return (names[0],) if names and names[0] == 'optimizer' else ()


def _numeric(values: pd.Series, what: str, labels: Sequence[str]) -> pd.Series:
    """Convert a column to floats, failing with the offending cells named.

    Blank cells become NaN; text that is not a number raises.

    Args:
        values: The raw column (strings or numbers).
        what: What the column is, for the message.
        labels: One label per value naming where it is (e.g. ``'line 5'``).

    Returns:
        The float column.

    Raises:
        BocbInputError: If a non-blank cell is not a number.
    """
    raw = values.astype('string').str.strip()
    num = pd.to_numeric(raw.where(raw != ''), errors='coerce')
    bad = num.isna() & raw.notna() & (raw != '') & ~raw.str.lower().isin(['nan', 'na', 'n/a'])
    if bad.any():
        where = [f'{labels[i]}: {raw.iloc[i]!r}' for i in np.flatnonzero(bad.to_numpy())[:5]]
        more = '' if bad.sum() <= 5 else f' (and {int(bad.sum()) - 5} more)'
        raise BocbInputError(f'non-numeric {what}: ' + '; '.join(where) + more)
    return num.astype(float)


def _check_range(values: pd.Series, what: str, labels: Sequence[str]) -> None:
    """Check accuracies are percentages in [0, 100].

    Args:
        values: Float column.
        what: What the column is, for the message.
        labels: One label per value.

    Raises:
        BocbInputError: If a value is outside [0, 100].
    """
    arr = values.to_numpy(float)
    bad = np.flatnonzero((arr < 0) | (arr > 100))
    if bad.size:
        where = '; '.join(f'{labels[i]}: {arr[i]:g}' for i in bad[:5])
        raise BocbInputError(f'{what} must be a percentage in [0, 100]: {where}')


def detect_format(columns: Sequence[str]) -> str:
    """Tell the long (sweep) format from the wide (paper) one by the header.

    Args:
        columns: Header cells.

    Returns:
        ``'long'`` or ``'wide'``.

    Raises:
        BocbInputError: If the header fits neither format.
    """
    cols = [c.strip().lower() for c in columns]
    if 'backbone' in cols:
        missing = [c for c in LONG_REQUIRED if c not in cols]
        if missing:
            raise BocbInputError('long-format results (one row per run) need the columns '
                                 f'{", ".join(LONG_REQUIRED)}; missing: {", ".join(missing)}')
        return 'long'
    if cols and cols[0] == 'optimizer':
        if len(cols) < 2:
            raise BocbInputError("wide-format table has an 'optimizer' column but no backbone "
                                 'columns')
        return 'wide'
    raise BocbInputError(
        'cannot tell the format: a long-format CSV needs the columns '
        f'{", ".join(LONG_REQUIRED)}; a wide table (paper style) needs \'optimizer\' as its first '
        f'column; found columns: {", ".join(columns) if columns else "(none)"}')


def _read_frame(path: Path) -> pd.DataFrame:
    """Read a CSV as strings, failing clearly on empty files.

    Args:
        path: The CSV.

    Returns:
        The raw frame (all cells strings, blank cells empty).

    Raises:
        BocbInputError: If the file is missing, empty, has no data rows, or a row that is cut,
            malformed or leaves a required field blank (:func:`check_csv_rows`).
    """
    if not path.is_file():
        raise BocbInputError(f'results file not found: {path}')
    if path.stat().st_size == 0 or not path.read_text(encoding='utf-8-sig').strip():
        raise BocbInputError(f'results file is empty: {path}')
    check_csv_rows(path, _nonempty_columns(_read_header(path)))
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True,
                            encoding='utf-8-sig')
    except pd.errors.ParserError as err:
        raise BocbInputError(f'cannot parse {path} as CSV: {err}') from err
    if frame.empty:
        raise BocbInputError(f'results file has a header but no data rows: {path}')
    frame.columns = [c.strip() for c in frame.columns]
    return frame


def _select_dataset(frame: pd.DataFrame, dataset: str | None) -> pd.DataFrame:
    """Keep one dataset's rows when the CSV has a ``dataset`` column.

    Args:
        frame: Raw long frame.
        dataset: Dataset to keep, or None (then the CSV must hold a single dataset).

    Returns:
        The selected rows.

    Raises:
        BocbInputError: If several datasets are mixed and none was chosen, or the choice is absent.
    """
    if 'dataset' not in frame.columns:
        if dataset is not None:
            raise BocbInputError(f'dataset {dataset!r} requested but the CSV has no dataset column')
        return frame
    names = list(dict.fromkeys(frame['dataset'].astype(str).str.strip()))
    if dataset is None:
        if len(names) > 1:
            raise BocbInputError(f'results mix datasets ({", ".join(names)}); choose one '
                                 '(--dataset NAME / load_results(..., dataset=NAME))')
        return frame
    if dataset not in names:
        raise BocbInputError(f'dataset {dataset!r} not in the CSV (found: {", ".join(names)})')
    return frame[frame['dataset'].astype(str).str.strip() == dataset].reset_index(drop=True)


def order_like(names: Sequence[str], reference: Sequence[str]) -> list[str]:
    """Order names as a zoo lists them, unknown names after, in their data order.

    Only the order is taken from the zoo; the names themselves always come from the data.

    Args:
        names: Names found in the data, in order of first appearance.
        reference: The zoo's names in its order (:func:`bocb_mm.optim.zoo.list_optimizers`,
            :func:`bocb_mm.models.zoo.list_backbones`); matched case-insensitively.

    Returns:
        The same names, reordered.
    """
    pos = {str(name).lower(): i for i, name in enumerate(reference)}
    known = sorted((n for n in names if n.lower() in pos), key=lambda n: pos[n.lower()])
    return known + [n for n in names if n.lower() not in pos]


def _load_long(frame: pd.DataFrame, status_drop: frozenset,
               dataset: str | None = None) -> ResultSet:
    """Validate and normalise a long-format frame.

    Args:
        frame: Raw string frame.
        status_drop: Statuses whose rows are left out.
        dataset: Dataset to keep when the CSV has a ``dataset`` column.

    Returns:
        The result set.

    Raises:
        BocbInputError: On blank names, non-numeric values, duplicates, mixed datasets or no
            usable rows.
    """
    frame = frame.rename(columns={c: c.lower() for c in frame.columns})
    frame = _select_dataset(frame, dataset)
    labels = [f'line {i + 2}' for i in range(len(frame))]
    for col in ('backbone', 'optimizer'):
        frame[col] = frame[col].astype(str).str.strip()
        blank = np.flatnonzero((frame[col] == '').to_numpy())
        if blank.size:
            raise BocbInputError(f'empty {col} name at ' + ', '.join(labels[i] for i in blank[:5]))
    frame['seed'] = frame['seed'].astype(str).str.strip()
    dropped: dict[str, int] = {}
    notes: list[str] = []
    if 'dataset' in frame.columns:
        notes.append(f'dataset: {", ".join(dict.fromkeys(frame["dataset"].astype(str)))}')
    keep = np.ones(len(frame), dtype=bool)
    if 'status' in frame.columns:
        st = frame['status'].astype(str).str.strip().str.lower()
        mask = st.isin(status_drop).to_numpy()
        for s in sorted(set(st[mask])):
            dropped[f'status={s}'] = int((st[mask] == s).sum())
        keep &= ~mask
    top1 = _numeric(frame['top1'], 'top1', labels)
    blank = top1.isna().to_numpy() & keep
    if blank.any():
        dropped['empty top1'] = int(blank.sum())
        warnings.warn(f'{int(blank.sum())} run(s) without a top1 value left out '
                      f'({", ".join(labels[i] for i in np.flatnonzero(blank)[:5])})', stacklevel=3)
    keep &= ~blank
    frame = frame.assign(top1=top1)
    for col in ('last_top1', 'epochs', 'wall_time', 'lr', 'weight_decay'):
        if col in frame.columns:
            frame[col] = _numeric(frame[col], col, labels)
    if 'metric' in frame.columns:
        metric = frame['metric'].astype(str).str.strip()
        frac = metric.str.startswith(FRACTION_METRIC_PREFIXES).to_numpy()
        if frac.any():
            for col in ('top1', 'last_top1'):
                if col in frame.columns:
                    frame.loc[frac, col] = frame.loc[frac, col] * 100.0
            metrics = sorted(set(frame.loc[frac, 'metric'].astype(str)))
            notes.append(f'{int(frac.sum())} run(s) with metric {", ".join(metrics)} (fractions '
                         'in [0, 1]) multiplied by 100')
    labels = [lab for lab, k in zip(labels, keep) if k]
    frame = frame.loc[keep].reset_index(drop=True)
    if frame.empty:
        raise BocbInputError('no usable runs: every row was left out ' + str(dropped))
    _check_range(frame['top1'], 'top1', labels)
    key = ['backbone', 'optimizer', 'seed'] + [c for c in ('lr', 'weight_decay')
                                               if c in frame.columns]
    dup = frame.duplicated(key, keep=False).to_numpy()
    if dup.any():
        where = ', '.join(labels[i] for i in np.flatnonzero(dup)[:6])
        raise BocbInputError(f'duplicate runs for the same {"/".join(key)} at {where}')
    backbones = order_like(list(dict.fromkeys(frame['backbone'])), list_backbones())
    optimizers = order_like(list(dict.fromkeys(frame['optimizer'])), list_optimizers('all'))
    return ResultSet(frame, 'long', backbones=backbones, optimizers=optimizers, dropped=dropped,
                     notes=notes)


def _load_wide(frame: pd.DataFrame, header: list[str]) -> ResultSet:
    """Validate a wide (paper) table and turn it into one run per cell (seed 0).

    Args:
        frame: Raw string frame.
        header: The raw header row, to catch duplicate backbone columns.

    Returns:
        The result set.

    Raises:
        BocbInputError: On duplicate names, non-numeric cells or an all-empty table.
    """
    dups = sorted({h for h in header if header.count(h) > 1})
    if dups:
        raise BocbInputError(f'duplicate columns in the wide table: {", ".join(dups)}')
    opt_col = frame.columns[0]
    frame[opt_col] = frame[opt_col].astype(str).str.strip()
    if (frame[opt_col] == '').any():
        line = int(np.argmax(frame[opt_col] == '')) + 2
        raise BocbInputError(f'empty optimizer name at line {line}')
    dupo = sorted(set(frame[opt_col][frame[opt_col].duplicated()]))
    if dupo:
        raise BocbInputError(f'duplicate optimizer rows in the wide table: {", ".join(dupo)}')
    backbones = [c for c in frame.columns[1:]]
    if any(b == '' or b.startswith('Unnamed:') for b in backbones):
        raise BocbInputError('a backbone column of the wide table has no name')
    rows, empty = [], []
    for b in backbones:
        labels = [f'row {o!r}, column {b!r}' for o in frame[opt_col]]
        vals = _numeric(frame[b], f'value in column {b!r}', labels)
        ok = vals.notna().to_numpy()
        empty += [lab for lab, k in zip(labels, ok) if not k]
        _check_range(vals[ok], 'top1', [lab for lab, k in zip(labels, ok) if k])
        rows.append(pd.DataFrame({'backbone': b, 'optimizer': frame[opt_col][ok].to_numpy(),
                                  'seed': '0', 'top1': vals[ok].to_numpy()}))
    runs = pd.concat(rows, ignore_index=True)
    if runs.empty:
        raise BocbInputError('the wide table has no numeric values')
    dropped: dict[str, int] = {}
    if empty:  # as the long format: say which results are missing, then leave them out
        dropped['empty cell'] = len(empty)
        more = '' if len(empty) <= 5 else f' and {len(empty) - 5} more'
        warnings.warn(f'{len(empty)} empty cell(s) of the wide table left out (no result): '
                      f'{"; ".join(empty[:5])}{more}', stacklevel=3)
    optimizers = list(frame[opt_col])
    return ResultSet(runs, 'wide', backbones=backbones,
                     optimizers=[o for o in optimizers if o in set(runs['optimizer'])],
                     dropped=dropped)


def _require_comparison(res: ResultSet) -> None:
    """The analysis ranks optimizers per backbone and drops each backbone's worst: it needs at
    least two optimizers.

    Raises:
        BocbInputError: naming what the file holds.
    """
    if len(res.optimizers) >= 2:
        return
    runs = len(res.runs)
    raise BocbInputError(
        f'{res.source}: {runs} usable run(s), all of optimizer {res.optimizers[0]!r} (on '
        f'{", ".join(res.backbones)}); the BOCB analysis compares optimizers on each backbone '
        '(ranks, the drop-worst statistics) and needs results of at least 2 optimizers')


def load_results(path: str | Path, status_drop: frozenset | None = None,
                 dataset: str | None = None) -> ResultSet:
    """Load BOCB results from a CSV in either format.

    Args:
        path: The CSV: the sweep's long format or the paper's wide table.
        status_drop: Run statuses to leave out (long format); default :data:`DROPPED_STATUSES`.
        dataset: With a long CSV that has a ``dataset`` column holding several datasets, the one
            to analyse.

    Returns:
        The result set, with ``fmt`` telling which format was found.

    Raises:
        BocbInputError: On a missing, empty or malformed file, or results of fewer than two
            optimizers; the message names the problem.
    """
    path = Path(path)
    frame = _read_frame(path)
    header = _read_header(path)
    fmt = detect_format(header)
    if fmt == 'long':
        drop = status_drop if status_drop is not None else DROPPED_STATUSES
        res = _load_long(frame, drop, dataset)
    else:
        res = _load_wide(frame, header)
    res.source = str(path)
    _require_comparison(res)
    return res

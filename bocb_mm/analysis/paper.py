"""The paper's own data shipped with the package, and the rows the paper prints under Table 1.

The CSVs in ``bocb_mm/data/paper/`` are copies of the BOCB paper's tables (project page and
appendix). ``cifar100_printed_stats.csv`` is parsed from ``bocb_project_page.txt`` by
:func:`parse_printed_stats`: the paper's printed ``Mean`` and ``Std/Range`` rows of the
CIFAR-100 table, which it says are computed after removing each backbone's worst result.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

PAPER_DIR: Path = Path(__file__).resolve().parent.parent / 'data' / 'paper'
"""Folder with the copies of the paper's tables."""

CIFAR100_TOP1: Path = PAPER_DIR / 'cifar100_top1.csv'
IMAGENET_TOP1: Path = PAPER_DIR / 'imagenet_top1.csv'
COCO_TRANSFER: Path = PAPER_DIR / 'coco_transfer.csv'
CIFAR100_HPARAMS: Path = PAPER_DIR / 'cifar100_hparams.csv'
CIFAR100_PRINTED_STATS: Path = PAPER_DIR / 'cifar100_printed_stats.csv'
PROJECT_PAGE: Path = PAPER_DIR / 'bocb_project_page.txt'


def paper_file(name: str) -> Path:
    """Return the path of one shipped paper file.

    Args:
        name: File name inside ``bocb_mm/data/paper`` (e.g. ``'cifar100_top1.csv'``).

    Returns:
        The absolute path.

    Raises:
        FileNotFoundError: If the file is not shipped.
    """
    path = PAPER_DIR / name
    if not path.is_file():
        raise FileNotFoundError(f'paper data file not found: {path}')
    return path


def parse_printed_stats(text: str) -> pd.DataFrame:
    """Parse the printed ``Mean`` and ``Std/Range`` rows of the CIFAR-100 table from page text.

    The project page prints, under the CIFAR-100 table, one line ``Mean v1 v2 ...`` and one
    line ``Std/Range s1/r1 s2/r2 ...`` whose columns follow the table's ``Backbone ...``
    header line.

    Args:
        text: The project page as plain text.

    Returns:
        A frame with columns ``backbone, mean, std, range`` in the table's column order.

    Raises:
        ValueError: If the lines are not found or their lengths do not match the header.
    """
    lines = [ln.strip() for ln in text.splitlines()]
    mean_idx = next((i for i, ln in enumerate(lines) if ln.startswith('Mean ')), None)
    if mean_idx is None:
        raise ValueError("no line starting with 'Mean ' in the page text")
    header_idx = next((i for i in range(mean_idx, -1, -1) if lines[i].startswith('Backbone ')),
                      None)
    if header_idx is None:
        raise ValueError("no 'Backbone ...' header line before the 'Mean' line")
    std_line = next((ln for ln in lines[mean_idx + 1:mean_idx + 3]
                     if ln.startswith('Std/Range ')), None)
    if std_line is None:
        raise ValueError("no 'Std/Range' line after the 'Mean' line")
    backbones = lines[header_idx].split()[1:]
    means = [float(v) for v in lines[mean_idx].split()[1:]]
    pairs = [tok.split('/') for tok in std_line.split()[1:]]
    if not (len(backbones) == len(means) == len(pairs)):
        raise ValueError(f'printed rows do not match the header: {len(backbones)} backbones, '
                         f'{len(means)} means, {len(pairs)} std/range values')
    return pd.DataFrame({
        'backbone': backbones,
        'mean': means,
        'std': [float(p[0]) for p in pairs],
        'range': [float(p[1]) for p in pairs],
    })


def load_printed_stats(path: Path | None = None) -> pd.DataFrame:
    """Load the paper's printed bottom rows (transcribed CSV).

    Args:
        path: CSV with columns ``backbone, mean, std, range``; defaults to the shipped one.

    Returns:
        The frame indexed by backbone.
    """
    return pd.read_csv(path or CIFAR100_PRINTED_STATS).set_index('backbone')


def load_paper_matrix(path: Path | None = None) -> pd.DataFrame:
    """Load a paper wide table (optimizers as rows, backbones as columns).

    Args:
        path: The CSV; defaults to the CIFAR-100 top-1 table.

    Returns:
        Float frame indexed by optimizer.
    """
    return pd.read_csv(path or CIFAR100_TOP1, index_col=0).astype(float)


def is_paper_cifar100(matrix: pd.DataFrame, atol: float = 1e-6) -> bool:
    """Tell whether a result matrix is the paper's CIFAR-100 table.

    Args:
        matrix: Frame indexed by optimizer with one column per backbone.
        atol: Absolute tolerance on the values.

    Returns:
        True when the optimizers, backbones and values equal the shipped CIFAR-100 table.
    """
    try:
        paper = load_paper_matrix()
    except (OSError, ValueError):
        return False
    if list(matrix.columns) != list(paper.columns) or sorted(matrix.index) != sorted(paper.index):
        return False
    other = matrix.loc[paper.index, paper.columns].to_numpy(float)
    return bool(np.allclose(other, paper.to_numpy(float), atol=atol, equal_nan=True))


def compare_printed_stats(recomputed: pd.DataFrame, printed: pd.DataFrame) -> pd.DataFrame:
    """Put recomputed bottom rows next to the paper's printed ones.

    Args:
        recomputed: Frame indexed by backbone with columns ``mean, std, range``.
        printed: Same layout, the paper's printed values.

    Returns:
        Frame indexed by backbone with ``<stat>_printed``, ``<stat>_recomputed`` and
        ``<stat>_diff`` (recomputed minus printed) for each statistic.
    """
    common = [b for b in recomputed.index if b in printed.index]
    out: dict[str, list[float]] = {}
    for stat in ('mean', 'std', 'range'):
        p = printed.loc[common, stat].astype(float)
        r = recomputed.loc[common, stat].astype(float)
        out[f'{stat}_printed'] = list(p)
        out[f'{stat}_recomputed'] = list(r)
        out[f'{stat}_diff'] = list(r - p)
    return pd.DataFrame(out, index=pd.Index(common, name='backbone'))


def write_printed_stats(page: Path = PROJECT_PAGE, out: Path = CIFAR100_PRINTED_STATS) -> Path:
    """Regenerate ``cifar100_printed_stats.csv`` from the project page text.

    Args:
        page: The project page text file.
        out: Where to write the CSV.

    Returns:
        The written path.
    """
    frame = parse_printed_stats(Path(page).read_text(encoding='utf-8'))
    frame.to_csv(out, index=False)
    return Path(out)


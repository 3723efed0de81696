"""Config source text: numbers spelled as the tables spell them, values in mmengine's style.

One renderer (:func:`render`), one number formatter (:func:`fmt_number`) and one comment wrapper
(:func:`comment`) for every generated config.
"""
from __future__ import annotations

import keyword
import textwrap
from typing import Any, Sequence

WIDTH = 100


class Num(str):
    """A number written as given (``Num('1e-3')`` renders ``1e-3``, not ``0.001``)."""


def plain(obj: Any) -> Any:
    """A generated value as a loaded config holds it (``Num('1e-5')`` -> ``1e-05``)."""
    if isinstance(obj, Num):
        return float(obj)
    if isinstance(obj, dict):
        return {k: plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(plain(v) for v in obj)
    return obj


def fmt_number(x: float, digits: int = 6) -> str:
    """Short spelling of a computed number, ``digits`` significant digits at most.

    Below 0.1 in scientific notation without trailing zeros (``2e-3``, ``5.12e-3``), else
    ``'g'`` style (``0.4``, ``4.8``, ``0``).

    Args:
        x: The number.
        digits: Significant digits kept (rounded).

    Raises:
        ValueError: ``digits`` < 1.
    """
    if digits < 1:
        raise ValueError(f'fmt_number: digits must be >= 1, got {digits}')
    if x != 0 and abs(x) < 0.1:
        mant, exp = f'{x:.{digits - 1}e}'.split('e')
        mant = mant.rstrip('0').rstrip('.') if '.' in mant else mant
        return f'{mant}e{int(exp)}'
    return f'{x:.{digits}g}'


def is_key(key: Any) -> bool:
    """Whether ``key`` can be a ``dict(key=...)`` keyword (an identifier, not a keyword)."""
    return isinstance(key, str) and key.isidentifier() and not keyword.iskeyword(key)


def render(obj: Any, indent: int = 0, used: int = 0, width: int = WIDTH) -> str:
    """Python source for ``obj`` in mmengine config style (``dict(k=v)``).

    A dict whose keys are not all :func:`is_key` (a Python keyword, a dotted name) is written as a
    ``{'k': v}`` literal. Values that do not fit on the line are broken one item per line,
    indented by 4 more; long strings stay on one line.

    Args:
        obj: dicts, lists, tuples, :class:`Num`, str, int, float, bool, None.
        indent: Indentation of the line the value starts on.
        used: Characters already on that line.
        width: Line width to fit in.

    Raises:
        TypeError: A value of another type.
    """
    flat = _render_flat(obj)
    if used + len(flat) <= width or not isinstance(obj, (dict, list, tuple)) or not obj:
        return flat
    pad = ' ' * (indent + 4)
    if isinstance(obj, dict):
        if all(is_key(k) for k in obj):
            items = [f'{pad}{k}={render(v, indent + 4, len(pad) + len(k) + 2, width)}'
                     for k, v in obj.items()]
            return 'dict(\n' + ',\n'.join(items) + ')'
        items = [f'{pad}{k!r}: {render(v, indent + 4, len(pad) + len(repr(k)) + 3, width)}'
                 for k, v in obj.items()]
        return '{\n' + ',\n'.join(items) + '}'
    open_, close = ('[', ']') if isinstance(obj, list) else ('(', ')')
    items = [f'{pad}{render(v, indent + 4, len(pad) + 1, width)}' for v in obj]
    tail = ',' if isinstance(obj, tuple) and len(obj) == 1 else ''
    return open_ + '\n' + ',\n'.join(items) + tail + close


def _render_flat(obj: Any) -> str:
    if isinstance(obj, Num):
        return str(obj)
    if isinstance(obj, dict):
        if all(is_key(k) for k in obj):
            return 'dict(' + ', '.join(f'{k}={_render_flat(v)}' for k, v in obj.items()) + ')'
        return '{' + ', '.join(f'{k!r}: {_render_flat(v)}' for k, v in obj.items()) + '}'
    if isinstance(obj, list):
        return '[' + ', '.join(_render_flat(v) for v in obj) + ']'
    if isinstance(obj, tuple):
        inner = ', '.join(_render_flat(v) for v in obj)
        return f'({inner},)' if len(obj) == 1 else f'({inner})'
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return repr(obj)
    raise TypeError(f'cannot render {type(obj).__name__} {obj!r} into a config')


#: ``rows`` of :func:`assignment` for a list: each item on its own line, unbroken.
ONE_PER_LINE = 'one per line'


def assignment(name: str, value: Any, rows: Sequence[Sequence[str]] | str | None = None) -> str:
    """``name = <value>`` (the value rendered to fit after ``name = ``).

    Args:
        name: The variable.
        value: Its value.
        rows: For a dict value: its keys, grouped into the lines they are written on (every key
            once), so that configs of one kind are laid out alike whatever their values. For a
            list: :data:`ONE_PER_LINE`.

    Raises:
        ValueError: ``rows`` that do not name each key of ``value`` once.
    """
    if rows is None:
        return f'{name} = {render(value, 0, len(name) + 3)}'
    if rows == ONE_PER_LINE:
        return f'{name} = [\n' + ',\n'.join(f'    {_render_flat(v)}' for v in value) + ']'
    keys = [k for row in rows for k in row]
    if sorted(keys) != sorted(value) or len(set(keys)) != len(keys):
        raise ValueError(f'{name}: rows {rows} do not name each of the keys {list(value)} once')
    lines = ['    ' + ', '.join(f'{k}={_render_flat(value[k])}' for k in row) for row in rows]
    return f'{name} = dict(\n' + ',\n'.join(lines) + ')'


def comment(text: str, width: int = WIDTH) -> list[str]:
    """``text`` as ``# `` comment lines, continuation lines indented (paths are not split)."""
    return textwrap.wrap(text, width, initial_indent='# ', subsequent_indent='#   ',
                         break_long_words=False, break_on_hyphens=False)


def _bases(bases: Sequence[str], width: int = WIDTH) -> list[str]:
    """``_base_ = [...]``, the entries filling lines of ``width``."""
    lines, line = [], "_base_ = ["
    for i, base in enumerate(bases):
        item = f"'{base}'" + (']' if i == len(bases) - 1 else ',')
        if line.endswith(('[', ',')) and len(line) + 1 + len(item) > width and i:
            lines.append(line)
            line = ' ' * len('_base_ = [') + item
        else:
            line += ('' if line.endswith('[') else ' ') + item
    return lines + [line]


#: A part of a config: ``(name, value)``, ``(name, value, rows)`` (:func:`assignment`), or
#: ``('#', text)``: a comment on the assignment that follows it.
Part = tuple


def config_text(header: str, comments: Sequence[str], bases: Sequence[str],
                parts: Sequence[Part]) -> str:
    """A generated config: header, comments, ``_base_`` and the parts in order.

    Args:
        header: The generator's first line(s), ending with a newline.
        comments: Comment texts on the whole file (wrapped by :func:`comment`).
        bases: ``_base_`` entries, relative to the config's folder.
        parts: The top-level assignments (:data:`Part`), each after a blank line.
    """
    lines = [header.rstrip('\n')]
    for text in comments:
        lines += comment(text)
    lines += _bases(bases)
    after_comment = False
    for part in parts:
        if not after_comment:
            lines.append('')
        if part[0] == '#':
            lines += comment(part[1])
            after_comment = True
            continue
        lines.append(assignment(*part))
        after_comment = False
    return '\n'.join(lines) + '\n'

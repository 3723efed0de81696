"""The report's parts by import: zoo order and categories, sections, Markdown and HTML."""
from __future__ import annotations

import base64
from pathlib import Path

import pytest

from bocb_mm.analysis.core import (UNCATEGORIZED, analyze, category_order,
                                   optimizer_categories)
from bocb_mm.analysis.io import load_results, order_like
from bocb_mm.analysis.report import Section, build_sections, render_html, render_markdown
from bocb_mm.models.zoo import list_backbones
from bocb_mm.optim.zoo import list_optimizers

CIFAR = Path(__file__).resolve().parents[2] / 'bocb_mm' / 'data' / 'paper' / 'cifar100_top1.csv'


def test_order_like_follows_the_zoo_and_keeps_unknown_names_last():
    names = ['mine', 'adamw', 'Adam', 'SGD-M', 'other']
    assert order_like(names, list_optimizers()) == ['SGD-M', 'Adam', 'adamw', 'mine', 'other']
    assert order_like(['R-50', 'VGG-13', 'X'], list_backbones()) == ['VGG-13', 'R-50', 'X']


def test_unknown_optimizers_are_uncategorized_with_a_warning_and_ordered_last():
    with pytest.warns(UserWarning, match='mine'):
        categories = optimizer_categories(['mine', 'LAMB', 'SGD-M'])
    assert categories == {'mine': UNCATEGORIZED, 'LAMB': '(b) adaptive lr, momentum gradient',
                          'SGD-M': '(a) fixed lr, momentum gradient'}
    assert category_order(categories) == ['(a) fixed lr, momentum gradient',
                                          '(b) adaptive lr, momentum gradient', UNCATEGORIZED]


def test_sections_render_to_markdown_and_html(tmp_path):
    png = b'\x89PNG\r\n\x1a\n not a real image'
    (tmp_path / 'fig.png').write_bytes(png)
    secs = [Section('Notes', ['A **bold** `code` line.', '- first', '- second'],
                    table=(['name', 'value'], [['a|b', '1']]), image='fig.png')]
    markdown = render_markdown(None, secs)
    assert markdown == ('# BOCB report\n\n## Notes\n\nA **bold** `code` line.\n\n- first\n'
                        '- second\n\n![Notes](fig.png)\n\n| name | value |\n| :--- | :--- |\n'
                        '| a\\|b | 1 |\n')
    page = render_html(None, secs, tmp_path)
    assert '<p>A <b>bold</b> <code>code</code> line.</p>\n<ul><li>first</li><li>second</li></ul>' \
        in page
    assert f'src="data:image/png;base64,{base64.b64encode(png).decode()}"' in page
    assert page.startswith('<!DOCTYPE html>') and page.endswith('</body></html>')


def test_paper_sections_in_order(tmp_path):
    an = analyze(load_results(CIFAR))
    figs = {name: tmp_path / 'figures' / f'{name}.png'
            for name in ('performance_stability', 'optimizer_generality', 'coupling_scores')}
    titles = [s.title for s in build_sections(an, figs, None, None, tmp_path)]
    assert titles == ['Input', 'Rules', 'BOCB table', 'Paper\'s printed bottom rows vs recomputed',
                      'Conventions tried', 'Performance stability', 'Optimizer generality',
                      'Coupling scores', 'Backbone coupling scores',
                      'Optimizer generality and coupling']

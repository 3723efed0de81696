"""Tests of bocb_mm.analysis and tools/analysis/bocb_report.py."""
from __future__ import annotations

import csv
import json
import math
import os
import statistics
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
PAPER = ROOT / 'bocb_mm' / 'data' / 'paper'
CIFAR = PAPER / 'cifar100_top1.csv'
TOOL = ROOT / 'tools' / 'analysis' / 'bocb_report.py'

EXPECTED_PX = {
    'performance_stability': (1400, 600),
    'optimizer_generality': (1400, 900),
    'coupling_scores': (1400, 900),
    'hparam_robustness': (1400, 600),
    'weight_entropy_ridge': (1200, 1000),
    'performance_profiles': (1400, 700),
}


# ---------------------------------------------------------------------------------------------
# independent helpers (plain Python, no bocb_mm)

def read_wide(path: Path):
    """Paper table as {backbone: {optimizer: value}} with plain csv."""
    with open(path, newline='') as fh:
        rows = list(csv.reader(fh))
    header = rows[0][1:]
    table = {b: {} for b in header}
    for r in rows[1:]:
        for b, v in zip(header, r[1:]):
            table[b][r[0]] = float(v)
    return table


def plain_top4(col):
    """Top-4 optimizers (ties at the 4th value included)."""
    fourth = sorted(col.values(), reverse=True)[3]
    return {o for o, v in col.items() if v >= fourth}


def plain_range_drop_worst(col):
    vals = sorted(col.values())[1:]
    return max(vals) - min(vals)


def png_size(path: Path):
    """(width, height) from the PNG header, after checking the signature and IHDR chunk."""
    data = path.read_bytes()
    assert len(data) > 1000, f'{path} is suspiciously small'
    assert data[:8] == b'\x89PNG\r\n\x1a\n', f'{path} is not a PNG'
    length, kind = struct.unpack('>I4s', data[8:16])
    assert kind == b'IHDR' and length == 13
    return struct.unpack('>II', data[16:24])


# ---------------------------------------------------------------------------------------------
# fixtures

@pytest.fixture(scope='module')
def paper_analysis():
    from bocb_mm.analysis.core import analyze
    from bocb_mm.analysis.io import load_results
    return analyze(load_results(CIFAR))


@pytest.fixture(scope='module')
def ckpt_files(tmp_path_factory):
    """Two checkpoints: an mmengine-style one (state_dict + meta + message hub) and a bare state
    dict."""
    import torch
    from torch import nn
    d = tmp_path_factory.mktemp('ckpt')
    torch.manual_seed(0)

    def net():
        return nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.Conv2d(8, 16, 3),
                             nn.Flatten(), nn.Linear(16, 10))

    a, b = net(), net()
    with torch.no_grad():
        for p in b.parameters():
            p.mul_(torch.rand_like(p) * 3)
    ckpt = {'meta': {'epoch': 2, 'seed': 0}, 'state_dict': a.state_dict()}
    try:
        from mmengine.logging import MessageHub
        hub = MessageHub.get_instance('bocb_analysis_test')
        hub.update_scalar('train/loss', 1.0)
        hub.update_scalar('train/loss', np.float64(0.5))
        ckpt['message_hub'] = hub.state_dict()
    except ImportError:
        pass
    torch.save(ckpt, d / 'sgd.pth')
    torch.save(b.state_dict(), d / 'adamw.pth')
    return [d / 'sgd.pth', d / 'adamw.pth']


@pytest.fixture(scope='module')
def paper_report(tmp_path_factory, ckpt_files):
    from bocb_mm.analysis.report import make_report
    out = tmp_path_factory.mktemp('paper_report')
    summary = make_report(CIFAR, out, checkpoints=ckpt_files)
    return out, summary


def write_long(path: Path, n_seeds: int = 3, extra_rows=()):
    """A small long-format sweep with paper optimizer names and several seeds."""
    rng = np.random.default_rng(0)
    rows = []
    for b, base in (('R-50', 76.0), ('Swin-T', 80.0), ('CF-12', 84.0)):
        for o, off in (('SGD-M', 1.0), ('AdamW', 2.0), ('LAMB', 2.5), ('LARS', -3.0),
                       ('AdaGrad', -10.0)):
            for s in range(n_seeds):
                rows.append({'backbone': b, 'optimizer': o, 'seed': s,
                             'top1': f'{base + off + rng.normal(0, 0.5):.2f}', 'status': 'done'})
    rows.extend(extra_rows)
    with open(path, 'w', newline='') as fh:
        w = csv.DictWriter(fh, fieldnames=['backbone', 'optimizer', 'seed', 'top1', 'status'])
        w.writeheader()
        w.writerows(rows)
    return rows


# ---------------------------------------------------------------------------------------------
# paper table

def test_paper_top4_sets(paper_analysis):
    table = read_wide(CIFAR)
    assert list(paper_analysis.matrix.columns) == list(table)
    for b, col in table.items():
        assert set(paper_analysis.top4(b)) == plain_top4(col), b
    # spot checks against the table by eye
    assert set(paper_analysis.top4('R-50')) == {'AdaBelief', 'NovoGrad', 'SGDP', 'SGD-M'}
    assert set(paper_analysis.top4('TNX-T')) == {'AdamW', 'Adan', 'LAMB', 'AdamP'}


def test_paper_range_drop_worst(paper_analysis):
    table = read_wide(CIFAR)
    for b, col in table.items():
        row = paper_analysis.backbones.loc[b]
        assert row['range_drop_worst'] == pytest.approx(plain_range_drop_worst(col), abs=1e-9)
        vals = sorted(col.values())[1:]
        assert row['mean_drop_worst'] == pytest.approx(statistics.fmean(vals))
        assert row['std_drop_worst'] == pytest.approx(statistics.pstdev(vals))
        worst = min(col, key=col.get)
        assert paper_analysis.backbones.at[b, 'worst_optimizer'] == worst


def test_paper_trivial_rule(paper_analysis):
    table = read_wide(CIFAR)
    for b, col in table.items():
        # linear interpolation
        q1, _, q3 = statistics.quantiles(col.values(), n=4, method='inclusive')
        fence = q1 - 1.5 * (q3 - q1)
        assert set(paper_analysis.trivial(b)) == {o for o, v in col.items() if v < fence}, b
    assert 'AdaGrad' in paper_analysis.trivial('AlexNet')
    assert paper_analysis.trivial('R-50') == []


def test_printed_rows_parsed_and_compared(paper_analysis):
    from bocb_mm.analysis import paper
    page = (PAPER / 'bocb_project_page.txt').read_text(encoding='utf-8')
    parsed = paper.parse_printed_stats(page)
    shipped = paper.load_printed_stats()
    assert list(parsed['backbone']) == list(shipped.index) == list(read_wide(CIFAR))
    stats = ['mean', 'std', 'range']
    assert np.allclose(parsed[stats].to_numpy(), shipped[stats].to_numpy())
    assert shipped.at['AlexNet', 'mean'] == 63.67 and shipped.at['CNX-T', 'std'] == 8.0
    assert shipped.at['URLK-T', 'range'] == 26
    cmp_ = paper_analysis.printed
    assert cmp_ is not None
    vals = sorted(read_wide(CIFAR)['DeiT-S'].values())[1:]
    assert cmp_.at['DeiT-S', 'mean_diff'] == pytest.approx(statistics.fmean(vals) - 70.82)
    assert cmp_['mean_diff'].abs().max() > 1.0  # not reproducible


def test_coupling_scores_paper(paper_analysis):
    from bocb_mm.optim.zoo import get_info
    table = read_wide(CIFAR)
    col = table['CNX-T']
    groups = {}
    for o, v in col.items():
        groups.setdefault(str(get_info(o).category), []).append(v)
    meds = [statistics.median(v) for v in groups.values()]
    assert paper_analysis.backbones.at['CNX-T', 'coupling'] == pytest.approx(max(meds) - min(meds))
    top = paper_analysis.backbones['coupling'].idxmax()
    assert top == 'CNX-T'
    gaps = [max(c.values()) - c['LAMB'] for c in table.values()]
    lamb = paper_analysis.optimizers.loc['LAMB']
    assert lamb['coupling'] == pytest.approx(statistics.pstdev(gaps))
    assert paper_analysis.optimizers.at['LAMB', 'mean_gap'] == pytest.approx(statistics.fmean(gaps))


# ---------------------------------------------------------------------------------------------
# figures and report (in-process)

def test_figures_are_pngs_of_expected_size(paper_report):
    from bocb_mm.analysis.figures import FIGURES, pixel_size
    out, _ = paper_report
    assert set(FIGURES) == set(EXPECTED_PX) | {'lr_sensitivity'}  # that one: tuned grids only
    for name, px in EXPECTED_PX.items():
        assert pixel_size(name) == px
        path = out / 'figures' / f'{name}.png'
        assert path.is_file(), name
        assert png_size(path) == px, name


def test_summary_content(paper_report):
    out, summary = paper_report
    on_disk = json.loads((out / 'summary.json').read_text())
    assert on_disk == summary
    table = read_wide(CIFAR)
    for b, col in table.items():
        s = summary['backbones'][b]
        assert set(s['top4']) == plain_top4(col)
        assert s['worst']['optimizer'] == min(col, key=col.get)
        assert s['drop_worst']['range'] == pytest.approx(plain_range_drop_worst(col), abs=1e-6)
        assert s['coupling']['score'] is not None
    assert set(summary['optimizers']) == set(next(iter(table.values())))
    for key in ('top_k', 'trivial', 'drop_worst', 'backbone_coupling', 'optimizer_coupling',
                'hparam_distance'):
        assert summary['rules'][key]
    assert summary['paper_printed_bottom_rows']['max_abs_diff']['mean'] > 1.0
    assert summary['confidence_intervals'] is None
    assert set(summary['weight_entropy']) == {'sgd', 'adamw'}
    assert summary['weight_entropy']['sgd']['n_layers'] == 3
    assert summary['hparam_robustness']['AdamW']['n_backbones'] == 16
    html = (out / 'report.html').read_text()
    assert html.count('data:image/png;base64,') == 6
    md = (out / 'report.md').read_text()
    for name in EXPECTED_PX:
        assert f'figures/{name}.png' in md
    assert '**80.53**' in md  # AdaBelief top-4 on R-50
    assert '45.79\u2020' in md  # AdaGrad trivial on AlexNet
    tex = (out / 'bocb_table.tex').read_text()
    assert '\\textbf{80.53}' in tex and '\\textcolor{gray}{45.79}' in tex


# ---------------------------------------------------------------------------------------------
# long format with seeds

def test_long_format_seeds_give_cis(tmp_path):
    from bocb_mm.analysis.report import make_report
    from scipy import stats as sps
    rows = write_long(tmp_path / 'runs.csv', extra_rows=[
        {'backbone': 'R-50', 'optimizer': 'SGD-M', 'seed': 9, 'top1': '', 'status': 'failed'},
        {'backbone': 'R-50', 'optimizer': 'LAMB', 'seed': 9, 'top1': '12.5', 'status': 'running'},
    ])
    summary = make_report(tmp_path / 'runs.csv', tmp_path / 'out', n_boot=300)
    assert summary['input']['format'] == 'long'
    assert summary['input']['seeds_per_cell'] == {'min': 3, 'max': 3}
    assert summary['input']['dropped_runs'] == {'status=failed': 1, 'status=running': 1}
    assert summary['confidence_intervals']['n_boot'] == 300
    for b, s in summary['backbones'].items():
        lo, hi = s['coupling']['ci']
        assert lo <= hi
        assert s['drop_worst_ci']['mean'][0] <= s['drop_worst']['mean'] + 1e-6
    for o, s in summary['optimizers'].items():
        lo, hi = s['coupling']['ci']
        assert lo <= hi
        assert s['generality_ci']['mean_rank'][0] <= s['generality']['mean_rank'] + 1e-9
    # per-cell t interval, computed independently
    with open(tmp_path / 'out' / 'bocb_table.csv', newline='') as fh:
        cells = {(r['optimizer'], r['backbone']): r for r in csv.DictReader(fh)}
    vals = [float(r['top1']) for r in rows
            if r['backbone'] == 'Swin-T' and r['optimizer'] == 'AdamW']
    m, s = statistics.fmean(vals), statistics.stdev(vals)
    half = sps.t.ppf(0.975, len(vals) - 1) * s / math.sqrt(len(vals))
    c = cells[('AdamW', 'Swin-T')]
    assert float(c['top1']) == pytest.approx(m, abs=1e-4)
    assert float(c['ci_low']) == pytest.approx(m - half, abs=1e-4)
    assert float(c['ci_high']) == pytest.approx(m + half, abs=1e-4)
    assert 0.0 <= float(c['top4_freq']) <= 1.0
    for name in ('performance_stability', 'optimizer_generality', 'coupling_scores'):
        assert png_size(tmp_path / 'out' / 'figures' / f'{name}.png') == EXPECTED_PX[name]
    # no lr / wd in a long input: no hyper-parameter figure
    assert not (tmp_path / 'out' / 'figures' / 'hparam_robustness.png').exists()


def test_single_seed_long_format_has_no_ci(tmp_path):
    from bocb_mm.analysis.core import analyze
    from bocb_mm.analysis.io import load_results
    write_long(tmp_path / 'runs.csv', n_seeds=1)
    an = analyze(load_results(tmp_path / 'runs.csv'))
    assert not an.has_ci and 'coupling_ci_low' not in an.backbones.columns


def test_sweep_collect_csv(tmp_path):
    """A CSV written with the sweep's own header (bocb_mm.sweep.collect.CSV_FIELDS)."""
    from bocb_mm.analysis.io import BocbInputError, load_results
    from bocb_mm.sweep.collect import CSV_FIELDS
    rows = []
    for ds, metric, scale in (('cifar100', 'accuracy/top1', 1.0), ('coco', 'coco/bbox_mAP', 0.01)):
        for b in ('R-50', 'Swin-T'):
            for i, o in enumerate(('SGD-M', 'AdamW', 'LAMB', 'AdaGrad')):
                rows.append({'backbone': b, 'optimizer': o, 'seed': 0, 'top1': (70 + i) * scale,
                             'last_top1': (69 + i) * scale, 'metric': metric, 'epochs': 200,
                             'wall_time': '', 'status': 'finished', 'dataset': ds,
                             'work_dir': f'work_dirs/{ds}/{b}/{o}'})
    rows.append({**rows[0], 'seed': 1, 'top1': '', 'last_top1': '', 'status': 'pending'})
    rows.append({**rows[1], 'seed': 1, 'top1': '', 'last_top1': '', 'status': 'failed'})
    p = tmp_path / 'sweep.csv'
    with open(p, 'w', newline='') as fh:
        w = csv.DictWriter(fh, fieldnames=CSV_FIELDS, extrasaction='ignore')
        w.writeheader()
        w.writerows(rows)
    with pytest.raises(BocbInputError, match='mix datasets'):
        load_results(p)
    res = load_results(p, dataset='cifar100')
    assert res.fmt == 'long' and len(res.runs) == 8
    assert res.dropped == {'status=failed': 1, 'status=pending': 1}
    coco = load_results(p, dataset='coco')
    assert coco.matrix().at['LAMB', 'R-50'] == pytest.approx(72.0)  # fractions -> points
    assert any('multiplied by 100' in n for n in coco.notes)


# ---------------------------------------------------------------------------------------------
# bad input

@pytest.mark.parametrize('text, match', [
    ('', 'empty'),
    ('   \n', 'empty'),
    ('backbone,optimizer,seed,top1\n', 'no data rows'),
    ('backbone,optimizer,top1\nR-50,AdamW,77.1\n', 'missing: seed'),
    ('backbone,optimizer,seed\nR-50,AdamW,0\n', 'missing: top1'),
    ('model,opt,acc\nR-50,AdamW,77.1\n', 'cannot tell the format'),
    ('backbone,optimizer,seed,top1\nR-50,AdamW,0,77.1\nR-50,LAMB,0,abc\n', "line 3: 'abc'"),
    ('backbone,optimizer,seed,top1\nR-50,AdamW,0,177.1\n', r'\[0, 100\]'),
    ('backbone,optimizer,seed,top1\nR-50,AdamW,0,77.1\nR-50,AdamW,0,77.3\n', 'duplicate runs'),
    ('backbone,optimizer,seed,top1\n,AdamW,0,77.1\n', 'empty backbone'),
    ('optimizer,R-50,Swin-T\nAdamW,77.1,80.2\nLAMB,x77,81.0\n', "row 'LAMB', column 'R-50'"),
    ('optimizer,R-50,R-50\nAdamW,77.1,80.2\n', 'duplicate columns'),
    ('optimizer,R-50\nAdamW,77.1\nAdamW,78.0\n', 'duplicate optimizer rows'),
    ('optimizer\nAdamW\n', 'no backbone columns'),
])
def test_bad_inputs(tmp_path, text, match):
    from bocb_mm.analysis.io import BocbInputError, load_results
    p = tmp_path / 'bad.csv'
    p.write_text(text)
    with pytest.raises(BocbInputError, match=match):
        load_results(p)


def test_missing_file(tmp_path):
    from bocb_mm.analysis.io import BocbInputError, load_results
    with pytest.raises(BocbInputError, match='not found'):
        load_results(tmp_path / 'nope.csv')


# ---------------------------------------------------------------------------------------------
# pieces

def test_hparam_distance_handles_zero_wd():
    import pandas as pd
    from bocb_mm.analysis.hparams import hparam_distance, log_mode
    hp = pd.DataFrame({'backbone': ['A', 'B', 'C', 'D'], 'optimizer': ['X'] * 4,
                       'lr': [1e-3, 1e-3, 1e-2, 1e-3], 'weight_decay': [0.0, 1e-8, 0.05, 0.0]})
    d = hparam_distance(hp).set_index('backbone')
    # 0 and 1e-8 both mean "no decay"
    assert d.at['A', 'lr_mode'] == 1e-3 and d.at['A', 'wd_mode'] == 1e-6
    assert d.at['A', 'distance'] == 0 and d.at['B', 'distance'] == 0
    assert d.at['C', 'distance'] == pytest.approx(1 + math.log10(0.05 / 1e-6))
    assert log_mode([1e-3, 1e-1, 1e-2]) == 1e-2  # tie: the medoid in log space


def test_paper_hparams_table_loads():
    from bocb_mm.analysis.hparams import hparam_distance, load_hparams
    d = hparam_distance(load_hparams(PAPER / 'cifar100_hparams.csv'))
    assert len(d) == 320 and (d['distance'] >= 0).all()


def test_entropy_functions(ckpt_files):
    import torch
    from bocb_mm.analysis.entropy import histogram_entropy, layer_entropy, load_state_dict
    assert histogram_entropy(np.zeros(10)) == 0.0
    assert histogram_entropy(np.arange(256 * 4), bins=256) == pytest.approx(8.0)
    sd = load_state_dict(ckpt_files[0])  # mmengine-style: weights under 'state_dict'
    assert '0.weight' in sd and 'meta' not in sd
    bare = {'state_dict': {'w': torch.ones(3, 3), 'b': torch.ones(3)}}
    ent = layer_entropy([ckpt_files[0], bare], labels=['a', 'b'])
    assert list(ent[ent['checkpoint'] == 'a']['layer']) == ['0.weight', '2.weight', '4.weight']
    assert list(ent[ent['checkpoint'] == 'b']['entropy']) == [0.0]


# ---------------------------------------------------------------------------------------------
# CLI

def test_cli_on_paper_table(tmp_path):
    out = tmp_path / 'cli'
    proc = subprocess.run([sys.executable, str(TOOL), str(CIFAR), '--out', str(out)], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert '[bocb_report] loaded' in proc.stdout and 'BOCB summary' in proc.stdout
    assert 'paper printed bottom rows vs recomputed' in proc.stdout
    for f in ('report.md', 'report.html', 'summary.json', 'bocb_table.md', 'bocb_table.tex',
              'bocb_table.csv', 'bocb_matrix.csv', 'backbone_scores.csv', 'optimizer_scores.csv',
              'paper_bottom_rows_vs_recomputed.csv', 'hparam_distance.csv'):
        assert (out / f).is_file() and (out / f).stat().st_size > 0, f
    for name in ('performance_stability', 'optimizer_generality', 'coupling_scores',
                 'hparam_robustness'):
        assert png_size(out / 'figures' / f'{name}.png') == EXPECTED_PX[name]
    summary = json.loads((out / 'summary.json').read_text())
    assert set(summary['backbones']['R-50']['top4']) == plain_top4(read_wide(CIFAR)['R-50'])


def test_cli_bad_input_exit_code(tmp_path):
    p = tmp_path / 'bad.csv'
    p.write_text('backbone,optimizer,top1\nR-50,AdamW,77\n')
    proc = subprocess.run([sys.executable, str(TOOL), str(p), '--out', str(tmp_path / 'o')],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2
    assert 'missing: seed' in proc.stderr


# ---------------------------------------------------------------------------------------------
# a plain scientific Python (no torch, no mmengine)

HIDE_STACK = '''
import sys


class NotInstalled:  # torch and mmengine as if not installed: finding them fails
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in ('torch', 'mmengine'):
            raise ModuleNotFoundError(f'No module named {name!r}', name=name)
        return None


sys.meta_path.insert(0, NotInstalled())
STACK = ('torch', 'mmengine', 'mmcv', 'mmpretrain', 'mmdet', 'mmpose')


def stack_loaded():
    return sorted(m for m, mod in sys.modules.items() if m.split('.')[0] in STACK and mod)
'''

ZOOS = HIDE_STACK + '''
from bocb_mm.models import zoo as backbone_zoo
from bocb_mm.optim import zoo as optimizer_zoo
assert 'torch' not in sys.modules
assert len(optimizer_zoo.list_optimizers()) == len(backbone_zoo.list_backbones()) == 20
assert str(optimizer_zoo.get_info('lion').category).startswith('(a)')
assert optimizer_zoo.study_hparams('AdamW')['R-50'] == (0.001, 0.05)
assert backbone_zoo.get_backbone_info('R-50').short_name == 'R-50'
print(stack_loaded())
'''

NO_STACK = HIDE_STACK + '''
import tempfile

import bocb_mm
import bocb_mm.analysis
from bocb_mm.analysis import paper
from bocb_mm.analysis.core import optimizer_categories
from bocb_mm.analysis.report import make_report
assert not bocb_mm.stack_installed()
assert optimizer_categories(['AdamW']) == {'AdamW': '(b) adaptive lr, momentum gradient'}
printed = paper.parse_printed_stats(paper.PROJECT_PAGE.read_text())
matrix = paper.load_paper_matrix(paper.CIFAR100_TOP1)
assert len(printed) and matrix.shape == (20, 20) and paper.is_paper_cifar100(matrix)
with tempfile.TemporaryDirectory() as out:
    summary = make_report(paper.CIFAR100_TOP1, out)
assert summary['optimizers']['LAMB']['category'] == '(b) adaptive lr, momentum gradient'
print(stack_loaded())
'''


def _run_without_stack(script: str) -> str:
    """Run a script in a Python where torch and mmengine cannot be found; return its stdout."""
    proc = subprocess.run([sys.executable, '-c', script], cwd=ROOT, capture_output=True,
                          text=True, timeout=300, env={**os.environ, 'MPLBACKEND': 'Agg'})
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout.strip()


def test_zoos_import_without_torch():
    """The optimizer and backbone zoos are pure Python: without torch and mmengine they import
    and answer, and nothing of the stack is loaded."""
    assert _run_without_stack(ZOOS) == '[]'


def test_analysis_imports_without_torch_and_mmengine():
    """With torch and mmengine unavailable, bocb_mm imports only its pure-Python parts: the
    analysis package, the paper tables and both zoos work, a report is written, and nothing of
    the stack loads."""
    assert _run_without_stack(NO_STACK) == '[]'


def test_installed_stack_is_loaded_and_registered_by_import_bocb_mm():
    """Where torch and mmengine are installed, ``import bocb_mm`` loads and registers the stack
    (what ``custom_imports=dict(imports=['bocb_mm'])`` relies on)."""
    import bocb_mm
    from bocb_mm import registry
    assert bocb_mm.stack_installed()
    assert 'Lion' in registry.OPTIMIZERS.module_dict
    assert 'BOCBOptimWrapperConstructor' in registry.OPTIM_WRAPPER_CONSTRUCTORS.module_dict
    assert 'MogaNet' in registry.MODELS.module_dict

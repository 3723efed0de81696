"""docs/walkthrough.md runs as written: its ```` ```bash walkthrough ```` blocks, verbatim, in
order, in one bash shell (``set -euo pipefail``), from a scratch folder holding links to this
clone's ``tools/``, ``configs/`` and ``bocb_mm/`` (the commands use repository-relative paths and
write under ``data/``, ``checkpoints/``, ``work_dirs/``). ``python`` is the interpreter running
the tests (its folder first on ``PATH``), one torch thread per process (shared CI cores).

Then the outcome: real pycocotools / xtcocotools metrics from ``tools/test.py``, the drawn
predictions of ``--show-dir``, the collected CSV labelled by the CIFAR-100 columns, the curves.
"""
from __future__ import annotations

import csv
import glob
import os
import os.path as osp
import re
import subprocess
import sys

from transfer_helpers import REPO

PAGE = osp.join(REPO, 'docs', 'walkthrough.md')
BLOCK = re.compile(r'^```bash walkthrough\n(.*?)^```', re.S | re.M)
LINKS = ('tools', 'configs', 'bocb_mm')
CLOCK = 'walkthrough-clock: step '


def walkthrough_blocks(path: str = PAGE) -> list[str]:
    """The marked command blocks of the page, in order."""
    with open(path, encoding='utf-8') as f:
        return BLOCK.findall(f.read())


def _env() -> dict:
    env = {k: v for k, v in os.environ.items()
           if k not in ('BOCB_PRETRAINED', 'BOCB_COCO_ROOT', 'PYTHONPATH')}
    env.update(PATH=osp.dirname(sys.executable) + os.pathsep + env.get('PATH', ''),
               OMP_NUM_THREADS='1', MKL_NUM_THREADS='1', MPLBACKEND='Agg')
    return env


def test_walkthrough_blocks_are_marked():
    blocks = walkthrough_blocks()
    assert len(blocks) == 6, 'docs/walkthrough.md: expected 6 ```bash walkthrough blocks'
    text = '\n'.join(blocks)
    for tool in ('prepare_cifar.py', 'prepare_coco.py', 'tools/train.py', 'bocb_to_transfer.py',
                 'tools/test.py', '--show-dir', 'bocb_sweep.py collect', 'plot_curves.py'):
        assert tool in text, tool


def test_walkthrough_runs_verbatim(tmp_path):
    for name in LINKS:
        (tmp_path / name).symlink_to(osp.join(REPO, name))
    # the blocks as they are, each followed by a line with the shell's clock
    script = 'set -euo pipefail\nset -x\n' + ''.join(
        f'{block}\necho "{CLOCK}{i + 1} $SECONDS"\n'
        for i, block in enumerate(walkthrough_blocks()))
    proc = subprocess.run(['bash', '-c', script], cwd=tmp_path, env=_env(), text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=1200)
    out = proc.stdout
    assert proc.returncode == 0, out[-6000:]
    clock = [0] + [int(t) for t in re.findall(rf'^{CLOCK}\d+ (\d+)$', out, re.M)]
    print('walkthrough, seconds per step:', [b - a for a, b in zip(clock, clock[1:])],
          f'total {clock[-1]} s')

    assert 'padded conv1.weight: (3, 3) -> (7, 7)' in out  # the converter
    assert out.count('Average Precision') >= 4  # pycocotools / xtcocotools, val and test
    work = tmp_path / 'work_dirs' / 'walkthrough'
    for task in ('det', 'pose'):  # --show-dir: the predictions drawn on the 2 val images
        images = glob.glob(str(work / f'test_{task}' / '*' / 'show' / '*.jpg'))
        assert len(images) == 2, (task, images)
    with open(work / 'results.csv', newline='') as f:
        rows = {r['backbone']: r for r in csv.DictReader(f)}
    assert set(rows) == {'det:R-50 (Adan CIFAR-100)', 'pose:R-50 (Adan CIFAR-100)'}
    assert rows['det:R-50 (Adan CIFAR-100)']['metric'] == 'coco/bbox_mAP'
    assert rows['pose:R-50 (Adan CIFAR-100)']['metric'] == 'coco/AP'
    for row in rows.values():
        assert row['optimizer'] in ('AdamW', 'Adam') and row['top1'] != '', row
    assert (work / 'curves.png').stat().st_size > 10_000

"""The main job: a mini-BOCB on real data, end to end, in about 10 minutes on 2 CPU cores.

    python tools/bocb_demo.py                     # 3 mini backbones x 20 optimizers, 6 epochs
    python tools/bocb_demo.py --backbones mini-resnet mini-vit --optimizers SGD-M AdamW LAMB \\
        --epochs 2 --seeds 0 1 --out work_dirs/my_demo

1. scikit-learn's handwritten digits (real images that ship with scikit-learn) are written in the
   CIFAR on-disk format (``bocb_mm/datasets/digits.py``);
2. one config per mini backbone x optimizer is written under ``OUT/configs``: the mini backbone's
   config (``configs/demo/``) plus the optimizer exactly as the shipped CIFAR-100 config of the
   paper backbone it stands for (mini-resnet -> R-50, mini-convnext -> CNX-T, mini-vit -> DeiT-S),
   i.e. the paper's per-pair learning rate and weight decay;
3. the sweep runs them through ``tools/train.py`` (the real mmengine Runner), N at a time,
   resuming where a previous call stopped;
4. the report (BOCB table, coupling scores, figures, summary.json) is written to ``OUT/report``.
"""
from __future__ import annotations

import argparse
import copy
import functools
import glob
import os
import os.path as osp
import signal
import sys
import time

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, REPO)

from mmengine.config import Config  # noqa: E402

import bocb_mm  # noqa: E402,F401
from bocb_mm.datasets.digits import write_digits_cifar  # noqa: E402
from bocb_mm.models import get_backbone_info  # noqa: E402
from bocb_mm.optim import get_info, list_optimizers  # noqa: E402
from bocb_mm.sweep import collect, plan_grid, run_local  # noqa: E402

# mini backbone -> (its config in configs/demo, the paper backbone whose optimizer settings it uses)
MINI_BACKBONES = {
    'mini-resnet': ('configs/demo/mini-resnet_digits.py', 'R-50'),
    'mini-convnext': ('configs/demo/mini-convnext_digits.py', 'CNX-T'),
    'mini-vit': ('configs/demo/mini-vit_digits.py', 'DeiT-S'),
}


@functools.lru_cache(maxsize=None)
def _shipped_optim_wrappers(paper_backbone: str) -> dict[str, tuple[dict, str]]:
    """optimizer -> (optim_wrapper, config path) of a paper backbone's shipped CIFAR-100 configs."""
    slug = get_backbone_info(paper_backbone).slug
    out = {}
    for path in sorted(glob.glob(osp.join(REPO, 'configs', 'cifar100', slug, '*.py'))):
        cfg = Config.fromfile(path)
        out[cfg.bocb['optimizer']] = (cfg.optim_wrapper.to_dict(), osp.relpath(path, REPO))
    return out


def paper_optim_wrapper(paper_backbone: str, optimizer: str) -> tuple[dict, str]:
    """The optim_wrapper of the shipped CIFAR-100 config of (paper backbone, optimizer)."""
    found = _shipped_optim_wrappers(paper_backbone)
    if optimizer not in found:
        raise FileNotFoundError(f'no shipped CIFAR-100 config for {paper_backbone} x {optimizer} '
                                'under configs/cifar100/ (run tools/gen_configs.py)')
    wrapper, path = found[optimizer]
    return copy.deepcopy(wrapper), path


def schedule(epochs: int) -> list[dict]:
    """One epoch of linear warm-up (when there is more than one), then cosine decay to zero."""
    cosine = dict(type='CosineAnnealingLR', by_epoch=True, begin=min(1, epochs - 1), end=epochs,
                  eta_min=0.0, convert_to_iter_based=True)
    if epochs == 1:
        return [cosine]
    return [dict(type='LinearLR', start_factor=0.1, by_epoch=True, begin=0, end=1,
                 convert_to_iter_based=True), cosine]


def write_leaf_config(out_dir: str, mini: str, optimizer: str, epochs: int) -> str:
    """One demo run's config: the mini backbone's config + the paper pair's optimizer."""
    base, paper_backbone = MINI_BACKBONES[mini]
    wrapper, source = paper_optim_wrapper(paper_backbone, optimizer)
    wrapper.pop('clip_grad', None)
    data_root = osp.join(out_dir, 'data')
    text = (f'# {mini} x {optimizer}: optimizer as in {source}\n'
            f'_base_ = [{osp.join(REPO, base)!r}]\n'
            f'bocb = dict(backbone={mini!r}, optimizer={optimizer!r}, dataset="digits", '
            f'input_size=32, stands_for={paper_backbone!r})\n'
            f'optim_wrapper = {wrapper!r}\n'
            f'data_root = {data_root!r}\n'
            f'train_dataloader = dict(dataset=dict(data_root={data_root!r}))\n'
            f'val_dataloader = dict(dataset=dict(data_root={data_root!r}))\n'
            f'test_dataloader = val_dataloader\n'
            f'max_epochs = {epochs}\n'
            f'train_cfg = dict(max_epochs={epochs}, val_interval={max(1, epochs // 3)})\n'
            f'param_scheduler = {schedule(epochs)!r}\n'
            f'default_hooks = dict(checkpoint=dict(interval={epochs}))\n')
    path = osp.join(out_dir, 'configs', f'{mini}_{optimizer.lower()}_digits.py')
    os.makedirs(osp.dirname(path), exist_ok=True)
    with open(path, 'w') as f:
        f.write(text)
    return path


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='mini-BOCB demo on real data (CPU, minutes)')
    parser.add_argument('--backbones', nargs='+', default=list(MINI_BACKBONES),
                        choices=list(MINI_BACKBONES))
    parser.add_argument('--optimizers', nargs='+', default=None,
                        help='paper optimizer names (default: all 20)')
    parser.add_argument('--seeds', type=int, nargs='+', default=[0])
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument('--jobs', type=int, default=2, help='trainings at a time')
    parser.add_argument('--out', default='work_dirs/bocb_demo')
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    start = time.time()
    optimizers = [get_info(o).name for o in (args.optimizers or list_optimizers())]
    out = osp.abspath(args.out)
    sizes = write_digits_cifar(osp.join(out, 'data'))
    print(f'[demo] digits written as CIFAR pickles: {sizes["train"]} train / {sizes["test"]} '
          f'test images, {sizes["classes"]} classes -> {out}/data', flush=True)
    configs = [write_leaf_config(out, mini, opt, args.epochs)
               for mini in args.backbones for opt in optimizers]
    runs = plan_grid(configs, osp.join(out, 'runs'), seeds=args.seeds)
    print(f'[demo] {len(args.backbones)} backbones x {len(optimizers)} optimizers x '
          f'{len(args.seeds)} seed(s) = {len(runs)} runs, {args.jobs} at a time', flush=True)
    records = run_local(runs, jobs=args.jobs)
    failed = [r for r in records if r['status'] == 'failed']
    for record in failed:
        print(f'[demo] FAILED {record["config"]}:\n{record.get("log_tail", "")}', file=sys.stderr)
    results = osp.join(out, 'results.csv')
    rows = collect(runs, results)
    print(f'[demo] results of {len(rows)} runs: {results}', flush=True)
    if len(failed) == len(runs):
        print('[demo] every run failed; no report (see the logs above)', file=sys.stderr)
        return 1

    from bocb_mm.analysis.report import make_report, short_summary
    checkpoints, labels = [], []
    for run in runs:  # weight-entropy ridge plot: the first backbone under 3 optimizers
        ckpt = osp.join(run.work_dir, f'epoch_{args.epochs}.pth')
        if run.backbone == args.backbones[0] and run.seed == args.seeds[0] and osp.isfile(ckpt) \
                and len(checkpoints) < 3:
            checkpoints.append(ckpt)
            labels.append(f'{run.backbone} {run.optimizer}')
    summary = make_report(results, osp.join(out, 'report'), checkpoints=checkpoints or None,
                          checkpoint_labels=labels or None,
                          log=lambda msg: print(f'[report] {msg}', flush=True))
    print(short_summary(summary))
    print(f'[demo] report: {osp.join(out, "report", "report.html")} '
          f'({(time.time() - start) / 60:.1f} min)')
    return 1 if failed else 0


if __name__ == '__main__':
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    sys.exit(main())

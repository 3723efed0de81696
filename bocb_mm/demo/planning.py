"""The demo's plan: its mini backbones, the protocol's settings, the pairs, and the config of
every trial (:class:`RunWriter`)."""
from __future__ import annotations

import argparse
import functools
import hashlib
import math
import os
import os.path as osp
from pathlib import Path

from bocb_mm.analysis.hparams import typical_hparams
from bocb_mm.optim import get_info
from bocb_mm.optim.zoo import recommended_hparams
from bocb_mm.optim.zoo import wrapper_cfg as zoo_wrapper_cfg
from bocb_mm.sweep.plan import Run, config_fingerprint
from bocb_mm.sweep.protocol import Pair, Stage, Trial, TuningProtocol
from bocb_mm.training import TrainOptions
from bocb_mm.utils.fileio import atomic_write

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

MINI_BACKBONES = {
    'mini-resnet': ('configs/demo/mini-resnet_digits.py', 'R-50'),
    'mini-convnext': ('configs/demo/mini-convnext_digits.py', 'CNX-T'),
    'mini-vit': ('configs/demo/mini-vit_digits.py', 'DeiT-S'),
}
"""Mini backbone -> (its config, relative to the repository; the paper backbone it stands for)."""

DEFAULTS = dict(lr_factors=(0.316, 1.0, 3.16, 10.0), epochs=10, halving_epochs=3, keep=2,
                final_seeds=(1, 2, 3), extend_edges=1, stall_top1=20.0)
"""The default protocol (the reasons for each value: ``docs/protocol.md``). ``stall_top1`` is
twice the chance rate of the 10 digit classes."""
QUICK = dict(lr_factors=(1.0, 3.16, 10.0), epochs=8, halving_epochs=2, keep=2,
             final_seeds=(1, 2, 3), extend_edges=1, stall_top1=20.0)
"""The ``--quick`` protocol: fewer lrs and epochs."""
QUICK_OPTIMIZERS = ('SGD-M', 'LION', 'AdamW', 'LAMB', 'AdaBelief', 'RMSProp')
"""The optimizers of ``--quick``."""


def build_protocol(args: argparse.Namespace) -> TuningProtocol:
    """The protocol from the defaults (or ``--quick``) and the command line."""
    chosen = dict(QUICK if args.quick else DEFAULTS)
    for key in chosen:
        value = getattr(args, key)
        if value is not None:
            chosen[key] = tuple(value) if isinstance(value, list) else value
    if (args.protocol == 'paper' or not chosen['halving_epochs'] or len(chosen['lr_factors']) < 2
            or chosen['halving_epochs'] >= chosen['epochs']):
        chosen['halving_epochs'] = None  # nothing to halve (the paper: no grid at all)
        chosen['extend_edges'] = 0
    chosen['keep'] = min(chosen['keep'], max(1, len(chosen['lr_factors']) - 1))
    return TuningProtocol(tune_seed=args.tune_seed, **chosen)


def make_pairs(backbones: list[str], optimizers: list[str], protocol: str) -> list[Pair]:
    """The pairs with their lr / weight decay: typical (``tuned``) or the CIFAR-100 configs'
    (``paper``: the paper's table, the post-paper suite's rule) of the backbone a mini backbone
    stands for."""
    pairs = []
    for mini in backbones:
        for opt in optimizers:
            lr, wd = typical_hparams(opt)
            if protocol == 'paper':
                lr, wd = recommended_hparams(opt)[MINI_BACKBONES[mini][1]]
            pairs.append(Pair(mini, opt, lr, wd))
    return pairs


DIGITS_BATCH = 100
"""The demo's batch size (``configs/demo/_base_/digits_8px_bs100.py``)."""


@functools.lru_cache(maxsize=None)
def _post_paper_rules() -> dict:
    from bocb_mm.configgen.tables import load_post_paper_hparams
    return load_post_paper_hparams()


#: torch's optimizers with a fused CPU kernel; the demo steps the other torch optimizers with
#: their multi-tensor (``foreach``) kernels. Both compute the for-loop's update (the default on
#: CPU) in fewer operations, which is most of an optimizer step on the mini backbones.
FUSED_ON_CPU = frozenset({'SGD', 'Adam', 'AdamW', 'Adagrad'})


def optimizer_args(optimizer: str, run_iters: int) -> dict:
    """The fixed arguments of an optimizer in the demo.

    The paper's 20 take their configs' (the zoo's defaults); torch's classes among them also
    their fused or multi-tensor kernel (:data:`FUSED_ON_CPU`). The post-paper suite takes its
    CIFAR-100 configs' (the table's run-length arguments taken as the demo run's ``run_iters``),
    and Kron runs its kernels uncompiled (short CPU runs: a compilation per parameter shape costs
    more than it saves).
    """
    info = get_info(optimizer)
    if info.is_torch:
        return {'fused' if info.class_name in FUSED_ON_CPU else 'foreach': True}
    if info.suite != 'post-paper':
        return {}
    from bocb_mm.configgen.fragments import post_paper_args
    args = post_paper_args(_post_paper_rules()[info.name], run_iters)
    if info.name == 'Kron':
        args['compile_kernels'] = False
    return args


def wrapper_cfg(optimizer: str, lr: float, weight_decay: float, run_iters: int) -> dict:
    """The optim_wrapper of a run, as the generated configs build it (from the zoo: the wrapper,
    the constructor Muon needs, :func:`optimizer_args`)."""
    return zoo_wrapper_cfg(optimizer, lr=lr, weight_decay=weight_decay,
                           **optimizer_args(optimizer, run_iters))


def warmup_only(optimizer: str) -> bool:
    """Whether the optimizer's configs keep only the warm-up of the schedule (Schedule-Free)."""
    info = get_info(optimizer)
    return info.suite == 'post-paper' and _post_paper_rules()[info.name].schedule == 'warmup-only'


def schedule(epochs: int, optimizer: str | None = None) -> list[dict]:
    """One epoch of linear warm-up (when there is more than one), then cosine decay to zero; for
    a :func:`warmup_only` optimizer the warm-up alone, then the constant lr."""
    warmup = dict(type='LinearLR', start_factor=0.1, by_epoch=True, begin=0, end=1,
                  convert_to_iter_based=True)
    if optimizer is not None and warmup_only(optimizer):
        return [warmup] if epochs > 1 else []
    cosine = dict(type='CosineAnnealingLR', by_epoch=True, begin=min(1, epochs - 1), end=epochs,
                  eta_min=0.0, convert_to_iter_based=True)
    if epochs == 1:
        return [cosine]
    return [warmup, cosine]


def slug(optimizer: str) -> str:
    """File-name spelling of an optimizer (``SGD-M`` -> ``sgd-m``)."""
    return optimizer.lower().replace(' ', '')


class RunWriter:
    """Writes the config of every trial of the demo and returns its :class:`Run`.

    Args:
        out: The demo's output folder (configs under ``configs/``, runs under ``runs/``).
        roots: ``tune_root`` and ``final_root`` of the digits (and their ``digest``, which
            goes into every config).
        epochs: The full budget.
        halving_epochs: Budget of the first rung, or None.
        keep_checkpoints: Final runs ``(backbone, optimizer, seed)`` that save their weights.
        resumable: Whether first-rung runs save a checkpoint (survivors resume from it).
    """

    def __init__(self, out: str, roots: dict, epochs: int, halving_epochs: int | None,
                 keep_checkpoints: set[tuple[str, str, int]], resumable: bool = True) -> None:
        self.out = out
        self.roots = roots
        self.epochs = epochs
        self.halving_epochs = halving_epochs
        self.keep_checkpoints = keep_checkpoints
        self.resumable = resumable
        self._base_hashes: dict[str, str] = {}

    def config_hash(self, trial: Trial, text: str) -> str:
        """The fingerprint of a trial's config (its run's record carries it): the leaf's text
        with the merged content of its mini backbone's config, loaded once per backbone
        (loading every leaf would cost about 60 times as much)."""
        base = MINI_BACKBONES[trial.pair.backbone][0]
        if base not in self._base_hashes:
            self._base_hashes[base] = config_fingerprint(osp.join(REPO, base))
        return hashlib.sha256(f'{self._base_hashes[base]}\n{text}'.encode()).hexdigest()[:16]

    def work_dir(self, trial: Trial) -> str:
        """``runs/<backbone>/<optimizer>/lr<lr>/<stage>[/seed<seed>]``."""
        parts = [self.out, 'runs', trial.pair.backbone, slug(trial.pair.optimizer),
                 f'lr{trial.lr:.3g}', trial.stage.value]
        if trial.stage == Stage.FINAL:
            parts.append(f'seed{trial.seed}')
        return osp.join(*parts)

    def checkpoint_path(self, trial: Trial) -> str:
        """The checkpoint a ``rung0`` trial leaves (a ``rung1`` trial resumes from it)."""
        return osp.join(self.work_dir(trial), f'epoch_{self.halving_epochs}.pth')

    def _epochs(self, trial: Trial) -> int:
        return self.halving_epochs if trial.stage == Stage.RUNG0 else self.epochs

    def _saves(self, trial: Trial) -> bool:
        key = (trial.pair.backbone, trial.pair.optimizer, trial.seed)
        if trial.stage == Stage.RUNG0:
            return self.resumable
        return trial.stage == Stage.FINAL and key in self.keep_checkpoints

    def config_text(self, trial: Trial) -> str:
        """A leaf config: the mini backbone's config + the trial's optimizer, data and budget."""
        pair = trial.pair
        stage = trial.stage.value
        base, stands_for = MINI_BACKBONES[pair.backbone]
        final = trial.stage == Stage.FINAL
        root = self.roots['final_root' if final else 'tune_root']
        epochs = self._epochs(trial)
        split = ('train: fit split, evaluated once on the test split' if final
                 else 'train: fit split, evaluated on the validation split')
        bocb = dict(backbone=pair.backbone, optimizer=pair.optimizer, dataset='digits',
                    input_size=8, stands_for=stands_for, stage=stage, lr=trial.lr,
                    weight_decay=pair.weight_decay, typical_lr=pair.typical_lr)
        if self.roots.get('digest'):  # new data, new config: a run on other data is not reused
            bocb['data_digest'] = self.roots['digest']
        checkpoint = (dict(interval=epochs, save_last=True) if self._saves(trial)
                      else dict(interval=-1, save_last=False))
        split_size = self.roots['train' if final else 'fit']
        run_iters = self.epochs * math.ceil(split_size / DIGITS_BATCH)
        wrapper = wrapper_cfg(pair.optimizer, trial.lr, pair.weight_decay, run_iters)
        return (f'# {pair.backbone} x {pair.optimizer}, lr {trial.lr:.3g}, stage {stage} '
                f'({epochs} of a {self.epochs}-epoch schedule; {split})\n'
                f'_base_ = [{osp.join(REPO, base)!r}]\n'
                f'bocb = {bocb!r}\n'
                f'optim_wrapper = {wrapper!r}\n'
                f'data_root = {root!r}\n'
                f'train_dataloader = dict(dataset=dict(data_root={root!r}))\n'
                f'val_dataloader = dict(dataset=dict(data_root={root!r}))\n'
                f'test_dataloader = val_dataloader\n'
                f'max_epochs = {epochs}\n'
                f'train_cfg = dict(max_epochs={epochs}, val_interval={epochs})\n'
                f'param_scheduler = {schedule(self.epochs, pair.optimizer)!r}\n'
                f'default_hooks = dict(checkpoint={checkpoint!r})\n')

    def config_path(self, trial: Trial) -> str:
        """``configs/<backbone>_<optimizer>_lr<lr>_<stage>[_seed<seed>].py`` (one file per seed
        for the finals: only some of them keep their weights)."""
        name = (f'{trial.pair.backbone}_{slug(trial.pair.optimizer)}_lr{trial.lr:.3g}_'
                f'{trial.stage.value}')
        if trial.stage == Stage.FINAL:
            name += f'_seed{trial.seed}'
        return osp.join(self.out, 'configs', f'{name}.py')

    def __call__(self, trial: Trial) -> Run:
        """Write the trial's config; its run resumes ``rung0``'s checkpoint for ``rung1``."""
        path = self.config_path(trial)
        os.makedirs(osp.dirname(path), exist_ok=True)
        text = self.config_text(trial)
        if not osp.isfile(path) or Path(path).read_text() != text:
            atomic_write(path, lambda tmp: Path(tmp).write_text(text))
        options = TrainOptions()
        if trial.resume_from is not None:  # starts from that checkpoint (its own, once it has one)
            options = TrainOptions(resume=self.checkpoint_path(trial.resume_from))
        return Run(config=path, seed=trial.seed, work_dir=self.work_dir(trial),
                   backbone=trial.pair.backbone, optimizer=trial.pair.optimizer,
                   dataset='digits', options=options, config_hash=self.config_hash(trial, text))

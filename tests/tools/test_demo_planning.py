"""The demo's plan by import: the pairs a protocol plans, the protocol settings from the command
line, each trial's config (loaded with mmengine) and run, and the protocol data it reports."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from mmengine.config import Config

from bocb_mm.analysis.hparams import typical_hparams
from bocb_mm.datasets.digits import write_digits_splits
from bocb_mm.demo.cli import parse_args
from bocb_mm.demo.planning import (DEFAULTS, MINI_BACKBONES, RunWriter, build_protocol,
                                   make_pairs)
from bocb_mm.demo.run import describe, timing
from bocb_mm.optim.config_check import check_optim_cfg
from bocb_mm.optim.zoo import recommended_hparams, study_hparams
from bocb_mm.sweep.protocol import Pair, Stage, Trial


@pytest.fixture(scope='module')
def sizes(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The digits' splits, written once."""
    return write_digits_splits(str(tmp_path_factory.mktemp('digits')))


def test_pairs_take_the_typical_or_the_papers_hyper_parameters() -> None:
    tuned = make_pairs(['mini-resnet', 'mini-vit'], ['SGD-M', 'AdamW'], 'tuned')
    assert [(p.backbone, p.optimizer) for p in tuned] == [
        ('mini-resnet', 'SGD-M'), ('mini-resnet', 'AdamW'), ('mini-vit', 'SGD-M'),
        ('mini-vit', 'AdamW')]
    assert all((p.typical_lr, p.weight_decay) == typical_hparams(p.optimizer) for p in tuned)
    paper = make_pairs(['mini-vit'], ['LARS', 'Muon'], 'paper')
    stands_for = MINI_BACKBONES['mini-vit'][1]
    assert [(p.typical_lr, p.weight_decay) for p in paper] == [
        study_hparams('LARS')[stands_for], recommended_hparams('Muon')[stands_for]]
    post_paper = make_pairs(['mini-vit'], ['Kron'], 'tuned')  # the rule's values, typical
    assert (post_paper[0].typical_lr, post_paper[0].weight_decay) == typical_hparams('Kron')


def test_protocol_settings_from_the_command_line(tmp_path: Path) -> None:
    default = build_protocol(parse_args(['--out', str(tmp_path)]))
    assert default.lr_factors == DEFAULTS['lr_factors'] and default.halving_epochs == 3
    assert default.keep == 2 and default.selection_stage is Stage.RUNG1  # chosen at full budget
    custom = build_protocol(parse_args(['--out', str(tmp_path), '--lr-factors', '1', '3.16',
                                        '--keep', '5', '--final-seeds', '4', '5']))
    assert custom.keep == 1 and custom.final_seeds == (4, 5)  # keep clamped below the grid
    paper = build_protocol(parse_args(['--out', str(tmp_path), '--protocol', 'paper']))
    assert paper.halving_epochs is None and paper.extend_edges == 0
    quick = build_protocol(parse_args(['--out', str(tmp_path), '--quick']))
    assert quick.epochs == 8 and len(quick.lr_factors) == 3


def test_a_trials_config_loads_with_its_lr_seed_and_budget(tmp_path: Path, sizes: dict) -> None:
    writer = RunWriter(str(tmp_path), sizes, epochs=6, halving_epochs=2,
                       keep_checkpoints={('mini-resnet', 'AdamW', 1)})
    pair = Pair('mini-resnet', 'AdamW', 1e-3, 0.05)
    rung0 = Trial(pair, 3.16e-3, 'rung0', 0)
    run = writer(rung0)
    assert run.seed == 0 and run.work_dir.endswith('runs/mini-resnet/adamw/lr0.00316/rung0')
    cfg = Config.fromfile(run.config)
    assert cfg.optim_wrapper.optimizer.type == 'AdamW'
    assert cfg.optim_wrapper.optimizer.lr == 3.16e-3
    assert cfg.optim_wrapper.optimizer.weight_decay == 0.05
    assert cfg.train_cfg.max_epochs == 2 and cfg.bocb.stage == 'rung0'
    assert cfg.train_dataloader.dataset.data_root == sizes['tune_root']
    assert cfg.default_hooks.checkpoint.interval == 2  # survivors resume from it
    assert cfg.model.backbone.type == 'ResNet_CIFAR'  # the mini backbone's config underneath
    final = writer(Trial(pair, 3.16e-3, Stage.FINAL, 1))
    cfg = Config.fromfile(final.config)
    assert final.seed == 1 and final.config.endswith('_final_seed1.py')
    assert cfg.train_cfg.max_epochs == 6 and cfg.bocb.stage == 'final'
    assert cfg.val_dataloader.dataset.data_root == sizes['final_root']
    assert cfg.default_hooks.checkpoint.save_last  # in keep_checkpoints
    other_seed = Config.fromfile(writer(Trial(pair, 3.16e-3, Stage.FINAL, 2)).config)
    assert other_seed.default_hooks.checkpoint.interval == -1


def test_a_rung1_run_resumes_its_rung0_checkpoint(tmp_path: Path, sizes: dict) -> None:
    writer = RunWriter(str(tmp_path), sizes, epochs=6, halving_epochs=2, keep_checkpoints=set())
    pair = Pair('mini-vit', 'SGD-M', 0.1, 1e-4)
    rung0 = Trial(pair, 0.1, Stage.RUNG0, 0)
    run = writer(Trial(pair, 0.1, Stage.RUNG1, 0, resume_from=rung0))
    assert run.options.resume == str(Path(writer(rung0).work_dir) / 'epoch_2.pth')
    assert Config.fromfile(run.config).train_cfg.max_epochs == 6
    assert writer(rung0).options.resume is None



def _loaded_trial(writer: RunWriter, optimizer: str, stage: Stage = Stage.FINAL) -> Config:
    lr, wd = typical_hparams(optimizer)
    return Config.fromfile(writer(Trial(Pair('mini-vit', optimizer, lr, wd), lr, stage, 1)).config)


def test_post_paper_trials_take_their_configs_arguments(tmp_path: Path, sizes: dict) -> None:
    """Muon's wrapper names the constructor that routes it; Schedule-Free keeps the warm-up
    only (the config check refuses a decaying schedule); AdEMAMix warms its alpha / beta3 up
    over the whole run (the full budget, also in the first rung); Kron's kernels run eagerly."""
    writer = RunWriter(str(tmp_path), sizes, epochs=6, halving_epochs=2, keep_checkpoints=set())
    muon = _loaded_trial(writer, 'Muon')
    assert muon.optim_wrapper.constructor == 'bocb_mm.BOCBOptimWrapperConstructor'
    assert muon.optim_wrapper.optimizer.type == 'bocb_mm.Muon'
    schedule_free = _loaded_trial(writer, 'Schedule-Free AdamW')
    assert [s['type'] for s in schedule_free.param_scheduler] == ['LinearLR']
    check_optim_cfg(schedule_free.to_dict())
    iters_per_epoch = -(-sizes['fit'] // 100)
    for stage in (Stage.RUNG0, Stage.RUNG1):
        ademamix = _loaded_trial(writer, 'AdEMAMix', stage).optim_wrapper.optimizer
        assert ademamix.t_alpha_beta3 == 6 * iters_per_epoch and ademamix.alpha == 8.0
    assert _loaded_trial(writer, 'Kron').optim_wrapper.optimizer.compile_kernels is False
    adamw = _loaded_trial(writer, 'AdamW')  # torch's: its fused kernel, the same update
    assert adamw.optim_wrapper.optimizer == dict(type='AdamW', lr=adamw.bocb.lr,
                                                 weight_decay=0.05, fused=True)
    assert [s['type'] for s in adamw.param_scheduler] == ['LinearLR', 'CosineAnnealingLR']
    assert _loaded_trial(writer, 'RAdam').optim_wrapper.optimizer.foreach is True
    assert set(_loaded_trial(writer, 'LAMB').optim_wrapper.optimizer) == {
        'type', 'lr', 'weight_decay'}  # ours: the zoo's config, as in the CIFAR-100 configs

def test_an_unchanged_config_is_not_written_again(tmp_path: Path, sizes: dict) -> None:
    writer = RunWriter(str(tmp_path), sizes, epochs=2, halving_epochs=None, keep_checkpoints=set())
    trial = Trial(Pair('mini-convnext', 'LAMB', 5e-3, 0.02), 5e-3, Stage.FINAL, 3)
    first = writer(trial)
    before = Path(first.config).stat().st_mtime_ns
    again = writer(trial)
    assert again == first and Path(again.config).stat().st_mtime_ns == before
    assert first.config_hash and len(first.config_hash) == 16


def _strings(value: object) -> list[str]:
    """Every string in a JSON-like value."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, (list, tuple)):
        return [s for item in value for s in _strings(item)]
    return []


def test_reported_protocol_is_data(tmp_path: Path, sizes: dict) -> None:
    """summary.json's protocol holds parameters and counts; the prose is in docs/protocol.md."""
    protocol = build_protocol(parse_args(['--out', str(tmp_path)]))
    tuned = describe('tuned', protocol, sizes)
    assert tuned['name'] == 'tuned' and tuned['docs'] == 'docs/protocol.md'
    assert tuned['data'] == dict(dataset='digits', image_size=8, train=1438, fit=1151,
                                 val=sizes['val'], test=359)
    assert tuned['successive_halving'] == dict(first_rung_epochs=3, keep=2, of=4)
    assert tuned['selection'] == dict(stage='rung1', epochs=10)
    assert tuned['stall_top1'] == 20.0 and tuned['extend_edges'] == 1
    assert tuned['cost_per_pair'] == dict(trainings=9, extra_first_rung_trainings_at_most=1,
                                          epochs=56.0)  # 4 x 3 + 2 x 7 + 3 x 10
    paper = describe('paper', build_protocol(parse_args(['--out', str(tmp_path), '--protocol',
                                                         'paper'])), sizes)
    assert paper['hparams'] == 'bocb_mm.optim.zoo.recommended_hparams' and paper['final_seeds'] == [
        1, 2, 3]
    assert json.loads(json.dumps(tuned)) == tuned
    assert max(len(s) for s in _strings([tuned, paper])) < 50  # names, not sentences
    assert timing([dict(overhead=0.5), dict(overhead=1.5), dict()], 120.0, 'inprocess', 2) == dict(
        executor='inprocess', workers=2, runs_trained=3, wall_time_min=2.0,
        overhead_median_s=1.0, overhead_p90_s=0.5)

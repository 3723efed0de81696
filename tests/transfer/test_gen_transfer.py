"""bocb_mm.configgen.transfer (tools/gen_transfer_configs.py): the generated configs are current,
cover the paper's COCO table, and follow the stated lr / weight-decay rule; the checkpoint
converter's tensor logic."""
from __future__ import annotations

import csv
import os.path as osp

import pytest
import torch
from transfer_helpers import REPO

from bocb_mm.cli import bocb_to_transfer as conv
from bocb_mm.configgen import transfer as gen_transfer
from bocb_mm.optim import zoo as optim_zoo


@pytest.fixture(scope='module')
def entries():
    return gen_transfer.entries()


def test_generated_configs_are_current(entries):
    problems = gen_transfer.check(entries, verbose=True)
    assert not problems, '\n'.join(problems[:5]) + '\nrun  python tools/gen_transfer_configs.py'


def test_grid_covers_the_paper_table(entries):
    columns = gen_transfer.load_columns()
    paper = gen_transfer.paper_columns()
    assert paper, 'coco_transfer.csv not found'
    in_paper = [c.column for c in columns if c.in_paper]
    assert sorted(in_paper) == sorted(paper)
    assert {c.column for c in columns if not c.in_paper} == {
        'det:VGG (SGD)', *CIFAR_COLUMNS}
    n_det = sum(c.task == 'det' for c in columns)
    n_pose = sum(c.task == 'pose' for c in columns)
    assert (n_det, n_pose) == (10, 4)
    assert len(entries) == 20 * (n_det + n_pose) == 280
    assert len({e.path for e, _ in entries}) == 280
    for col in columns:
        opts = [e.optimizer for e, _ in entries if e.column == col.column]
        assert opts == optim_zoo.list_optimizers()


CIFAR_COLUMNS = ('det:R-50 (Adan CIFAR-100)', 'pose:R-50 (Adan CIFAR-100)')


def test_cifar_pretrained_columns_carry_their_own_identity(entries, tmp_path):
    """A backbone from a bocb_mm CIFAR-100 run has its own columns: the sweep labels their runs
    by that column (not by an ImageNet one) and the configs say where the backbone came from."""
    from bocb_mm.sweep import plan_grid
    cols = {c.column: c for c in gen_transfer.load_columns()}
    for name in CIFAR_COLUMNS:
        col = cols[name]
        assert (col.backbone, col.pretrain, col.pretrain_dataset) == (
            'R-50', 'adan-cifar100', 'CIFAR-100')
        assert 'bocb_to_transfer.py' in col.checkpoint_source
        text = dict((e.path, t) for e, t in entries)[gen_transfer.config_path(col, 'AdamW')]
        assert "pretrain='adan-cifar100'" in text and "pretrain_dataset='CIFAR-100'" in text
        assert 'pre-trained on CIFAR-100 by Adan' in text
    configs = [osp.join(REPO, gen_transfer.config_path(cols[c], 'SGD-M'))
               for c in ('det:R-50 (Adan)', 'det:R-50 (Adan CIFAR-100)')]
    runs = plan_grid(configs, str(tmp_path))
    assert [r.backbone for r in runs] == ['det:R-50 (Adan)', 'det:R-50 (Adan CIFAR-100)']


def test_every_config_names_its_identity_and_checkpoint(entries):
    """Each config names its identity; its column's base (its only ``_base_``) names the
    checkpoint, ``$BOCB_PRETRAINED`` first."""
    bases = {e.column: (e.path, text) for e, text in gen_transfer.column_bases()}
    for entry, text in entries:
        assert text.startswith(gen_transfer.HEADER)
        assert f"optimizer='{entry.optimizer}'" in text and f"task='{entry.task}'" in text
        assert "dataset='coco'" in text and f"pretrain='{entry.pretrain}'" in text
        base_path, base_text = bases[entry.column]
        assert f"_base_ = ['{osp.relpath(base_path, osp.dirname(entry.path))}']" in text
        assert f"'{{{{$BOCB_PRETRAINED:{entry.checkpoint}}}}}'" in base_text
        assert "prefix='backbone.'" in base_text


@pytest.mark.parametrize('task,backbone,optimizer,lr,wd', [
    # the anchors: the libraries' published values
    ('det', 'R-50', 'SGD-M', '0.01', '1e-4'),
    ('det', 'Swin-T', 'AdamW', '1e-4', '5e-2'),
    ('det', 'CNX-T', 'SGD-M', '0.01', '1e-4'),
    ('pose', 'R-50', 'Adam', '5e-4', '0'),
    ('pose', 'Swin-T', 'Adam', '5e-4', '0'),
    # the rule: anchor lr x CIFAR-100 lr ratio on the same backbone, CIFAR-100 weight decay
    ('det', 'R-50', 'LAMB', '5e-4', '5e-2'),     # 1e-4 x 5e-3 / 1e-3
    ('det', 'Swin-T', 'LARS', '0.16', '1e-4'),   # 0.01 x 0.8 / 5e-2
    ('det', 'Swin-T', 'LION', '2.5e-5', '1e-8'),  # 1e-4 x 5e-5 / 2e-4
    ('det', 'VGG-13', 'SGDP', '0.01', '1e-4'),   # 0.01 x 3e-1 / 3e-1
    ('pose', 'R-50', 'SGD-M', '0.1', '1e-4'),    # 5e-4 x 1e-1 / 5e-4
    ('pose', 'VGG-13', 'AdamW', '5e-4', '5e-2'),  # 5e-4 x 5e-4 / 5e-4
])
def test_lr_rule(task, backbone, optimizer, lr, wd):
    got_lr, got_wd, source = gen_transfer.transfer_hparams(task, backbone, optimizer)
    assert float(got_lr) == pytest.approx(float(lr)) and float(got_wd) == float(wd), source


def test_anchor_families():
    for name in optim_zoo.list_optimizers():
        assert gen_transfer.anchor_of('pose', name) == 'Adam'
        want = 'SGD-M' if name in ('SGD-M', 'SGDP', 'LARS') else 'AdamW'
        assert gen_transfer.anchor_of('det', name) == want


def test_adapters_match_the_zoo_channels():
    """FPN / head input widths come from the backbone zoo; R-50 keeps the bases' widths, which
    must be the zoo's too."""
    from mmengine.config import Config
    chans = gen_transfer.stage_channels('R-50')
    det = Config.fromfile(osp.join(REPO, 'configs', gen_transfer.TASK_BASES['det']))
    pose = Config.fromfile(osp.join(REPO, 'configs', gen_transfer.TASK_BASES['pose']))
    assert list(det.model.neck.in_channels) == [chans[i] for i in det.model.backbone.out_indices]
    assert pose.model.head.in_channels == chans[3]
    for col in gen_transfer.load_columns():
        model = gen_transfer.adapter_cfg(col)
        if 'neck' in model:
            idx = model['backbone']['out_indices']
            assert model['neck']['in_channels'] == [
                gen_transfer.stage_channels(col.backbone)[i] for i in idx]
        if 'head' in model:
            last = model['backbone']['out_indices'][-1]
            assert model['head']['in_channels'] == gen_transfer.stage_channels(col.backbone)[last]


def test_docs_carry_the_current_lr_tables(entries):
    with open(osp.join(REPO, 'docs', 'transfer.md'), encoding='utf-8') as f:
        docs = f.read()
    assert gen_transfer.markdown(entries).strip() in docs, (
        'docs/transfer.md: paste the output of  python tools/gen_transfer_configs.py --markdown')


def test_transfer_csv_checkpoints_are_urls_or_local_paths():
    with open(gen_transfer.TRANSFER_CSV, newline='') as f:
        for row in csv.DictReader(f):
            ckpt = row['checkpoint']
            assert ckpt.startswith('https://download.openmmlab.com/') or \
                ckpt.startswith('checkpoints/pretrained/'), ckpt


def test_sophia_detection_loss_is_the_focal_loss():
    """The Sophia RetinaNet configs swap mmdet's FocalLoss for FocalCustomLoss (pure torch, so
    that the Hessian refresh can back-propagate twice on GPU): the same loss and scores."""
    from mmdet.models.losses import FocalCustomLoss, FocalLoss
    torch.manual_seed(0)
    pred = torch.randn(50, 80, dtype=torch.float64)
    labels = torch.randint(0, 81, (50,))  # 80: background
    weight = torch.rand(50, dtype=torch.float64)
    a = FocalLoss()(pred, labels, weight, avg_factor=7.0)
    b = FocalCustomLoss(num_classes=80)(pred, labels, weight, avg_factor=7.0)
    torch.testing.assert_close(a, b)
    torch.testing.assert_close(FocalCustomLoss(num_classes=80).get_activation(pred),
                               pred.sigmoid())
    for entry, text in gen_transfer.entries():
        sophia = entry.task == 'det' and entry.optimizer == 'Sophia' and \
            'Sophia' in optim_zoo.get_info('Sophia').wrapper
        assert ("type='FocalCustomLoss', num_classes=80" in text) == sophia, entry.path


# ----------------------------------------------------------------------------------------------
# converter (tensor logic; the full path runs in test_transfer_train.py)
# ----------------------------------------------------------------------------------------------
def test_pad_kernel_keeps_the_filter_centred():
    w = torch.randn(4, 3, 3, 3)
    out = conv.pad_kernel(w, torch.Size([4, 3, 7, 7]))
    assert out.shape == (4, 3, 7, 7)
    border = out.clone()
    border[:, :, 2:5, 2:5] = 0
    assert torch.equal(out[:, :, 2:5, 2:5], w) and not border.any()
    x = torch.randn(1, 3, 9, 9)
    a = torch.nn.functional.conv2d(x, w, padding=1)
    b = torch.nn.functional.conv2d(x, out, padding=3)
    torch.testing.assert_close(a, b)
    assert conv.pad_kernel(w, torch.Size([5, 3, 7, 7])) is None  # other widths
    assert conv.pad_kernel(w, torch.Size([4, 3, 2, 2])) is None  # smaller target


def test_extract_and_adapt():
    src = {'backbone.conv1.weight': torch.ones(2, 3, 3, 3), 'backbone.fc.weight': torch.ones(1),
           'backbone.bn.weight': torch.ones(5), 'head.fc.weight': torch.ones(3)}
    state = conv.extract_backbone(src)
    assert list(state) == ['backbone.conv1.weight', 'backbone.fc.weight', 'backbone.bn.weight']
    target = {'conv1.weight': torch.zeros(2, 3, 7, 7), 'bn.weight': torch.zeros(4),
              'bn.num_batches_tracked': torch.zeros(()), 'other.weight': torch.zeros(1)}
    out, report = conv.adapt_to(state, target)
    assert list(out) == ['backbone.conv1.weight'] and out['backbone.conv1.weight'].shape[-1] == 7
    assert set(report['dropped']) == {'backbone.fc.weight', 'backbone.bn.weight'}
    assert report['missing'] == ['bn.weight', 'other.weight']
    timm = conv.extract_backbone({'conv1.weight': torch.ones(1), 'fc.bias': torch.ones(1)}, '')
    assert list(timm) == ['backbone.conv1.weight', 'backbone.fc.bias']
    with pytest.raises(ValueError, match='src-prefix'):
        conv.extract_backbone({'model.x': torch.ones(1)})

"""A pre-trained checkpoint that does not fit the transfer model's backbone stops the run before
training (mmengine would load it with ``strict=False``: an unconverted CIFAR ResNet-50's 3x3
``conv1`` would stay randomly initialised with one log line to show for it); a missing one names
the converter; tensors a fitting checkpoint lacks are listed in a warning."""
from __future__ import annotations

import os.path as osp

import pytest
import torch
from mmengine.config import Config
from transfer_helpers import transfer_config

from bocb_mm.cli import bocb_to_transfer as conv
from bocb_mm.utils.data_check import (CheckpointMismatchError, DataNotFoundError,
                                      PretrainedFitWarning, check_data_roots)

CIFAR_DET = 'det:R-50 (Adan CIFAR-100)'


@pytest.fixture(scope='module')
def cifar_r50(tmp_path_factory) -> str:
    """A bocb_mm CIFAR-100 ResNet-50 checkpoint as tools/train.py writes it (ImageClassifier:
    backbone.*, head.*), from the real mmpretrain ResNet_CIFAR; weights untrained."""
    from mmpretrain.models import LinearClsHead, ResNet_CIFAR
    torch.manual_seed(0)
    state = {f'backbone.{k}': v for k, v in ResNet_CIFAR(depth=50).state_dict().items()}
    state.update({f'head.{k}': v for k, v in
                  LinearClsHead(num_classes=100, in_channels=2048).state_dict().items()})
    path = str(tmp_path_factory.mktemp('cifar_r50') / 'epoch_1.pth')
    torch.save({'state_dict': state, 'meta': {}}, path)
    return path


def _config(checkpoint: str, column: str = CIFAR_DET) -> Config:
    cfg = Config.fromfile(transfer_config(column, 'AdamW'))
    cfg.model.backbone.init_cfg.checkpoint = checkpoint
    return cfg


def test_unconverted_cifar_checkpoint_is_refused(cifar_r50):
    with pytest.raises(CheckpointMismatchError) as err:
        check_data_roots(_config(cifar_r50), loaders=())
    msg = str(err.value)
    assert 'conv1.weight: checkpoint (64, 3, 3, 3) vs model (64, 3, 7, 7)' in msg, msg
    assert 'tools/model_converters/bocb_to_transfer.py' in msg and '--config' in msg


def test_converted_checkpoint_fits_and_gaps_are_listed(cifar_r50, tmp_path):
    config = transfer_config(CIFAR_DET, 'AdamW')
    out = str(tmp_path / 'r50.pth')
    conv.convert(cifar_r50, out, config=config, verbose=False)
    check_data_roots(_config(out), loaders=())  # fits: no error
    # the TopDown column's ResNet-50 takes the same converted backbone
    check_data_roots(_config(out, 'pose:R-50 (Adan CIFAR-100)'), loaders=())
    # a checkpoint without layer4: loads (most of the backbone fits), with a warning naming it
    state = torch.load(out, map_location='cpu')['state_dict']
    partial = {k: v for k, v in state.items() if not k.startswith('backbone.layer4.')}
    torch.save({'state_dict': partial}, str(tmp_path / 'partial.pth'))
    with pytest.warns(PretrainedFitWarning, match=r'NOT LOADED.*layer4\.0\.conv1\.weight'):
        check_data_roots(_config(str(tmp_path / 'partial.pth')), loaders=())


def test_missing_checkpoint_points_to_the_converter(tmp_path):
    with pytest.raises(DataNotFoundError) as err:
        check_data_roots(_config(str(tmp_path / 'none.pth')), loaders=())
    msg = str(err.value)
    assert 'pre-trained checkpoint not found' in msg and 'BOCB_PRETRAINED' in msg
    assert 'bocb_to_transfer.py' in msg and osp.basename(transfer_config(CIFAR_DET, 'AdamW')) \
        in msg

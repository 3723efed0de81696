"""Backbones that no installed library provides, and the zoo of the 20 paper backbones.

Importing this package registers the ``bocb_mm`` backbones (MogaNet, UniRepLKNet, TransNeXt,
MetaFormer and the CIFAR-stem ConvNeXt/DenseNet) and exposes the backbone zoo. Without torch and
mmengine (:func:`bocb_mm.stack.stack_installed`) only the zoo (:mod:`.zoo`, pure Python) is
imported.
"""
from ..stack import stack_installed
from .zoo import BackboneInfo, classifier_cfg, get_backbone_info, list_backbones

__all__ = ['BackboneInfo', 'classifier_cfg', 'get_backbone_info', 'list_backbones']

if stack_installed():
    from . import backbones  # noqa: F401  (registers the backbones)
    from . import data_preprocessor  # noqa: F401  (GPUAugDataPreprocessor)
    from .backbones import ConvNeXt, DenseNet, MetaFormer, MogaNet, TransNeXt, UniRepLKNet
    from .data_preprocessor import GPUAugDataPreprocessor
    __all__ += ['ConvNeXt', 'DenseNet', 'MetaFormer', 'MogaNet', 'TransNeXt', 'UniRepLKNet',
                'GPUAugDataPreprocessor']

"""Backbones that no installed library provides, registered in the ``bocb_mm`` scope.

Importing this package registers ``bocb_mm.MogaNet``, ``bocb_mm.UniRepLKNet``,
``bocb_mm.TransNeXt``, ``bocb_mm.MetaFormer`` and the CIFAR-stem variants of mmpretrain's
``ConvNeXt`` and ``DenseNet`` (``bocb_mm.ConvNeXt`` / ``bocb_mm.DenseNet``, argument
``cifar_stem``).
"""
from .cifar_stem import ConvNeXt, DenseNet
from .metaformer import MetaFormer
from .moganet import MogaNet
from .transnext import TransNeXt
from .unireplknet import UniRepLKNet

__all__ = ['ConvNeXt', 'DenseNet', 'MetaFormer', 'MogaNet', 'TransNeXt', 'UniRepLKNet']

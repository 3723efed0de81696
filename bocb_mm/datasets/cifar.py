"""CIFAR-100 in the official on-disk format, without the pinned checksums of the official files.

mmpretrain's ``CIFAR100`` checks, on every load, the MD5 sums of ``cifar-100-python/{train,test}``
against the official files' sums, which are class attributes (``train_list``, ``test_list``); when
they differ it raises (``download=False``) or downloads the official archive over the folder
(``download=True``). No argument turns the check off, so a data set in the same format that is not
the official one (the tiny sets of the tests and demo, a re-split, a corrected relabelling) cannot
be read by it. :class:`UnverifiedCIFAR100` is that class with the checksums set to ``None`` (which
mmpretrain's own ``_check_integrity`` treats as "only check that the file exists") and
``download=False`` by default; loading, parsing, class names and everything else are
mmpretrain's. The shipped configs keep mmpretrain's ``CIFAR100`` (checked) for the real data.
"""
from __future__ import annotations

from mmpretrain.datasets import CIFAR100

from bocb_mm.registry import DATASETS


@DATASETS.register_module()
class UnverifiedCIFAR100(CIFAR100):
    """mmpretrain ``CIFAR100`` that reads any set in the official format (no MD5 pinning).

    Config: ``dict(type='bocb_mm.UnverifiedCIFAR100', data_root=..., split='train')``.
    """

    train_list = [[name, None] for name, _ in CIFAR100.train_list]
    test_list = [[name, None] for name, _ in CIFAR100.test_list]
    meta = {**CIFAR100.meta, 'md5': None}

    def __init__(self, *args, download: bool = False, **kwargs):
        super().__init__(*args, download=download, **kwargs)

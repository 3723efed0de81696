"""bocb_mm optimizers and the optimizer zoo of the BOCB study (arXiv 2410.06373).

Importing this package registers the 11 optimizers the study needs beyond torch's in the
``bocb_mm`` scope of mmengine's ``OPTIMIZERS`` registry (config ``type='bocb_mm.<Class>'``);
:mod:`bocb_mm.optim.zoo` lists all 20 optimizers of the paper with their metadata and configs.
It also registers the post-paper extension suite (Muon, Kron, MARS, ADOPT, SOAP, AdEMAMix,
Schedule-Free AdamW, Cautious AdamW: the classes of timm, pytorch_optimizer and schedulefree),
listed apart by ``list_optimizers(suite='post-paper')`` (:mod:`bocb_mm.optim.extensions`).
Without torch and mmengine (:func:`bocb_mm.stack.stack_installed`) only the zoo (pure Python) is
imported.
"""
from ..stack import stack_installed
from .zoo import (Category, OptimizerInfo, UnknownOptimizerError, get_info, list_optimizers,
                  optimizer_cfg, resolve_name, study_hparams)

__all__ = ['Category', 'OptimizerInfo', 'UnknownOptimizerError', 'list_optimizers', 'get_info',
           'optimizer_cfg', 'resolve_name', 'study_hparams']

if stack_installed():
    from .adabelief import AdaBelief
    from .adabound import AdaBound
    from .adafactor import Adafactor
    from .adamp import AdamP
    from .adan import Adan
    from .lamb import LAMB
    from .lars import LARS
    from .lion import Lion
    from .novograd import NovoGrad
    from .sgdp import SGDP
    from .sophia import SophiaG
    __all__ += ['SGDP', 'Lion', 'LAMB', 'AdamP', 'Adan', 'AdaBound', 'LARS', 'Adafactor',
                'AdaBelief', 'NovoGrad', 'SophiaG']
    from . import extensions  # noqa: F401  (registers the post-paper extension suite)

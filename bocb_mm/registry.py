"""bocb_mm registries: children of mmengine's root registries under the scope ``bocb_mm``.

Because each registry is a child of mmengine's root, a config of any scope (mmpretrain, mmdet,
mmpose, or none) reaches these classes as ``type='bocb_mm.Name'`` once ``bocb_mm`` is imported,
e.g. through ``custom_imports=dict(imports=['bocb_mm'], allow_failed_imports=False)``.

Each registry's ``locations`` names the module that registers its classes (checked by a test).
bocb_mm registers no metric: the study's metrics are mmpretrain's, mmdet's and mmpose's own.
"""
from mmengine.registry import DATASETS as MMENGINE_DATASETS
from mmengine.registry import HOOKS as MMENGINE_HOOKS
from mmengine.registry import MODELS as MMENGINE_MODELS
from mmengine.registry import OPTIM_WRAPPER_CONSTRUCTORS as MMENGINE_OPTIM_WRAPPER_CONSTRUCTORS
from mmengine.registry import OPTIM_WRAPPERS as MMENGINE_OPTIM_WRAPPERS
from mmengine.registry import OPTIMIZERS as MMENGINE_OPTIMIZERS
from mmengine.registry import TRANSFORMS as MMENGINE_TRANSFORMS
from mmengine.registry import Registry

SCOPE = 'bocb_mm'

OPTIMIZERS = Registry('optimizer', parent=MMENGINE_OPTIMIZERS, scope=SCOPE,
                      locations=['bocb_mm.optim'])
OPTIM_WRAPPERS = Registry('optim_wrapper', parent=MMENGINE_OPTIM_WRAPPERS, scope=SCOPE,
                          locations=['bocb_mm.engine'])
OPTIM_WRAPPER_CONSTRUCTORS = Registry('optimizer wrapper constructor',
                                      parent=MMENGINE_OPTIM_WRAPPER_CONSTRUCTORS, scope=SCOPE,
                                      locations=['bocb_mm.engine'])
HOOKS = Registry('hook', parent=MMENGINE_HOOKS, scope=SCOPE, locations=['bocb_mm.engine'])
MODELS = Registry('model', parent=MMENGINE_MODELS, scope=SCOPE, locations=['bocb_mm.models'])
DATASETS = Registry('dataset', parent=MMENGINE_DATASETS, scope=SCOPE,
                    locations=['bocb_mm.datasets'])
TRANSFORMS = Registry('transform', parent=MMENGINE_TRANSFORMS, scope=SCOPE,
                      locations=['bocb_mm.datasets'])

__all__ = ['SCOPE', 'OPTIMIZERS', 'OPTIM_WRAPPERS', 'OPTIM_WRAPPER_CONSTRUCTORS', 'HOOKS', 'MODELS',
           'DATASETS', 'TRANSFORMS']

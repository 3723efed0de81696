"""The GPU data path: the CIFAR recipes' per-image CPU transforms, batched on the device.

Laid out as torchvision's ``transforms.v2``:

* :mod:`.functional`: the kernels, deterministic operations on a batch given per-image
  parameters (crop with padding, flip, the cv2 and Pillow resizes, the RandAugment ops,
  erasing);
* :mod:`.transforms`: the batched transforms (``BatchRandomCrop`` ...), built from the CPU
  transforms' arguments, which draw the parameters per image and call the kernels;
  :data:`BATCH_OPS` maps the CPU transform names to them;
* :mod:`.pipeline`: :class:`BatchPipeline`, a list of CPU transform dicts run batched, as
  :class:`bocb_mm.models.GPUAugDataPreprocessor` runs it;
* :mod:`.config`: :func:`use_gpu_data_path`, which rewrites a loaded config so that its loaders
  hand out raw uint8 images and the preprocessor runs the pipelines (``--gpu-data``).
"""
from .config import use_gpu_data_path
from .functional import affine_cv2, crop_with_padding, cv2_resize, pil_resize, randaug_op
from .pipeline import BatchPipeline
from .transforms import (BATCH_OPS, BatchRandAugment, BatchRandomCrop, BatchRandomErasing,
                         BatchRandomFlip, BatchRandomResizedCrop, BatchResize)

__all__ = ['BatchPipeline', 'BatchRandomCrop', 'BatchRandomFlip', 'BatchResize',
           'BatchRandomResizedCrop', 'BatchRandAugment', 'BatchRandomErasing', 'BATCH_OPS',
           'use_gpu_data_path', 'crop_with_padding', 'pil_resize', 'cv2_resize', 'affine_cv2',
           'randaug_op']

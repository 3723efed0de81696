"""The one visible place for fixes to the installed OpenMMLab stack.

bocb_mm runs on torch >= 2.6 and numpy 2 with mmengine 0.10.7 / mmcv 2.1.0, which predate
both. Each fix below says what breaks without it; none edits an installed file, and each is
applied once, when ``bocb_mm`` is imported (``apply_all``).

1. Safe checkpoint loading. Since torch 2.6 ``torch.load`` defaults to ``weights_only=True``, and
   mmengine calls it without the argument. A Runner checkpoint holds, besides tensors, the message
   hub (``HistoryBuffer`` objects with numpy arrays and scalars), so loading it for ``resume`` or
   ``init_cfg=dict(type='Pretrained')`` fails with "Weights only load failed". We keep
   weights-only loading and allow-list exactly the types those checkpoints contain; a checkpoint
   whose pickle names any other global (``os.system``, ``subprocess.Popen``, ...) is still refused.
2. numpy 2: ``mmcv.image.adjust_hue`` computes ``np.uint8(hue_factor * 255)``, which raises
   ``OverflowError`` for a negative shift under numpy 2 (numpy 1 wrapped it modulo 256). Any hue
   jitter (mmpretrain ``ColorJitter``) reaches it; we route it through an equivalent that wraps
   explicitly.
3. Distributed training without CUDA (``tools/dist_train.sh`` and ``tools/slurm_train.sh`` on
   CPU): mmengine 0.10.7's ``_init_dist_pytorch`` and ``_init_dist_slurm`` always call
   ``torch.cuda.set_device`` ("Found no NVIDIA driver"), and ``Runner.wrap_model`` always passes
   ``device_ids=[LOCAL_RANK]`` to DDP, which DDP rejects for CPU modules. On a machine without
   an accelerator we skip the former (the slurm launcher's variables come from
   :func:`slurm_rendezvous`), join with gloo where the config asks for NCCL, and pass
   ``device_ids=None``; with CUDA nothing changes.
4. mmpretrain 1.2's ``RandomCrop`` documents ``padding_mode`` but pads ``padding`` with
   ``pad_val`` whatever it says, so the CIFAR recipes' reflect-padded crop (torchvision's and the
   official BOCB release's) silently became zero padding; we make ``padding_mode`` apply.
"""
from __future__ import annotations

import functools
import os
import subprocess
from typing import Any, Callable

import numpy as np
import torch

_APPLIED = False


# --------------------------------------------------------------------------------------------
# 1. weights-only torch.load for mmengine / mmpretrain / mmdet / mmpose checkpoints
# --------------------------------------------------------------------------------------------
def _history_buffer_getattr(obj: Any, name: str) -> Any:
    """Restricted stand-in for ``builtins.getattr`` inside weights-only unpickling.

    mmengine pickles ``HistoryBuffer._statistics_methods`` (``{'min': HistoryBuffer.min, ...}``)
    as ``getattr(HistoryBuffer, 'min')``. Only that shape is resolved: a public method of
    ``HistoryBuffer`` looked up on the class itself.
    """
    from mmengine.logging.history_buffer import HistoryBuffer
    if obj is HistoryBuffer and not name.startswith('_') and callable(getattr(obj, name, None)):
        return getattr(obj, name)
    raise torch.serialization.pickle.UnpicklingError(
        f'Refusing getattr({obj!r}, {name!r}) in a weights-only checkpoint: bocb_mm only allows '
        'HistoryBuffer statistics methods')


def _numpy_globals() -> list[Any]:
    """numpy objects that a pickled ``ndarray``/scalar refers to, under numpy 1 and 2 names."""
    multiarray = np._core.multiarray if hasattr(np, '_core') else np.core.multiarray
    out: list[Any] = [np.ndarray, np.dtype, multiarray._reconstruct, multiarray.scalar]
    # numpy-1-era checkpoints spell the module 'numpy.core.multiarray'
    out += [(multiarray._reconstruct, 'numpy.core.multiarray._reconstruct'),
            (multiarray.scalar, 'numpy.core.multiarray.scalar')]
    # dtype classes (numpy >= 1.25 pickles e.g. numpy.dtypes.Float64DType)
    out += sorted({type(np.dtype(c)) for c in np.typecodes['All'] if c not in 'MmV'} |
                  {type(np.dtype('V8'))}, key=str)
    return out


def allow_checkpoint_globals() -> None:
    """Allow-list, for weights-only ``torch.load``, what OpenMMLab checkpoints contain."""
    from mmengine.logging.history_buffer import HistoryBuffer
    from mmengine.logging.message_hub import MessageHub
    import codecs
    torch.serialization.add_safe_globals([
        HistoryBuffer,
        MessageHub,
        (_history_buffer_getattr, 'builtins.getattr'),
        (_history_buffer_getattr, '__builtin__.getattr'),
        codecs.encode,  # numpy pickles raw bytes as codecs.encode(str, 'latin1')
        *_numpy_globals(),
    ])


# --------------------------------------------------------------------------------------------
# 2. numpy 2 guard for mmcv.adjust_hue
# --------------------------------------------------------------------------------------------
def _hue_shift(hue_factor: float) -> np.uint8:
    """The uint8 hue shift numpy 1 produced for ``hue_factor`` (wrapping modulo 256)."""
    return np.uint8(int(hue_factor * 255) % 256)


def _patch_adjust_hue() -> None:
    import mmcv
    import mmcv.image
    import mmcv.image.photometric as photometric
    original: Callable = photometric.adjust_hue
    if getattr(original, '_bocb_numpy2_guard', False):
        return

    @functools.wraps(original)
    def adjust_hue(img: np.ndarray, hue_factor: float, backend: str | None = None) -> np.ndarray:
        if hue_factor >= 0:
            return original(img, hue_factor, backend=backend)
        if not -0.5 <= hue_factor:
            raise ValueError(f'hue_factor:{hue_factor} is not in [-0.5, 0.5].')
        # Same as mmcv, with the uint8 shift wrapped explicitly (as numpy 1 did implicitly).
        if (backend or mmcv.image.io.imread_backend) == 'pillow':
            from PIL import Image
            h, s, v = Image.fromarray(img[..., ::-1], mode='RGB').convert('HSV').split()
            np_h = np.array(h, dtype=np.uint8)
            with np.errstate(over='ignore'):
                np_h += _hue_shift(hue_factor)
            rgb = Image.merge('HSV', (Image.fromarray(np_h, 'L'), s, v)).convert('RGB')
            return np.array(rgb, dtype=img.dtype)[..., ::-1]
        import cv2
        hsv = cv2.cvtColor(img.astype(np.uint8), cv2.COLOR_BGR2HSV_FULL)
        with np.errstate(over='ignore'):
            hsv[..., 0] += _hue_shift(hue_factor)
        return cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR_FULL).astype(img.dtype)

    adjust_hue._bocb_numpy2_guard = True  # type: ignore[attr-defined]
    for module in (mmcv, mmcv.image, photometric):
        module.adjust_hue = adjust_hue


# --------------------------------------------------------------------------------------------
# 3. distributed training on CPU (gloo)
# --------------------------------------------------------------------------------------------
def _has_accelerator() -> bool:
    """Whether mmengine's launchers find a device to bind each process to."""
    from mmengine.device import (is_cuda_available, is_mlu_available, is_musa_available,
                                 is_npu_available)
    return (is_cuda_available() or is_mlu_available() or is_npu_available()
            or is_musa_available())


def _cpu_backend(backend: str) -> str:
    """The process group backend on CPU: NCCL (the configs' default) needs GPUs, gloo not."""
    return 'gloo' if backend == 'nccl' else backend


def slurm_rendezvous(port: int | None = None) -> None:
    """Set torch.distributed's rendezvous variables from the ``SLURM_*`` ones of an srun task.

    As mmengine's slurm launcher does: ``MASTER_ADDR`` is the first host of the step's node
    list (unless set), ``MASTER_PORT`` is ``port``, else the one set, else 29500; ``RANK``,
    ``WORLD_SIZE`` and ``LOCAL_RANK`` are ``SLURM_PROCID``, ``SLURM_NTASKS`` and
    ``SLURM_LOCALID``.
    """
    nodes = os.environ.get('SLURM_STEP_NODELIST') or os.environ['SLURM_NODELIST']
    if 'MASTER_ADDR' not in os.environ:
        hosts = subprocess.run(['scontrol', 'show', 'hostnames', nodes], check=True,
                               capture_output=True, text=True).stdout.split()
        os.environ['MASTER_ADDR'] = hosts[0]
    if port is not None:
        os.environ['MASTER_PORT'] = str(port)
    os.environ.setdefault('MASTER_PORT', '29500')
    os.environ['RANK'] = os.environ['SLURM_PROCID']
    os.environ['WORLD_SIZE'] = os.environ['SLURM_NTASKS']
    os.environ['LOCAL_RANK'] = os.environ.get('SLURM_LOCALID', '0')


def _patch_cpu_distributed() -> None:
    import mmengine.dist.utils as dist_utils
    from mmengine.runner import Runner
    if getattr(dist_utils._init_dist_pytorch, '_bocb_cpu_guard', False):
        return
    init_dist_pytorch: Callable = dist_utils._init_dist_pytorch
    init_dist_slurm: Callable = dist_utils._init_dist_slurm
    wrap_model: Callable = Runner.wrap_model

    @functools.wraps(init_dist_pytorch)
    def _init_dist_pytorch(backend: str, init_backend: str = 'torch', **kwargs: Any) -> None:
        if _has_accelerator() or init_backend != 'torch':
            return init_dist_pytorch(backend, init_backend=init_backend, **kwargs)
        torch.distributed.init_process_group(backend=_cpu_backend(backend), **kwargs)

    @functools.wraps(init_dist_slurm)
    def _init_dist_slurm(backend: str, port: int | None = None, init_backend: str = 'torch',
                         **kwargs: Any) -> None:
        if _has_accelerator() or init_backend != 'torch':
            return init_dist_slurm(backend, port=port, init_backend=init_backend, **kwargs)
        slurm_rendezvous(port)
        torch.distributed.init_process_group(backend=_cpu_backend(backend), **kwargs)

    @functools.wraps(wrap_model)
    def _wrap_model(self: Runner, model_wrapper_cfg: dict | None, model: torch.nn.Module):
        from mmengine.device import get_device
        if self.distributed and model_wrapper_cfg is None and get_device() == 'cpu':
            model_wrapper_cfg = dict(
                type='MMDistributedDataParallel', device_ids=None, broadcast_buffers=False,
                find_unused_parameters=self.cfg.get('find_unused_parameters', False))
        return wrap_model(self, model_wrapper_cfg, model)

    _init_dist_pytorch._bocb_cpu_guard = True  # type: ignore[attr-defined]
    dist_utils._init_dist_pytorch = _init_dist_pytorch
    dist_utils._init_dist_slurm = _init_dist_slurm
    Runner.wrap_model = _wrap_model


# --------------------------------------------------------------------------------------------
# 4. mmpretrain RandomCrop: `padding_mode` applies to `padding`
# --------------------------------------------------------------------------------------------
def _patch_random_crop_padding_mode() -> None:
    """mmpretrain 1.2's ``RandomCrop`` documents ``padding_mode`` as the type of padding, but pads
    ``padding`` with ``pad_val`` whatever it says (only ``pad_if_needed`` reads it), so a config
    asking for torchvision's reflect-padded CIFAR crop silently gets zeros. Pad first with the
    requested mode, then let the original transform crop; ``'constant'`` is unchanged."""
    import mmcv
    from mmpretrain.datasets.transforms import RandomCrop
    original: Callable = RandomCrop.transform
    if getattr(original, '_bocb_padding_mode', False):
        return

    @functools.wraps(original)
    def transform(self: RandomCrop, results: dict) -> dict:
        if self.padding is None or self.padding_mode == 'constant':
            return original(self, results)
        results['img'] = mmcv.impad(results['img'], padding=self.padding, pad_val=self.pad_val,
                                    padding_mode=self.padding_mode)
        padding, self.padding = self.padding, None
        try:
            return original(self, results)
        finally:
            self.padding = padding

    transform._bocb_padding_mode = True  # type: ignore[attr-defined]
    RandomCrop.transform = transform


def apply_all() -> None:
    """Apply every fix once (idempotent)."""
    global _APPLIED
    if _APPLIED:
        return
    allow_checkpoint_globals()
    _patch_cpu_distributed()
    try:
        _patch_adjust_hue()
        _patch_random_crop_padding_mode()
    except ImportError:  # mmcv / mmpretrain are optional for the optimizers-only use of bocb_mm
        pass
    _APPLIED = True


apply_all()

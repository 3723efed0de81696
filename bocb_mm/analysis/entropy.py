"""Layer-wise weight entropy of checkpoints (the paper's "model parameter patterns").

For every weight tensor with at least two dimensions (conv / linear kernels; biases, norm
parameters and buffers are skipped) the values are binned into ``bins`` equal-width bins between
the tensor's min and max, and the Shannon entropy of the bin frequencies is reported in bits
(between 0 and ``log2(bins)``; higher = more spread-out, less concentrated weights).
"""
from __future__ import annotations

import pickle
from pathlib import Path
from typing import Mapping, Sequence, Union

import numpy as np
import pandas as pd

DEFAULT_BINS = 256

CheckpointLike = Union[str, Path, Mapping]  # a runtime alias: Union keeps Python 3.9


def load_state_dict(path: str | Path) -> dict[str, 'object']:
    """Load a checkpoint's weights with ``torch.load(..., weights_only=True)``.

    mmengine checkpoints keep the weights under ``'state_dict'`` (also accepted: ``'model'``).
    Their other entries (message hub with numpy arrays) load because importing ``bocb_mm``
    allow-lists exactly those types (:mod:`bocb_mm.compat`).

    Args:
        path: The ``.pth`` file.

    Returns:
        Name -> tensor.

    Raises:
        FileNotFoundError: If the file does not exist.
        ValueError: If the file holds no tensors or cannot be loaded safely.
    """
    import torch
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f'checkpoint not found: {path}')
    try:
        ckpt = torch.load(path, map_location='cpu', weights_only=True)
    except pickle.UnpicklingError as err:
        raise ValueError(f'{path}: cannot be loaded with weights_only=True: {err}') from err
    return extract_state_dict(ckpt, str(path))


def extract_state_dict(ckpt: Mapping, name: str = 'checkpoint') -> dict[str, 'object']:
    """Pick the tensors out of a loaded checkpoint or state dict.

    Args:
        ckpt: A state dict, or a dict with ``'state_dict'`` / ``'model'``.
        name: For the error message.

    Returns:
        Name -> tensor.

    Raises:
        ValueError: If there are no tensors.
    """
    import torch
    if not isinstance(ckpt, Mapping):
        raise ValueError(f'{name}: expected a dict, got {type(ckpt).__name__}')
    for key in ('state_dict', 'model'):
        if isinstance(ckpt.get(key), Mapping):
            ckpt = ckpt[key]
            break
    sd = {k: v for k, v in ckpt.items() if isinstance(v, torch.Tensor)}
    if not sd:
        raise ValueError(f'{name}: no tensors found')
    return sd


def load_checkpoints(checkpoints: Sequence[CheckpointLike], labels: Sequence[str] | None = None,
                     ) -> list[tuple[str, dict[str, 'object']]]:
    """Load checkpoints (paths or dicts) into named state dicts.

    Args:
        checkpoints: Paths to ``.pth`` files, state dicts or mmengine-style dicts.
        labels: One name per checkpoint (default: file stem, or ``ckpt<i>`` for dicts).

    Returns:
        ``(name, state dict)`` pairs.

    Raises:
        ValueError: If ``labels`` does not match ``checkpoints`` or a checkpoint has no tensors.
    """
    if labels is not None and len(labels) != len(checkpoints):
        raise ValueError(f'{len(labels)} labels for {len(checkpoints)} checkpoints')
    out = []
    for i, ck in enumerate(checkpoints):
        if isinstance(ck, (str, Path)):
            sd = load_state_dict(ck)
            name = labels[i] if labels else Path(ck).stem
        else:
            sd = extract_state_dict(ck, f'checkpoint {i}')
            name = labels[i] if labels else f'ckpt{i}'
        out.append((str(name), sd))
    return out


def histogram_entropy(values: np.ndarray, bins: int = DEFAULT_BINS) -> float:
    """Shannon entropy (bits) of the equal-width histogram of the values.

    Args:
        values: Any numbers.
        bins: Number of bins between min and max.

    Returns:
        The entropy; 0 for constant values.
    """
    v = np.asarray(values, dtype=np.float64).ravel()
    v = v[np.isfinite(v)]
    if v.size == 0 or v.min() == v.max():
        return 0.0
    counts, _ = np.histogram(v, bins=bins)
    p = counts[counts > 0] / v.size
    return float(-(p * np.log2(p)).sum())


def weight_layers(sd: Mapping, min_dim: int = 2) -> list[tuple[str, np.ndarray]]:
    """The weight tensors that count as layers, in state-dict order.

    Args:
        sd: Name -> tensor.
        min_dim: Minimum number of dimensions.

    Returns:
        ``(name, float64 array)`` pairs.
    """
    out = []
    for k, t in sd.items():
        if getattr(t, 'ndim', 0) >= min_dim and t.is_floating_point():
            out.append((k, t.detach().to('cpu').double().numpy()))
    return out


def layer_entropy(checkpoints: Sequence[CheckpointLike], labels: Sequence[str] | None = None,
                  bins: int = DEFAULT_BINS) -> pd.DataFrame:
    """Per-layer weight entropy of each checkpoint.

    Args:
        checkpoints: Paths to ``.pth`` files or state dicts (or mmengine-style dicts).
        labels: One name per checkpoint (default: file stem or ``ckpt<i>``).
        bins: Histogram bins.

    Returns:
        Rows ``checkpoint, layer, depth, n_params, std, entropy`` (depth = layer index).
    """
    rows = []
    for name, sd in load_checkpoints(checkpoints, labels):
        for depth, (layer, w) in enumerate(weight_layers(sd)):
            rows.append({'checkpoint': name, 'layer': layer, 'depth': depth, 'n_params': w.size,
                         'std': float(w.std()), 'entropy': histogram_entropy(w, bins)})
    cols = ['checkpoint', 'layer', 'depth', 'n_params', 'std', 'entropy']
    return pd.DataFrame(rows, columns=cols)


def layer_histograms(checkpoints: Sequence[CheckpointLike], labels: Sequence[str] | None = None,
                     max_layers: int = 16, points: int = 64,
                     ) -> tuple[list[str], dict[str, list[tuple[np.ndarray, np.ndarray]]]]:
    """Densities of the weights per layer for a ridge plot (layers subsampled evenly).

    Each layer's weights are standardised by that layer's std so the shapes are comparable.

    Args:
        checkpoints: Paths or state dicts.
        labels: One name per checkpoint.
        max_layers: At most this many layers (evenly spaced by depth).
        points: Histogram resolution over [-4, 4] std units.

    Returns:
        ``(layer names, {checkpoint: [(x, density) per layer or empty arrays]})``.
    """
    loaded = load_checkpoints(checkpoints, labels)
    names = [n for n, _ in loaded]
    sds = [sd for _, sd in loaded]
    layers: list[str] = []
    for sd in sds:
        for k, _ in weight_layers(sd):
            if k not in layers:
                layers.append(k)
    if len(layers) > max_layers:
        keep = np.unique(np.linspace(0, len(layers) - 1, max_layers).round().astype(int))
        layers = [layers[i] for i in keep]
    edges = np.linspace(-4, 4, points + 1)
    x = (edges[:-1] + edges[1:]) / 2
    dens: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {}
    for name, sd in zip(names, sds):
        wl = dict(weight_layers(sd))
        cur = []
        for layer in layers:
            w = wl.get(layer)
            if w is None or w.std() == 0:
                cur.append((np.array([]), np.array([])))
                continue
            z = ((w - w.mean()) / w.std()).ravel()
            h, _ = np.histogram(z, bins=edges, density=True)
            cur.append((x, h))
        dens[name] = cur
    return layers, dens

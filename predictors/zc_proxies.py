"""Zero-cost proxies: scores of an untrained (or weight-shared) network from one minibatch.

Each function takes a plain PyTorch module (a sub-network) and a minibatch and returns one float;
nothing here knows about search spaces or supernets (:mod:`ofa_bench_predictors.zero_cost` prepares
the module and the batch). Written from the papers' definitions:

* ``synflow``: Tanaka et al., NeurIPS 2020, "Pruning neural networks without any data by
  iteratively conserving synaptic flow": R = 1^T f_|theta|(1) on an all-ones input with every
  parameter replaced by its absolute value and batch norm made the identity; score
  sum over weights of theta * dR/dtheta (as summed per network by Abdelfattah et al., ICLR 2021).
* ``snip``: Lee et al., ICLR 2019: sum |theta * dL/dtheta|.
* ``grasp``: Wang et al., ICLR 2020: sum -theta * (H g), H the Hessian of the loss, g its gradient.
* ``fisher``: Theis et al. 2018 / Turner et al., ICLR 2020 (BlockSwap): per activation channel
  0.5 * mean over the batch of (sum over positions of a * dL/da)^2, summed over channels and layers.
* ``grad_norm``: Abdelfattah et al., ICLR 2021: sum over layers of the Euclidean norm of dL/dW.
* ``jacov``: Mellor et al. 2020 (NASWOT v1): eigenvalues l of the correlation matrix of the
  per-image input gradients of the summed output; -sum(log(l + k) + 1 / (l + k)), k = 1e-5.
* ``nwot``: Mellor et al., ICML 2021: binary activation codes c of every rectifier unit;
  K = c c^T + (1 - c)(1 - c)^T; score log |det K|.
* ``zen``: Lin et al., ICCV 2021 (Zen-NAS): log E ||f(x) - f(x + alpha eps)||_F on the pre-pooling
  feature map, x, eps ~ N(0, 1), alpha = 0.01, plus sum over BN layers of log sqrt(mean variance).
* ``epe_nas``: Lopes et al., ICANN 2021: per class, the mean of log(|corr| + k) over the correlation
  matrix of that class's input gradients, summed over classes (our reading of their eqs. 3-4).

Weights are the conv and linear weights (``_weights``), as in Abdelfattah et al.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["PROXIES", "fisher", "grad_norm", "grasp", "jacov", "nwot", "nwot_kernel", "snip", "synflow", "zen"]

#: The constant Mellor et al. add to eigenvalues and Lopes et al. to correlations.
K_EPS = 1e-5

_RECTIFIERS = (nn.ReLU, nn.Hardswish)


def _weights(model: nn.Module) -> list[torch.Tensor]:
    """The weight tensors of every convolution and linear layer, in module order."""
    return [m.weight for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]


def _loss_grads(model: nn.Module, x: torch.Tensor, y: torch.Tensor, create_graph: bool = False) -> list[torch.Tensor]:
    weights = _weights(model)
    loss = F.cross_entropy(model(x), y)
    return list(torch.autograd.grad(loss, weights, create_graph=create_graph))


def snip(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """Connection sensitivity: sum of |theta * dL/dtheta| over conv and linear weights."""
    grads = _loss_grads(model, x, y)
    return float(sum((w.detach() * g).abs().sum() for w, g in zip(_weights(model), grads)))


def grad_norm(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """Sum over conv and linear layers of the Euclidean norm of the loss gradient of their weight."""
    return float(sum(g.norm() for g in _loss_grads(model, x, y)))


def grasp(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """Gradient signal preservation: sum of -theta * (H g), Hessian-gradient product by double backprop."""
    weights = _weights(model)
    # One gradient serves twice: kept in the graph (to differentiate again) and detached as the fixed
    # vector g of H g, which is what a second, separate gradient pass would give (12% cheaper).
    g = _loss_grads(model, x, y, create_graph=True)
    inner = sum((a * a.detach()).sum() for a in g)
    hg = torch.autograd.grad(inner, weights, allow_unused=True)
    return float(sum((-w.detach() * h).sum() for w, h in zip(weights, hg) if h is not None))


def fisher(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """Fisher pruning saliency of every activation channel, summed (channel dimension 1)."""
    outputs: list[torch.Tensor] = []

    def keep(_module: nn.Module, _inputs: tuple, output: torch.Tensor) -> None:
        outputs.append(output)

    hooks = [m.register_forward_hook(keep) for m in model.modules() if isinstance(m, _RECTIFIERS)]
    try:
        loss = F.cross_entropy(model(x), y)
    finally:
        for hook in hooks:
            hook.remove()
    if not outputs:
        return 0.0
    grads = torch.autograd.grad(loss, outputs)
    total = 0.0
    for a, g in zip(outputs, grads):
        per_image = (a.detach() * g).flatten(2).sum(2) if a.dim() > 2 else a.detach() * g  # (batch, channels)
        total += float(0.5 * per_image.pow(2).mean(0).sum())
    return total


def _input_jacobian(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Per image, the gradient of the summed output with respect to that image: ``(batch, features)``."""
    x = x.detach().clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(model(x).sum(), x)
    return grad.reshape(grad.shape[0], -1).double()


def _corr(rows: torch.Tensor) -> torch.Tensor:
    """Correlation matrix of the rows; a constant row correlates 0 with the others (not NaN)."""
    centred = rows - rows.mean(1, keepdim=True)
    norms = centred.norm(dim=1, keepdim=True)
    unit = centred / torch.where(norms > 0, norms, torch.ones_like(norms))
    corr = unit @ unit.T
    return corr.fill_diagonal_(1.0)


def jacov(model: nn.Module, x: torch.Tensor, y: torch.Tensor | None = None) -> float:
    """Jacobian covariance: -sum over eigenvalues l of the input-gradient correlations of log(l + k) + 1/(l + k)."""
    eig = torch.linalg.eigvalsh(_corr(_input_jacobian(model, x))).clamp_min(0.0)
    return float(-(torch.log(eig + K_EPS) + 1.0 / (eig + K_EPS)).sum())


def epe_nas(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """Per class, mean log(|corr| + k) of the input-gradient correlations of its images, summed over classes."""
    jac = _input_jacobian(model, x)
    total = 0.0
    for label in torch.unique(y):
        rows = jac[y == label]
        if rows.shape[0] >= 2:
            total += float(torch.log(_corr(rows).abs() + K_EPS).mean())
    return total


def nwot_kernel(codes: list[torch.Tensor]) -> torch.Tensor:
    """NASWOT's kernel from per-layer binary codes ``(batch, units)``: matching units between two images."""
    n = codes[0].shape[0]
    kernel = torch.zeros(n, n, dtype=torch.float64)
    for c in codes:
        c = c.reshape(n, -1).double()
        kernel += c @ c.T + (1.0 - c) @ (1.0 - c).T
    return kernel


def nwot(model: nn.Module, x: torch.Tensor, y: torch.Tensor | None = None) -> float:
    """log |det K| of the activation-pattern kernel; the input of every rectifier is coded ``> 0``."""
    codes: list[torch.Tensor] = []

    def keep(_module: nn.Module, inputs: tuple) -> None:
        codes.append((inputs[0].detach() > 0).flatten(1))

    hooks = [m.register_forward_pre_hook(keep) for m in model.modules() if isinstance(m, _RECTIFIERS)]
    try:
        with torch.no_grad():
            model(x)
    finally:
        for hook in hooks:
            hook.remove()
    if not codes:
        return 0.0
    return float(torch.linalg.slogdet(nwot_kernel(codes))[1])


def synflow(model: nn.Module, x: torch.Tensor, y: torch.Tensor | None = None) -> float:
    """Synaptic flow, in float64, on an all-ones input of ``x``'s shape (one image); changes ``model``.

    Every parameter becomes its absolute value and every batch norm the identity (zero mean, unit
    variance, unit scale, zero shift, eval mode), so the network is a positive function of ``1``.
    """
    model.double()
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.eval()
                module.running_mean.zero_()
                module.running_var.fill_(1.0)
                module.eps = 0.0
                module.weight.fill_(1.0)
                module.bias.zero_()
        for p in model.parameters():
            p.abs_()
    weights = _weights(model)
    ones = torch.ones((1, *x.shape[1:]), dtype=torch.float64)
    grads = torch.autograd.grad(model(ones).sum(), weights)
    total = float(sum((w.detach() * g).sum() for w, g in zip(weights, grads)))
    return total


def zen(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor | None = None,
    *,
    alpha: float = 0.01,
    features: Callable[[torch.Tensor], torch.Tensor] | None = None,
    seed: int = 0,
) -> float:
    """Zen-score on Gaussian inputs of ``x``'s shape; ``features`` maps input to the pre-pooling map.

    BN runs on batch statistics; the BN-scaling term is the sum over BN layers of log of the root
    mean (over channels) of the batch variance of the layer's input, taken on the clean pass.
    """
    features = features or model
    gen = torch.Generator().manual_seed(seed)
    clean = torch.randn(x.shape, generator=gen, dtype=x.dtype)
    noisy = clean + alpha * torch.randn(x.shape, generator=gen, dtype=x.dtype)
    variances: list[torch.Tensor] = []

    def keep(_module: nn.Module, inputs: tuple) -> None:
        variances.append(inputs[0].detach().var(dim=(0, 2, 3), unbiased=False).mean())

    hooks = [m.register_forward_pre_hook(keep) for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    try:
        with torch.no_grad():
            f_clean = features(clean)
    finally:
        for hook in hooks:
            hook.remove()
    with torch.no_grad():
        f_noisy = features(noisy)
    delta = (f_clean - f_noisy).flatten(1).norm(dim=1).mean()
    scaling = sum(0.5 * math.log(max(float(v), 1e-300)) for v in variances)
    return math.log(max(float(delta), 1e-300)) + scaling


#: Name to function; each is ``f(model, x, y) -> float``.
PROXIES: dict[str, Callable[..., float]] = {
    "synflow": synflow, "snip": snip, "grasp": grasp, "fisher": fisher, "grad_norm": grad_norm,
    "jacov": jacov, "nwot": nwot, "zen": zen, "epe_nas": epe_nas,
}  # fmt: skip

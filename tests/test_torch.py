"""fastact.torch: gradcheck, equivalence with torch's own functions and modules,
in-place, devices, torch.compile, and a network that trains."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

torch = pytest.importorskip("torch")
ft = pytest.importorskip("fastact.torch")

import fastact as fa  # noqa: E402
from fastact._registry import SPECS  # noqa: E402
from fastact.bench.baselines import BASELINES, bench_params  # noqa: E402

ALL = [s.name for s in SPECS]
DROP_IN = {name: entry[0] for name, entry in ft._TORCH_NAMES.items()} | {"prelu": "PReLU"}
#: Accuracy bar: 8 ulp each side (fastact's, and torch's on these moderate inputs) plus
#: the rounding of the comparison; atol covers results near 0 (relative to the scale).
ULPS = 32
#: Where torch itself is further off: its hardsigmoid backward multiplies by 1/6
#: rounded to float32 in every dtype (torch 2.13: relative error 3.0e-8 in float64).
TORCH_RTOL = {"hardsigmoid": 4e-8}


def _params(name: str) -> dict:
    params = bench_params(next(s for s in SPECS if s.name == name))
    params.pop("weight", None)
    return params


def _inputs(name: str, dtype: torch.dtype, shape: tuple = (5, 6), seed: int = 0):
    generator = torch.Generator().manual_seed(seed)
    x = 3 * torch.randn(shape, generator=generator, dtype=torch.float64)
    # Keep finite differences off the kinks (0, +-lambd, thresholds, +-3, 6, ...).
    x = torch.where((x - x.round()).abs() < 1e-3, x + 0.01, x)
    x = torch.where(((2 * x) - (2 * x).round()).abs() < 1e-3, x + 0.01, x)
    return x.to(dtype)


def _call(name: str, x, weight=None, **extra):
    params = _params(name) | extra
    if name == "prelu":
        return ft.prelu(x, weight)
    return getattr(ft, name)(x, **params)


def _close(actual, expected, dtype, name: str = "") -> None:
    eps = torch.finfo(dtype).eps
    rtol = max(ULPS * eps, TORCH_RTOL.get(name, 0.0))
    scale = expected.abs().max().item() if expected.numel() else 1.0
    torch.testing.assert_close(actual, expected, rtol=rtol, atol=rtol * max(scale, 1.0))


# --------------------------------------------------------------------------- gradcheck


@pytest.mark.parametrize("name", ALL)
def test_gradcheck_float64(name: str) -> None:
    x = _inputs(name, torch.float64).requires_grad_()
    if name == "prelu":
        weight = torch.tensor([0.1, 0.2, -0.3, 0.4, 0.5, 0.6], dtype=torch.float64,
                              requires_grad=True)
        assert torch.autograd.gradcheck(lambda a, w: ft.prelu(a, w), (x, weight))
        return
    extra = {"training": True, "seed": 7} if name == "rrelu" else {}
    assert torch.autograd.gradcheck(lambda a: _call(name, a, **extra), (x,))


# --------------------------------------------------------------------------- vs torch


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
@pytest.mark.parametrize("name", ALL)
def test_forward_backward_match_torch(name: str, dtype: torch.dtype) -> None:
    """fastact.torch.NAME against the torch function of the benchmark baselines."""
    x = _inputs(name, dtype, seed=1)
    g = _inputs(name, dtype, seed=2)
    a, b = x.clone().requires_grad_(), x.clone().requires_grad_()
    params = _params(name)
    if name == "prelu":
        weight = torch.full((1,), 0.25, dtype=dtype)
        ya = ft.prelu(a, weight)
        yb = torch.nn.functional.prelu(b, weight)
    else:
        ya = _call(name, a)
        yb = BASELINES[name].torch_forward(b, **params)
    _close(ya, yb, dtype)
    g = g[..., : ya.shape[-1]]
    ya.backward(g)
    yb.backward(g)
    _close(a.grad, b.grad, dtype, name)


def _module_args(name: str) -> tuple:
    return (0.5, -2.0) if name == "threshold" else ()


@pytest.mark.parametrize("name", sorted(DROP_IN))
def test_module_is_drop_in(name: str) -> None:
    """Same class name, constructor arguments and defaults as torch.nn's module, and
    the same results with them."""
    ours, theirs = ft.MODULES[name], getattr(torch.nn, DROP_IN[name])
    assert ours.__name__ == theirs.__name__
    ours_sig = inspect.signature(ours).parameters
    for param in inspect.signature(theirs).parameters.values():
        if param.name in ("min_value", "max_value") or param.kind in (
            param.VAR_POSITIONAL, param.VAR_KEYWORD
        ):  # Hardtanh's deprecated aliases; the *args, **kwargs of nn.Module
            continue
        assert param.name in ours_sig, param.name
        assert ours_sig[param.name].default == param.default, param.name
    dtype = torch.float64
    x = _inputs(name, dtype, shape=(4, 6, 4), seed=3)
    kwargs = {"dtype": dtype} if name == "prelu" else {}
    if name == "prelu":
        m_ours, m_theirs = ours(6, **kwargs), theirs(6, **kwargs)
    else:
        args = _module_args(name) + ((1,) if name in ("softmax", "log_softmax", "softmin") else ())
        m_ours, m_theirs = ours(*args), theirs(*args)
    m_ours.eval()  # RReLU: the deterministic mode
    m_theirs.eval()
    a, b = x.clone().requires_grad_(), x.clone().requires_grad_()
    ya, yb = m_ours(a), m_theirs(b)
    _close(ya, yb, dtype)
    ya.sum().backward()
    yb.sum().backward()
    _close(a.grad, b.grad, dtype, name)
    if name == "prelu":
        _close(m_ours.weight.grad, m_theirs.weight.grad, dtype)


@pytest.mark.parametrize("name", [n for n in ALL if n not in DROP_IN])
def test_other_modules_are_camel_case(name: str) -> None:
    module = ft.MODULES[name]
    assert module.__name__ == "".join(p.capitalize() for p in name.split("_"))
    x = _inputs(name, torch.float64)
    _close(module()(x), _call(name, x), torch.float64)


def test_implicit_softmax_dim_warns_like_torch() -> None:
    x = _inputs("softmax", torch.float64, shape=(2, 3, 4))
    with pytest.warns(UserWarning, match="Implicit dimension"):
        ours = ft.Softmax()(x)
    with pytest.warns(UserWarning, match="Implicit dimension"):
        theirs = torch.nn.Softmax()(x)
    _close(ours, theirs, torch.float64)


def test_prelu_per_channel_nchw_and_errors() -> None:
    x = _inputs("prelu", torch.float32, shape=(2, 3, 4, 5)).requires_grad_()
    m = ft.PReLU(3, init=0.1)
    m(x).sum().backward()
    t = torch.nn.PReLU(3, init=0.1)
    xt = x.detach().clone().requires_grad_()
    t(xt).sum().backward()
    _close(m.weight.grad, t.weight.grad, torch.float32)
    with pytest.raises(ValueError, match="weight has 4 elements"):
        ft.PReLU(4)(x)


# --------------------------------------------------------------------------- what is saved


@pytest.mark.parametrize("name", ["sigmoid", "tanh", "elu", "softmax", "gelu", "silu"])
def test_saves_x_and_the_axis_functions_their_output(name: str) -> None:
    """The backward runs from x wherever x survives (issue 15, item 13); the axis
    functions keep their output, as torch does."""
    x = _inputs(name, torch.float64).requires_grad_()
    y = _call(name, x)
    saved = y.grad_fn.saved_tensors[0]
    spec = next(s for s in SPECS if s.name == name)
    expected = y if spec.kind == "axis" else x
    assert saved.data_ptr() == expected.data_ptr()


def _exact_gradient(name: str, x: float) -> float:
    import mpmath

    with mpmath.workdps(60):
        t = mpmath.mpf(x)
        if name == "elu":
            return float(mpmath.exp(t)) if x < 0 else 1.0
        if name == "celu":
            return float(mpmath.exp(t / 1.0)) if x < 0 else 1.0
        alpha = mpmath.mpf("1.6732632423543772848170429916717")
        scale = mpmath.mpf("1.0507009873554804934193349852946")
        return float(scale * alpha * mpmath.exp(t)) if x < 0 else float(scale)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("name", ["elu", "celu", "selu"])
def test_elu_family_gradient_is_as_accurate_as_the_derivative(name: str, dtype) -> None:
    """From the saved output, y + alpha cancels for x << 0: ELU's float32 gradient at
    x = -20 was 0.0 (exact: 2.06e-9), 1,070 ulp off at x = -8.478 (402 in float64),
    SELU's at -inf 2.33e-8 instead of 0 (issue 15, item 13). Now within the bar
    (8 ulp times exp's condition number |x|) of mpmath, and 0 at -inf."""
    points = [-20.0, -8.478, -3.0, -0.5, 0.25, 2.0]
    x = torch.tensor(points, dtype=dtype, requires_grad=True)
    (g,) = torch.autograd.grad(getattr(ft, name)(x).sum(), x)
    for xi, gi in zip(x.detach().tolist(), g.tolist(), strict=True):
        exact = _exact_gradient(name, xi)
        ulp = float(np.spacing(np.abs(np.array(exact, dtype=str(dtype).split(".")[1]))))
        assert abs(gi - exact) <= 8 * max(1.0, abs(xi)) * ulp, (xi, gi, exact)
    x = torch.tensor([-float("inf")], dtype=dtype, requires_grad=True)
    (g,) = torch.autograd.grad(getattr(ft, name)(x).sum(), x)
    assert g.item() == 0.0


def test_in_place_elu_backward_runs_from_the_output() -> None:
    """In place x is gone: the gradient is y + alpha (torch's in-place ELU does the
    same), the documented cost."""
    x = torch.tensor([-20.0, -1.0, 2.0], requires_grad=True)
    h = x * 1.0
    y = ft.elu(h, inplace=True)
    (g,) = torch.autograd.grad(y.sum(), x)
    torch.testing.assert_close(g, torch.where(y.detach() > 0, 1.0, y.detach() + 1.0))


# --------------------------------------------------------------------------- torch's semantics


@pytest.mark.parametrize("name", ["softmax", "log_softmax", "softmin"])
def test_zero_dim_tensors_along_the_axis_as_torch(name: str) -> None:
    """torch treats a 0-d tensor as a one-element vector along dim 0 or -1 (issue 15,
    item 14); fastact's NumPy API raises AxisError, as NumPy's reductions do."""
    theirs = getattr(torch.nn.functional, name)
    module = ft.MODULES[name]
    for dim in (0, -1):
        x = torch.tensor(2.5, dtype=torch.float64, requires_grad=True)
        xt = torch.tensor(2.5, dtype=torch.float64, requires_grad=True)
        y, yt = getattr(ft, name)(x, axis=dim), theirs(xt, dim=dim)
        assert y.shape == () and y.item() == yt.item()
        (g,) = torch.autograd.grad(y, x, torch.tensor(3.0, dtype=torch.float64))
        (gt,) = torch.autograd.grad(yt, xt, torch.tensor(3.0, dtype=torch.float64))
        assert g.shape == () and g.item() == gt.item()
        assert module(dim=dim)(x.detach()).item() == yt.item()
    with pytest.warns(UserWarning, match="Implicit dimension"):
        assert module()(torch.tensor(2.5)).item() == theirs(torch.tensor(2.5), dim=0).item()
    with pytest.raises(np.exceptions.AxisError):
        fa.activations()[name](np.float64(2.5))


def test_hardshrink_with_a_negative_lambd_is_the_identity_as_in_torch() -> None:
    """torch computes hardshrink(x, -0.5) (|x| > -0.5 always holds: the identity); the
    adapter follows it, fastact's NumPy API refuses the negative lambd (issue 15,
    item 14)."""
    x = torch.tensor([-1.0, -0.0, 0.2, 3.0], dtype=torch.float64, requires_grad=True)
    want = torch.nn.functional.hardshrink(x.detach(), -0.5)
    y = ft.hardshrink(x, lambd=-0.5)
    assert torch.equal(y.detach(), want)
    assert torch.equal(torch.signbit(y.detach()), torch.signbit(want))
    (g,) = torch.autograd.grad(y.sum(), x)
    assert torch.equal(g, torch.ones_like(x))
    assert torch.equal(ft.Hardshrink(-0.5)(x.detach()), want)
    assert torch.equal(ft.Hardshrink(lambd=-0.5)(x.detach()), want)
    with pytest.raises(ValueError, match="lambd"):
        fa.hardshrink(np.ones(3), lambd=-0.5)


def test_views_share_memory() -> None:
    x = torch.randn(4, 5)
    assert np.shares_memory(ft._view(x), x.numpy())
    assert np.shares_memory(ft._view(x.t()), x.numpy())  # strided: still a view


# --------------------------------------------------------------------------- in place


INPLACE = [n for n, (_, args, _) in ft._TORCH_NAMES.items() if "inplace" in args]


@pytest.mark.parametrize("name", INPLACE)
def test_inplace_matches_torch(name: str) -> None:
    x = _inputs(name, torch.float64, seed=4)
    args = _module_args(name)
    ours = ft.MODULES[name](*args, inplace=True).eval()
    theirs = getattr(torch.nn, DROP_IN[name])(*args, inplace=True).eval()
    a, b = x.clone().requires_grad_(), x.clone().requires_grad_()
    a1, b1 = a * 1, b * 1  # non-leaf, so they may be modified in place
    ya, yb = ours(a1), theirs(b1)
    assert ya.data_ptr() == a1.data_ptr()
    _close(a1, b1, torch.float64)
    ya.sum().backward()
    yb.sum().backward()
    _close(a.grad, b.grad, torch.float64, name)


def test_inplace_refuses_leaf_and_expanded_tensors() -> None:
    leaf = torch.randn(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf"):
        ft.relu(leaf, inplace=True)
    expanded = torch.randn(1, 3).expand(4, 3)
    with pytest.raises(ValueError, match="share memory"):
        ft.relu(expanded, inplace=True)


# --------------------------------------------------------------------------- rrelu


def test_rrelu_training_slopes_are_seeded_by_torch_and_reused_in_backward() -> None:
    x = -torch.rand(1000, dtype=torch.float64) - 0.5
    m = ft.RReLU(0.1, 0.3)  # training mode by default, as in torch
    torch.manual_seed(5)
    a = x.clone().requires_grad_()
    y1 = m(a)
    torch.manual_seed(5)
    y2 = m(x)
    assert torch.equal(y1, y2)
    slopes = y1.detach() / x
    assert slopes.min() >= 0.1 and slopes.max() <= 0.3 and slopes.std() > 0.03
    y1.sum().backward()
    torch.testing.assert_close(a.grad, slopes)
    assert torch.equal(m.eval()(x), x * 0.2)


# --------------------------------------------------------------------------- dtypes, devices


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16], ids=str)
def test_half_precision_keeps_dtype(dtype: torch.dtype) -> None:
    x = _inputs("gelu", torch.float32).to(dtype).requires_grad_()
    y = ft.GELU()(x)
    y.sum().backward()
    assert y.dtype == dtype and x.grad.dtype == dtype
    expected = torch.nn.functional.gelu(x.detach().float())
    torch.testing.assert_close(y.float(), expected, rtol=1e-2, atol=1e-2)


class _CudaLooking(torch.Tensor):
    """A CPU tensor that reports a CUDA device (no GPU here): what the adapter sees of a
    CUDA tensor before it touches the memory."""

    @property
    def device(self):
        return torch.device("cuda", 0)


def test_other_devices_raise_a_clear_error() -> None:
    """CUDA (and any non-CPU) tensors: NotImplementedError naming x and its device, also
    under torch.compile and for the weight."""
    with pytest.raises(NotImplementedError, match="x is on device meta"):
        ft.GELU()(torch.empty(3, device="meta"))
    cuda = torch.randn(2, 3).as_subclass(_CudaLooking)
    with pytest.raises(NotImplementedError, match="x is on device cuda:0"):
        ft.GELU()(cuda)
    torch._dynamo.reset()
    with pytest.raises(NotImplementedError, match="x is on device cuda:0"):
        torch.compile(ft.Softmax(dim=1), backend="eager")(cuda)
    torch._dynamo.reset()
    with pytest.raises(NotImplementedError, match="weight is on device cuda:0"):
        ft.prelu(torch.randn(2, 3), torch.randn(3).as_subclass(_CudaLooking))


def test_non_float_tensors_raise_type_error() -> None:
    with pytest.raises(TypeError, match=r"x has dtype torch\.int64"):
        ft.relu(torch.arange(3))
    with pytest.raises(ValueError, match="beta must be != 0"):
        ft.Softplus(beta=0)


# --------------------------------------------------------------------------- compile


def _net() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Linear(8, 16), ft.GELU(), torch.nn.Linear(16, 16), ft.ELU(inplace=True),
        torch.nn.Linear(16, 4), ft.LogSoftmax(dim=1),
    )


def test_torch_compile_runs_fastact_eagerly_between_graphs() -> None:
    torch._dynamo.reset()
    net = _net()
    x = torch.randn(5, 8)
    expected = net(x)
    expected.sum().backward()
    grads = [p.grad.clone() for p in net.parameters()]
    net.zero_grad()
    compiled = torch.compile(net, backend="eager")
    out = compiled(x)
    out.sum().backward()
    torch.testing.assert_close(out, expected)
    for p, g in zip(net.parameters(), grads, strict=True):
        torch.testing.assert_close(p.grad, g)
    torch._dynamo.reset()
    with pytest.raises(Exception, match=r"torch\.compiler\.disable"):
        torch.compile(_net(), backend="eager", fullgraph=True)(x)
    torch._dynamo.reset()


# --------------------------------------------------------------------------- training


def test_network_of_fastact_modules_trains() -> None:
    torch.manual_seed(0)
    x = torch.randn(256, 8)
    labels = (x[:, 0] + x[:, 1] * x[:, 2] > 0).long() + 2 * (x[:, 3] > 0.5).long()
    net = torch.nn.Sequential(
        torch.nn.Linear(8, 32), ft.SiLU(), torch.nn.Linear(32, 32), ft.PReLU(32),
        torch.nn.Linear(32, 4),
    )
    optimiser = torch.optim.Adam(net.parameters(), lr=0.01)
    losses = []
    for _ in range(60):
        optimiser.zero_grad()
        loss = torch.nn.functional.cross_entropy(ft.log_softmax(net(x), axis=1), labels)
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]

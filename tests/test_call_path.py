"""One way through a call (issue 14; issue 15 items 2, 8, 10 (numpy softmax), 11
(float16 results into a float32 out)).

* validation never depends on call history: values that Python calls equal
  (True == 1 == 1.0, 0.0 == -0.0) are validated and computed as what they are, in
  either order, on every backend;
* the compiled fast path and the general path give the same results bit for bit (the
  same kernels on the same memory: fastact against itself, not another library) and
  the same errors, for calls drawn over the registry;
* nothing is written into ``out`` by a call that raises;
* rounding: a float16 result (float16, int8, bool inputs) is rounded to float16 before
  it is written into an ``out`` of another dtype, as np.tanh does.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fastact as fa
from fastact import _dispatch
from fastact._kernels import _ufuncs
from fastact._registry import SPECS

BACKENDS = [b for b in ("numpy", "cython", "numba") if b in fa.available_backends()]


def _fresh() -> None:
    """Forget every cached plan (what a fresh process has)."""
    _dispatch._selected.clear()


# --------------------------------------------------------------------------- history


def _outcome(call: Any) -> Any:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = call()
    except Exception as error:
        return (type(error), str(error))
    if isinstance(result, tuple):
        return tuple(np.asarray(r).tobytes() for r in result)
    return np.asarray(result).tobytes()


X = np.array([-2.0, -1.0, -0.0, 0.0, 0.5, 3.0], dtype=np.float32)

#: (activation, parameter, values Python calls equal, extra keywords): every kind.
EQUAL_VALUES = [
    ("leaky_relu", "negative_slope", [1, 1.0, True, np.float32(1.0), np.int64(1)], {}),
    ("leaky_relu", "negative_slope", [0.0, -0.0, 0, False, np.float64(-0.0)], {}),
    ("hardtanh", "min_val", [0.0, -0.0, 0, False], {"max_val": 1.0}),
    ("elu", "alpha", [1, 1.0, True], {}),
    ("softplus", "threshold", [20, 20.0, True, 1, 1.0], {}),  # real_or_none
    ("rrelu", "training", [True, 1, np.bool_(True), 1.0], {"seed": 3}),  # flag
    ("rrelu", "seed", [1, True, 1.0, np.uint8(1), np.int64(1)], {"training": True}),
    ("softmax", "axis", [0, False, 0.0, np.int64(0), -1], {}),  # axis
    ("gelu", "approximate", ["tanh", np.str_("tanh")], {}),  # choice
]


def _call_with(name: str, param: str, value: Any, extra: dict, backend: str) -> Any:
    activation = fa.activations()[name]
    x = X.reshape(2, 3) if name == "softmax" else X
    kwargs = {param: value, **extra}
    return lambda: activation(x, backend=backend, **kwargs)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(("name", "param", "values", "extra"), EQUAL_VALUES)
def test_validation_and_results_do_not_depend_on_call_history(
    name: str, param: str, values: list, extra: dict, backend: str
) -> None:
    """Each value's outcome on a fresh cache, then after every other value was called
    first (both orders of every pair)."""
    alone = {}
    for i, value in enumerate(values):
        _fresh()
        alone[i] = _outcome(_call_with(name, param, value, extra, backend))
    for i, first in enumerate(values):
        for j, second in enumerate(values):
            if i == j:
                continue
            _fresh()
            _outcome(_call_with(name, param, first, extra, backend))
            _outcome(_call_with(name, param, first, extra, backend))  # cached now
            after = _outcome(_call_with(name, param, second, extra, backend))
            assert after == alone[j], (
                f"{name}({param}={second!r}) after {param}={first!r} on {backend}: "
                f"{after!r} != {alone[j]!r} alone"
            )


@pytest.mark.parametrize("backend", BACKENDS)
def test_issue_15_item_2_cases(backend: str) -> None:
    x = np.array([-1.0], dtype=np.float32)
    for method in ("forward", "backward_x"):
        def run(method: str = method, **kw: Any) -> np.ndarray:
            if method == "forward":
                return fa.hardtanh(x, backend=backend, **kw)
            return fa.hardtanh.backward(np.ones_like(x), x, backend=backend, **kw)

        _fresh()
        run(min_val=-0.0)
        run(min_val=-0.0)
        if method == "forward":
            assert not np.signbit(run(min_val=0.0)[0]), "hardtanh(-1, min_val=0.0) is +0.0"
            assert np.signbit(run(min_val=-0.0)[0])
    # leaky_relu's slope +-0.0 gives -0.0 / +0.0 at x = -1 (x * slope)
    for slope, negative in ((0.0, True), (-0.0, False)):
        _fresh()
        fa.leaky_relu(x, negative_slope=-slope, backend=backend)
        fa.leaky_relu(x, negative_slope=-slope, backend=backend)
        assert bool(np.signbit(fa.leaky_relu(x, negative_slope=slope, backend=backend)[0])) \
            is negative
    refused = [
        ("leaky_relu", {"negative_slope": True}, {"negative_slope": 1}),
        ("rrelu", {"training": 1, "seed": 1}, {"training": True, "seed": 1}),
        ("rrelu", {"seed": True, "training": True}, {"seed": 1, "training": True}),
        ("rrelu", {"seed": 1.0, "training": True}, {"seed": 1, "training": True}),
    ]
    for name, bad, good in refused:
        activation = fa.activations()[name]
        _fresh()
        activation(X, backend=backend, **good)
        activation(X, backend=backend, **good)
        with pytest.raises(TypeError):
            activation(X, backend=backend, **bad)
        o = np.empty_like(X)
        activation(X, out=o, backend=backend, **good)
        with pytest.raises(TypeError):
            activation(X, out=o, backend=backend, **bad)


# Call sites with literal keywords: the interpreter passes one tuple of keyword names
# per site, which is what the activation objects' memo of plans is keyed on.
def _slope_forward(x: np.ndarray, o: np.ndarray, value: Any) -> Any:
    return fa.leaky_relu(x, negative_slope=value, out=o)


def _slope_backward(x: np.ndarray, o: np.ndarray, value: Any) -> Any:
    return fa.leaky_relu.backward(np.ones_like(x), x, negative_slope=value, out=o)


def _min_val_forward(x: np.ndarray, o: np.ndarray, value: Any) -> Any:
    return fa.hardtanh(x, min_val=value, max_val=2.0, out=o)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("site", [_slope_forward, _slope_backward, _min_val_forward])
def test_remembered_plans_tell_equal_values_apart(site: Any, backend: str) -> None:
    """The same call site with values Python calls equal, in turn, many times: each
    call gives what it gives on a fresh cache (the memo of plans compares types and
    bits, not ==)."""
    values = [1, 1.0, True, np.float32(1.0), np.int64(1), 0.0, -0.0, 0, False,
              np.float64(-0.0), np.float32(-0.0), 0.25, -0.5]
    x = np.array([-1.0, -0.25, 0.5, 3.0], dtype=np.float32)

    def call(value: Any) -> Any:
        with fa.use_backend(backend):
            return _outcome(lambda: site(x, np.empty_like(x), value))

    alone = {}
    for i, value in enumerate(values):
        _fresh()
        alone[i] = call(value)
    for order in (list(range(len(values))), list(range(len(values)))[::-1]):
        _fresh()
        for _ in range(3):
            for i in order:
                assert call(values[i]) == alone[i], (site.__name__, values[i], backend)


def test_remembered_plans_follow_the_plan_cache_and_the_backend(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A remembered plan is used only while the plan cache is the one it came from,
    unchanged, and for the backend the call would choose now."""
    o = np.empty_like(X)

    def site() -> Any:
        return fa.relu(X, out=o)

    def grad_site() -> Any:
        return fa.sigmoid.backward(np.ones_like(X), y=X, out=o)

    for call in (site, grad_site):
        _fresh()
        call()
        call()
        assert len(_dispatch._selected) == 1
        _dispatch._selected.clear()  # what registering a backend does
        call()
        assert len(_dispatch._selected) == 1, "a cleared cache must be refilled"
        replaced: dict = {}
        monkeypatch.setattr(_dispatch, "_selected", replaced)
        call()
        assert len(replaced) == 1, "a replaced cache must be used"
        for backend in BACKENDS:
            with fa.use_backend(backend):
                call()
                call()
            assert any(key[5] == backend for key in replaced), backend
        monkeypatch.undo()


def test_methods_are_made_once() -> None:
    assert fa.gelu.backward is fa.gelu.backward
    assert fa.gelu.derivative is not fa.gelu.backward
    assert fa.gelu.backward.__self__ is fa.gelu
    assert fa.silu.backward.__self__ is fa.silu


def test_plan_cache_is_bounded() -> None:
    from fastact import _validate

    _fresh()
    for i in range(_validate.PLAN_CACHE_SIZE + 10):
        fa.leaky_relu(X, negative_slope=float(i))
    assert len(_dispatch._selected) <= _validate.PLAN_CACHE_SIZE


def test_param_key_tells_equal_values_apart() -> None:
    from fastact._validate import param_key

    keys = {param_key({"a": v}) for v in (True, 1, 1.0, -0.0, 0.0, np.float32(1), np.int64(1))}
    assert len(keys) == 7
    assert param_key({"a": np.ones(3)}) is None


# --------------------------------------------------------------------------- fast == general


def _general(activation: Any, method: str, arrays: dict, kwargs: dict, out: Any) -> Any:
    """The general path, without the fast one."""
    backend = kwargs.pop("backend", None)
    return activation._run(method, arrays, (), kwargs, out, backend)


def _public(activation: Any, method: str, arrays: dict, kwargs: dict, out: Any) -> Any:
    if out is not None:
        kwargs = {**kwargs, "out": out}
    if method == "forward":
        return activation(arrays["x"], **kwargs)
    if method == "backward_x":
        return activation.backward(arrays["grad"], arrays["x"], **kwargs)
    if method == "backward_y":
        return activation.backward(arrays["grad"], y=arrays["y"], **kwargs)
    return getattr(activation, method)(arrays["x"], **kwargs)


_SCALARS = st.sampled_from([0.0, -0.0, 0.5, -2.0, 1, 0, True, False, 3, np.float32(0.25),
                            np.float64(-1.5), float("inf"), float("nan"), None, "tanh"])


@st.composite
def _calls(draw: Any) -> tuple:
    spec = draw(st.sampled_from([s for s in SPECS if not s.required_params]))
    method = draw(st.sampled_from(
        ["forward", "derivative", "value_and_derivative", "backward_x", "backward_y"]
    ))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    shape = draw(st.sampled_from([(7,), (3, 4), (2, 3, 2), (130,), (0,), (1,)]))
    backend = draw(st.sampled_from([None, *BACKENDS]))
    kwargs: dict[str, Any] = {}
    for p in spec.params:
        if draw(st.booleans()):
            if p.kind == "axis":
                kwargs[p.name] = draw(st.sampled_from([0, -1, 1, True, 5]))
            elif p.kind == "choice":
                kwargs[p.name] = draw(st.sampled_from([*p.choices, "bad", 1]))
            elif p.kind == "seed":
                kwargs[p.name] = draw(st.sampled_from([None, 0, 5, True, 1.0, -1]))
            else:
                kwargs[p.name] = draw(_SCALARS)
    if backend is not None:
        kwargs["backend"] = backend
    out_kind = draw(st.sampled_from(["none", "fresh", "in_place", "overlap", "wrong_dtype",
                                     "readonly", "wrong_shape"]))
    seed = draw(st.integers(0, 2**16))
    return spec, method, dtype, shape, kwargs, out_kind, seed


def _make_arrays(spec: Any, method: str, dtype: Any, shape: tuple, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal(shape) * 3).astype(dtype)
    g = rng.standard_normal(shape).astype(dtype)
    if method == "backward_y":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                y = np.asarray(spec_activation(spec)(x)).astype(dtype)
            except Exception:
                y = x.copy()
        return {"grad": g, "y": y}
    if method == "backward_x":
        return {"grad": g, "x": x}
    return {"x": x}


def spec_activation(spec: Any) -> Any:
    return fa.activations()[spec.name]


def _make_out(kind: str, arrays: dict, method: str) -> Any:
    main = arrays.get("x", arrays.get("y"))
    if kind == "none":
        return None
    if kind == "fresh":
        o: Any = np.full_like(main, 7.0)
    elif kind == "in_place":
        o = main
    elif kind == "overlap":
        if main.ndim != 1 or main.size < 2:
            return None
        base = np.concatenate([main, main[:1]])
        o = base[1:]
        arrays["x" if "x" in arrays else "y"] = base[:-1]
    elif kind == "wrong_dtype":
        o = np.full(main.shape, 7.0, dtype=np.float16)
    elif kind == "readonly":
        o = np.full_like(main, 7.0)
        o.flags.writeable = False
    else:
        o = np.full((*main.shape, 1), 7.0, dtype=main.dtype)
    if method == "value_and_derivative":
        return (o, None)
    return o


def _snapshot(value: Any) -> Any:
    if isinstance(value, tuple):
        return tuple(_snapshot(v) for v in value)
    if isinstance(value, np.ndarray):
        return (value.dtype.str, value.shape, value.tobytes())
    return value


def _run_both(call: tuple) -> tuple:
    spec, method, dtype, shape, kwargs, out_kind, seed = call
    activation = spec_activation(spec)
    outcomes = []
    for path in (_general, _public):
        _fresh()
        arrays = _make_arrays(spec, method, dtype, shape, seed)
        out = _make_out(out_kind, arrays, method)
        results = []
        for _ in range(2):  # the second call runs from the cached plan
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    result = path(activation, method, dict(arrays), dict(kwargs), out)
                results.append(("ok", _snapshot(result), _snapshot(out)))
            except Exception as error:
                results.append(("error", type(error), str(error), _snapshot(out)))
        outcomes.append(results)
    return outcomes[0], outcomes[1]


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(_calls())
def test_fast_path_and_general_path_agree(call: tuple) -> None:
    general, public = _run_both(call)
    assert public == general


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_fast_path_agrees_on_every_activation(spec: Any, backend: str) -> None:
    """The calls the fast path serves, for every activation and method, out absent
    and given, float32 and float64: the general path's results bit for bit."""
    if spec.required_params:
        pytest.skip("a required array parameter: never the fast path")
    for dtype in (np.float32, np.float64):
        for method in ("forward", "derivative", "value_and_derivative", "backward_x",
                       "backward_y"):
            for out_kind in ("none", "fresh", "in_place"):
                call = (spec, method, dtype, (3, 5), {"backend": backend}, out_kind, 1)
                general, public = _run_both(call)
                assert public == general, (spec.name, method, dtype, out_kind)


def test_fast_path_is_taken() -> None:
    """The common call does not reach the general path once its plan is cached."""
    from fastact import _api

    x = np.linspace(-2, 2, 100, dtype=np.float32)
    o = np.empty_like(x)
    calls = [
        lambda: fa.relu(x, out=o, backend="cython"),
        lambda: fa.leaky_relu(x, negative_slope=0.2, out=o, backend="cython"),
        lambda: fa.sigmoid.backward(x, y=x, out=o, backend="cython"),
        lambda: fa.gelu.backward(x, x, out=o, backend="cython"),
        lambda: fa.gelu.derivative(x, backend="cython"),
        lambda: fa.tanh.value_and_derivative(x, backend="cython"),
        lambda: fa.softmax(x.reshape(10, 10), backend="cython"),
        lambda: fa.softmax.backward(x.reshape(10, 10), x.reshape(10, 10), backend="cython"),
        lambda: fa.log_softmax.backward(x.reshape(10, 10), y=x.reshape(10, 10), backend="cython"),
        lambda: fa.relu(x, out=o, backend="numba") if "numba" in BACKENDS else None,
    ]
    for call in calls:
        call()
    original = _api.Activation._run
    try:
        def refuse(*args: Any, **kwargs: Any) -> Any:
            raise AssertionError("the general path was taken")
        _api.Activation._run = refuse  # type: ignore[method-assign]
        for call in calls:
            call()
    finally:
        _api.Activation._run = original  # type: ignore[method-assign]


# --------------------------------------------------------------------------- issue 15


class _OldWrap(np.ndarray):
    """A subclass with the two-argument __array_wrap__ of old NumPy."""

    def __array_wrap__(self, array: Any, context: Any = None) -> Any:  # type: ignore[override]
        return array.view(type(self))


class _BadWrap(np.ndarray):
    def __array_wrap__(self, *args: Any) -> Any:  # type: ignore[override]
        raise TypeError("this wrap refuses every call")


@pytest.mark.parametrize("backend", BACKENDS)
def test_nothing_written_when_the_wrap_fails(backend: str) -> None:
    """Issue 15 item 8: the wrap is checked before the kernels run."""
    x = np.linspace(-1, 1, 5).view(_BadWrap)
    o = np.full(5, 7.0)
    with pytest.raises(TypeError, match="refuses"):
        fa.tanh.value_and_derivative(x, out=(o, None), backend=backend)
    assert np.all(o == 7.0), "out was written by a call that raised"


@pytest.mark.parametrize("backend", BACKENDS)
def test_old_two_argument_wrap_works_like_numpy(backend: str) -> None:
    x = np.linspace(-1, 1, 5).view(_OldWrap)
    o = np.full(5, 7.0)
    with pytest.warns(DeprecationWarning):
        y, d = fa.tanh.value_and_derivative(x, out=(o, None), backend=backend)
    assert y is o and type(d) is _OldWrap
    with pytest.warns(DeprecationWarning):
        numpys = np.tanh(x)  # what NumPy does with it
    assert type(numpys) is _OldWrap


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", ["softmax", "log_softmax", "softmin"])
def test_softmax_on_64_dimensions(name: str, backend: str) -> None:
    """Issue 15 item 10 (the numpy backend raised IndexError at 64 dimensions)."""
    shape = (1,) * 62 + (2, 3)
    x = np.arange(6.0).reshape(shape)
    activation = fa.activations()[name]
    for axis in (-1, 0, 62):
        y = activation(x, axis=axis, backend=backend)
        ref = activation(x.reshape(2, 3) if axis != 0 else x.reshape(1, 6)[:, :1],
                         axis=-1 if axis == -1 else (0 if axis == 62 else -1), backend=backend)
        if axis == 0:
            assert np.array_equal(y.reshape(-1), np.full(6, 0.0 if name == "log_softmax" else 1.0))
        else:
            np.testing.assert_allclose(y.reshape(ref.shape), ref, rtol=1e-15)
        g = activation.backward(np.ones_like(x), x, axis=axis, backend=backend)
        assert g.shape == shape


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", [np.float16, np.int8, np.bool_])
@pytest.mark.parametrize("name", ["tanh", "gelu", "sigmoid", "softplus"])
def test_float16_result_is_rounded_before_a_wider_out(name: str, dtype: Any, backend: str) -> None:
    """Issue 15 item 11: the result dtype is float16 (as np.tanh's): it is rounded to
    float16 before it is written into a float32 or float64 out, as np.tanh does."""
    x = np.array([-3, -1, 0, 1, 2, 3, 5], dtype=np.float64).astype(dtype)
    activation = fa.activations()[name]
    expected = activation(x, backend=backend)
    assert expected.dtype == np.float16
    for out_dtype in (np.float32, np.float64):
        o = np.empty(x.shape, out_dtype)
        assert activation(x, out=o, backend=backend) is o
        assert np.array_equal(o, expected.astype(out_dtype))
        o2 = np.empty(x.shape, out_dtype)
        activation.backward(np.ones(x.shape, np.float16), x, out=o2, backend=backend)
        assert np.array_equal(
            o2, activation.backward(np.ones(x.shape, np.float16), x, backend=backend)
            .astype(out_dtype)
        )
    # NumPy's rule, the one followed: np.tanh into a float32 out rounds to float16 first.
    o = np.empty(x.shape, np.float32)
    np.tanh(x, out=o)
    numpys_own = np.tanh(x)
    assert np.array_equal(o, numpys_own.astype(np.float32))


# --------------------------------------------------------------------------- partial tails

#: Sizes around the driver's blocks (fa_driver.h FA_BLOCK, read): a lone partial
#: block, one short of a block, one past, the benchmark's 100 and two blocks plus one.
_B = _ufuncs.BLOCK
TAIL_SIZES = sorted({1, _B - 1, _B, _B + 1, 100, 2 * _B + 1})

#: Elementwise calls of every kind the fast path serves: no parameters, scalar
#: parameters, backward from x and from y, derivative, value and derivative.
_TAIL_CALLS: list[tuple[str, str, dict]] = [
    ("relu", "forward", {}),
    ("gelu", "forward", {}),
    ("leaky_relu", "forward", {"negative_slope": 0.2}),
    ("elu", "forward", {"alpha": 0.5}),
    ("hardtanh", "forward", {"min_val": -2, "max_val": 2}),
    ("gelu", "backward_x", {}),
    ("sigmoid", "backward_y", {}),
    ("tanh", "derivative", {}),
    ("softplus", "value_and_derivative", {"beta": 2.0}),
]


def _readonly(a: np.ndarray) -> np.ndarray:
    a.flags.writeable = False
    return a


def _tail_arrays(n: int, dtype: Any) -> dict:
    rng = np.random.default_rng(n)
    x = (rng.standard_normal(n) * 3).astype(dtype)
    x[:: 7] = 0.0  # exact zeros and signed zeros where the formulas branch
    x[3:: 11] = -0.0
    return {"x": x, "grad": rng.standard_normal(n).astype(dtype), "y": np.tanh(x) * 0.5 + 0.5}


def _tail_call(name: str, method: str, kwargs: dict, arrays: dict, out: Any,
               backend: str) -> Any:
    return _public(fa.activations()[name], method, arrays, {**kwargs, "backend": backend}, out)


def _strided_outs(method: str, n: int, dtype: Any) -> list[tuple[str, Any, Any]]:
    """(label, out to pass, the arrays it writes) of the layouts the fast path does not
    take: every other element of a larger array, and a contiguous view at an odd
    element offset (not aligned to a vector)."""
    made = []
    for label in ("strided", "offset"):
        def one(label: str = label) -> np.ndarray:
            if label == "strided":
                return np.full(2 * n + 1, 7.0, dtype)[1::2]
            return np.full(n + 1, 7.0, dtype)[1:]
        if method == "value_and_derivative":
            o = (one(), one())
            made.append((label, o, o))
        else:
            o1 = one()
            made.append((label, o1, (o1,)))
    return made


#: cython at every size and dtype; numba (whose first call of each kernel compiles it,
#: 0.3-2 s) at two sizes in float32.
_TAIL_CASES = [("cython", n, d) for n in TAIL_SIZES for d in (np.float32, np.float64)]
if "numba" in BACKENDS:
    _TAIL_CASES += [("numba", n, np.float32) for n in (65, 100)]


@pytest.mark.parametrize(("backend", "n", "dtype"), _TAIL_CASES)
def test_partial_tails_fast_general_and_strided_agree(n: int, dtype: Any, backend: str) -> None:
    """At sizes with a partial last block the fast path (contiguous, its tail through
    the driver's contiguous copy), the general path and strided or offset ``out``
    (the element-by-element gather and scatter) write the same bits, and each element
    is the one the same input gives at the head of a longer array (results do not
    depend on the element's position in its block)."""
    for name, method, kwargs in _TAIL_CALLS:
        arrays = _tail_arrays(n, dtype)
        activation = fa.activations()[name]
        label = f"{name}.{method}({kwargs}) n={n} {np.dtype(dtype)} {backend}"

        def fresh_out(method: str = method) -> Any:
            if method == "value_and_derivative":
                return (np.full(n, 7.0, dtype), np.full(n, 7.0, dtype))
            return np.full(n, 7.0, dtype)

        _fresh()
        general = fresh_out()
        used = {"backward_x": ("grad", "x"), "backward_y": ("grad", "y")}.get(method, ("x",))
        _general(activation, method, {k: arrays[k] for k in used},
                 {**kwargs, "backend": backend}, general)
        general_t = general if isinstance(general, tuple) else (general,)
        for attempt in range(2):  # the first call makes the plan, the second is fast
            fast = fresh_out()
            result = _tail_call(name, method, kwargs, arrays, fast, backend)
            fast_t = fast if isinstance(fast, tuple) else (fast,)
            if isinstance(result, tuple):
                assert all(r is f for r, f in zip(result, fast_t, strict=True)), label
            else:
                assert result is fast, label
            for a, b in zip(fast_t, general_t, strict=True):
                assert a.tobytes() == b.tobytes(), (label, attempt)
        for kind, out, written in _strided_outs(method, n, dtype):
            _tail_call(name, method, kwargs, arrays, out, backend)
            for a, b in zip(written, general_t, strict=True):
                assert np.ascontiguousarray(a).tobytes() == b.tobytes(), (label, kind)
        # The same inputs at the head of a longer array (whole blocks there).
        longer = {k: np.concatenate([v, v[::-1], v]) for k, v in arrays.items()}
        m = 3 * n
        long_out: Any = ((np.empty(m, dtype), np.empty(m, dtype))
                         if method == "value_and_derivative" else np.empty(m, dtype))
        _tail_call(name, method, kwargs, longer, long_out, backend)
        long_t = long_out if isinstance(long_out, tuple) else (long_out,)
        for a, b in zip(long_t, general_t, strict=True):
            assert a[:n].tobytes() == b.tobytes(), (label, "head of a longer array")
            assert a[2 * n:].tobytes() == b.tobytes(), (label, "tail of a longer array")


@pytest.mark.parametrize("backend", [b for b in ("cython", "numba") if b in BACKENDS])
@pytest.mark.parametrize("n", TAIL_SIZES)
def test_partial_tails_errors_agree(n: int, backend: str) -> None:
    """The same errors from the fast and the general path at these sizes, and nothing
    written into ``out``: a wrong-shape, wrong-dtype, read-only or overlapping out, a
    bad parameter value, a grad of another shape."""
    x = np.linspace(-3, 3, n, dtype=np.float32)
    # Each call gets o, n + 1 elements of 7.0, and passes a view of it as out.
    bad_calls: list[tuple[str, Any]] = [
        ("shape", lambda o: fa.relu(x, out=o, backend=backend)),
        ("dtype", lambda o: fa.relu(x, out=o[:n].view(np.int32), backend=backend)),
        ("param", lambda o: fa.leaky_relu(x, negative_slope="0.2", out=o[:n],
                                          backend=backend)),
        ("param-bool", lambda o: fa.leaky_relu(x, negative_slope=True, out=o[:n],
                                               backend=backend)),
        ("readonly", lambda o: fa.relu(x, out=_readonly(o[:n]), backend=backend)),
        ("keyword", lambda o: fa.relu(x, out=o[:n], backend=backend, bogus=1)),
        ("keyword-np-scalar", lambda o: fa.elu(x, alpha=np.float32(0.5), out=o[:n], backend=backend,
                                       inplace=True)),
        ("grad", lambda o: fa.gelu.backward(np.ones(n + 1, np.float32), x, out=o[:n],
                                            backend=backend)),
        ("grad-y", lambda o: fa.sigmoid.backward(np.ones(n + 1, np.float32), y=x, out=o[:n],
                                                 backend=backend)),
    ]
    for label, call in bad_calls:
        outcomes = []
        for warm in (False, True):
            _fresh()
            if warm:  # a cached plan for the good version of the same call
                o_good = np.empty_like(x)
                fa.relu(x, out=o_good, backend=backend)
                fa.leaky_relu(x, negative_slope=0.2, out=o_good, backend=backend)
                fa.gelu.backward(x, x, out=o_good, backend=backend)
                fa.sigmoid.backward(x, y=x, out=o_good, backend=backend)
            o = np.full(n + 1, 7.0, np.float32)
            try:
                call(o)
            except Exception as error:
                outcomes.append((type(error), str(error)))
            else:
                outcomes.append(None)
            assert np.all(o == 7.0), (label, n, warm, "out written by a call that raised")
        assert outcomes[0] is not None, (label, n, "no error")
        assert outcomes[0] == outcomes[1], (label, n, outcomes)

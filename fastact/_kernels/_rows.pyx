# Compiled with the directives and flags of setup.py.
"""The Cython backend's axis functions: softmax, log_softmax, softmin and glu.

Each method is a NumPy generalized ufunc over the axis (loops in ``fa_rows.h``),
called with ``axes=`` so that rows are visited in place along any axis, never
transposed through a copy. :func:`kernel` returns the backend kernel for a method.
"""

cimport numpy as cnp
from libc.stdint cimport intptr_t
from libc.stdlib cimport malloc

cnp.import_array()
cnp.import_ufunc()

cdef extern from "fa_rows.h":
    int fa_num_threads
    long fa_alloc_failure_count() noexcept nogil
    void fa_softmax_loop_f32(char **, const intptr_t *, const intptr_t *, void *) noexcept nogil
    void fa_softmax_loop_f64(char **, const intptr_t *, const intptr_t *, void *) noexcept nogil
    void fa_vjp_loop_f32(char **, const intptr_t *, const intptr_t *, void *) noexcept nogil
    void fa_vjp_loop_f64(char **, const intptr_t *, const intptr_t *, void *) noexcept nogil
    void fa_jacobian_loop_f32(char **, const intptr_t *, const intptr_t *, void *) noexcept nogil
    void fa_jacobian_loop_f64(char **, const intptr_t *, const intptr_t *, void *) noexcept nogil
    void fa_glu_loop_f32(char **, const intptr_t *, const intptr_t *, void *) noexcept nogil
    void fa_glu_loop_f64(char **, const intptr_t *, const intptr_t *, void *) noexcept nogil

ctypedef void (*loop_fn)(char **, const intptr_t *, const intptr_t *, void *) noexcept nogil

# Room for every gufunc's two loops (float32, float64), data and type codes.
cdef int MAX_GUFUNCS = 16
cdef cnp.PyUFuncGenericFunction *_funcs = <cnp.PyUFuncGenericFunction *>malloc(
    2 * MAX_GUFUNCS * sizeof(cnp.PyUFuncGenericFunction))
cdef void **_data = <void **>malloc(2 * MAX_GUFUNCS * sizeof(void *))
cdef char *_types = <char *>malloc(MAX_GUFUNCS * 8 * sizeof(char))
if _funcs == NULL or _data == NULL or _types == NULL:
    raise MemoryError("fastact: cannot allocate the gufunc tables")
cdef int _count = 0


cdef object _gufunc(str name, loop_fn f32, loop_fn f64, intptr_t kind, int nin, int nout,
                    str signature):
    global _count
    cdef int i = _count, k, nargs = nin + nout
    if i >= MAX_GUFUNCS:
        raise RuntimeError("fastact: too many gufuncs")
    _count += 1
    _funcs[2 * i] = <cnp.PyUFuncGenericFunction>f32
    _funcs[2 * i + 1] = <cnp.PyUFuncGenericFunction>f64
    _data[2 * i] = <void *>kind
    _data[2 * i + 1] = <void *>kind
    for k in range(nargs):
        _types[8 * i + k] = cnp.NPY_FLOAT32
        _types[8 * i + nargs + k] = cnp.NPY_FLOAT64
    name_b, sig_b = name.encode("ascii"), signature.encode("ascii")
    # NumPy keeps pointers to name and signature: keep the bytes alive.
    _KEEP.extend((name_b, sig_b))
    return cnp.PyUFunc_FromFuncAndDataAndSignature(
        &_funcs[2 * i], &_data[2 * i], &_types[8 * i], 2, nin, nout, cnp.PyUFunc_None,
        name_b, name_b, 0, sig_b,
    )


_KEEP = []
_FAMILY = ("softmax", "log_softmax", "softmin")

#: name -> gufunc
GUFUNCS = {}
for _kind, _name in enumerate(_FAMILY):
    GUFUNCS[f"{_name}_forward"] = _gufunc(
        f"{_name}_forward", fa_softmax_loop_f32, fa_softmax_loop_f64, _kind, 1, 1, "(n)->(n)")
    GUFUNCS[f"{_name}_derivative"] = _gufunc(
        f"{_name}_jacobian", fa_jacobian_loop_f32, fa_jacobian_loop_f64, _kind, 1, 1,
        "(n)->(n,n)")
    GUFUNCS[f"{_name}_backward_y"] = _gufunc(
        f"{_name}_backward_y", fa_vjp_loop_f32, fa_vjp_loop_f64, _kind, 2, 1,
        "(n),(n)->(n)")
    GUFUNCS[f"{_name}_backward_x"] = _gufunc(
        f"{_name}_backward_x", fa_vjp_loop_f32, fa_vjp_loop_f64, _kind + 3, 2, 1,
        "(n),(n)->(n)")
GUFUNCS["glu_forward"] = _gufunc("glu_forward", fa_glu_loop_f32, fa_glu_loop_f64, 0, 1, 1,
                                 "(n)->(m)")
GUFUNCS["glu_derivative"] = _gufunc("glu_jacobian", fa_glu_loop_f32, fa_glu_loop_f64, 1, 1, 1,
                                    "(n)->(m,n)")
GUFUNCS["glu_backward_x"] = _gufunc("glu_backward_x", fa_glu_loop_f32, fa_glu_loop_f64, 2, 2,
                                    1, "(m),(n)->(n)")


def set_num_threads(int n):
    """Threads for the row loops (fastact._threads calls this; n >= 1)."""
    global fa_num_threads
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    fa_num_threads = n


def alloc_failures():
    """How many row scratch allocations failed so far in this module (any thread):
    the fast path (fastact._kernels._fastcall) reads it around the loops that malloc,
    as the wrappers below do."""
    return fa_alloc_failure_count()


def check_scratch(long before, Py_ssize_t n):
    """MemoryError if a scratch allocation failed since ``before`` (alloc_failures())."""
    _check_scratch(before, n)


cdef _check_scratch(long before, Py_ssize_t n):
    if fa_alloc_failure_count() != before:
        raise MemoryError(
            f"fastact: no memory for a row's scratch ({n} elements); the rows concerned "
            "were written as NaN"
        )


def _one(gufunc):
    def run(x, out, *, axis):
        gufunc(x, out=out, axes=[(axis,), (axis,)])
    return run


def _jacobian(gufunc):
    def run(x, out, *, axis):
        cdef long before = fa_alloc_failure_count()
        gufunc(x, out=out, axes=[(axis,), (axis, out.ndim - 1)])
        _check_scratch(before, x.shape[axis])
    return run


def _two(gufunc):
    def run(grad, v, out, *, axis):
        cdef long before = fa_alloc_failure_count()
        gufunc(grad, v, out=out, axes=[(axis,), (axis,), (axis,)])
        _check_scratch(before, v.shape[axis])
    return run


def _value_and_jacobian(forward, jacobian):
    def run(x, out_y, out_d, *, axis):
        # The Jacobian first: out_y may be x itself (in place).
        jacobian(x, out_d, axis=axis)
        forward(x, out_y, axis=axis)
    return run


def kernel(str activation, str method):
    """The kernel of ``method`` for an axis function, or None if not served."""
    forward = GUFUNCS.get(f"{activation}_forward")
    if forward is None:
        return None
    if method == "forward":
        return _one(forward)
    if method == "derivative":
        return _jacobian(GUFUNCS[f"{activation}_derivative"])
    if method == "value_and_derivative":
        return _value_and_jacobian(_one(forward), _jacobian(GUFUNCS[f"{activation}_derivative"]))
    found = GUFUNCS.get(f"{activation}_{method}")
    return None if found is None else _two(found)

# Compiled with the directives and flags of setup.py.
"""The Cython backend's elementwise kernels, as NumPy ufuncs.

Every kernel of ``fa_formulas.h`` (generated from ``fastact/_formulas.py`` by
``tools/codegen.py``) becomes a real ufunc with a float32 and a float64 loop,
``UFUNCS[name]`` with ``name = "{activation}[_{variant}]_{method}"``. The inputs are
the arrays of the method (``x``, or ``grad`` and ``x``/``y``), then the activation's
real parameters in registry order; the outputs follow. So NumPy's machinery gives
them broadcasting, any strides, ``out=``, casting and ``__array_ufunc__``; the inner
loop (``fa_driver.h``) adds SIMD blocks and OpenMP threads.

:func:`rrelu_training` serves rrelu's training mode, whose slopes depend on each
element's C-order index and so cannot be a ufunc.
"""

cimport numpy as cnp
from libc.stdint cimport intptr_t, uint64_t
from libc.stdlib cimport malloc

import numpy as np

cnp.import_array()
cnp.import_ufunc()

cdef extern from "fa_formulas.h":
    ctypedef void (*fa_block_fn)(char **args, const void *param_values, int n) noexcept nogil
    ctypedef struct fa_loop:
        fa_block_fn scalar_params
        fa_block_fn array_params
        int nin, nparams, nout, esize
    ctypedef struct fa_kernel_entry:
        const char *name
        const char *doc
        int nin, nparams, nout
        fa_block_fn f32_scalar, f32_array, f64_scalar, f64_array
    int FA_KERNEL_COUNT
    int FA_BLOCK
    const fa_kernel_entry fa_kernel_table[]
    int fa_num_threads
    intptr_t fa_parallel_min
    void fa_ufunc_loop(char **args, const intptr_t *dimensions, const intptr_t *steps,
                       void *data) noexcept nogil

cdef extern from "fa_rrelu.h":
    int fa_rrelu_training(const fa_loop *L, int ndim, const intptr_t *shape,
                          char **args, const intptr_t *const *strides,
                          uint64_t key, double lower, double upper) noexcept nogil
    uint64_t fastact_mix64(uint64_t z) noexcept nogil

cdef extern from "fa_driver.h":
    intptr_t FA_PARALLEL_MIN_C "FA_PARALLEL_MIN_DEFAULT"

#: The element count from which loops use several threads (measured: see fa_driver.h).
FA_PARALLEL_MIN_DEFAULT = FA_PARALLEL_MIN_C

cdef char _F32 = cnp.NPY_FLOAT32
cdef char _F64 = cnp.NPY_FLOAT64


cdef fa_loop *_loops = <fa_loop *>malloc(2 * FA_KERNEL_COUNT * sizeof(fa_loop))
cdef cnp.PyUFuncGenericFunction *_funcs = <cnp.PyUFuncGenericFunction *>malloc(
    2 * FA_KERNEL_COUNT * sizeof(cnp.PyUFuncGenericFunction))
cdef void **_data = <void **>malloc(2 * FA_KERNEL_COUNT * sizeof(void *))
cdef char *_types = <char *>malloc(16 * FA_KERNEL_COUNT * sizeof(char))
if _loops == NULL or _funcs == NULL or _data == NULL or _types == NULL:
    raise MemoryError("fastact: cannot allocate the ufunc tables")


cdef object _make_ufuncs():
    cdef int i, k, nargs
    cdef const fa_kernel_entry *e
    ufuncs = {}
    for i in range(FA_KERNEL_COUNT):
        e = &fa_kernel_table[i]
        nargs = e.nin + e.nparams + e.nout
        for k in range(2):
            _loops[2 * i + k].scalar_params = e.f32_scalar if k == 0 else e.f64_scalar
            _loops[2 * i + k].array_params = e.f32_array if k == 0 else e.f64_array
            _loops[2 * i + k].nin = e.nin
            _loops[2 * i + k].nparams = e.nparams
            _loops[2 * i + k].nout = e.nout
            _loops[2 * i + k].esize = 4 if k == 0 else 8
            _funcs[2 * i + k] = <cnp.PyUFuncGenericFunction>fa_ufunc_loop
            _data[2 * i + k] = <void *>&_loops[2 * i + k]
        # PyUFunc_FromFuncAndData reads ntypes * nargs type codes: the float32
        # loop's, then the float64 loop's (16 slots per kernel, nargs <= 8).
        for k in range(nargs):
            _types[16 * i + k] = _F32
            _types[16 * i + nargs + k] = _F64
        ufuncs[e.name.decode("ascii")] = cnp.PyUFunc_FromFuncAndData(
            &_funcs[2 * i], &_data[2 * i], &_types[16 * i], 2,
            e.nin + e.nparams, e.nout, cnp.PyUFunc_None,
            e.name, e.doc, 0,
        )
    return ufuncs


#: kernel name -> numpy.ufunc
UFUNCS = _make_ufuncs()
#: Elements per SIMD block (thread splits fall on multiples of it).
BLOCK = FA_BLOCK


def set_num_threads(int n):
    """Threads for the parallel loops (fastact._threads calls this; n >= 1)."""
    global fa_num_threads
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    fa_num_threads = n


def get_num_threads():
    return fa_num_threads


def set_parallel_min(Py_ssize_t n):
    """The element count from which loops run on several threads (for measuring it)."""
    global fa_parallel_min
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    fa_parallel_min = n


def get_parallel_min():
    return fa_parallel_min


cdef int _loop_of(const fa_kernel_entry *e, object dtype, fa_loop *loop, str who) except -1:
    """Fill ``loop`` with kernel ``e``'s block functions for ``dtype``; its size."""
    if dtype == np.float32:
        loop.scalar_params, loop.array_params, loop.esize = e.f32_scalar, e.f32_array, 4
    elif dtype == np.float64:
        loop.scalar_params, loop.array_params, loop.esize = e.f64_scalar, e.f64_array, 8
    else:
        raise TypeError(f"{who}: float32 or float64 arrays, got {dtype}")
    loop.nin, loop.nparams, loop.nout = e.nin, e.nparams, e.nout
    return loop.esize


def rrelu_training(str method, seed, double lower, double upper, *arrays):
    """rrelu in training mode: prelu's kernel with slope_i = lower + (upper - lower) u_i.

    ``method`` is a prelu kernel method (forward, derivative, value_and_derivative,
    backward_x); ``arrays`` are that method's inputs then outputs, all of one shape
    and dtype (float32 or float64), any strides. u_i is the rrelu hash of ``seed`` and
    the element's C-order index (see ``_runtime``), so the slopes are the same on any
    backend, thread count and memory layout.
    """
    cdef int i, k, nin, nargs, ndim, esize
    cdef const fa_kernel_entry *e = NULL
    cdef fa_loop loop
    cdef intptr_t shape[32]
    cdef intptr_t strides_store[8][32]
    cdef const intptr_t *strides[8]
    cdef char *args[8]
    cdef cnp.ndarray a
    cdef uint64_t key
    name = f"prelu_{method}".encode("ascii")
    for i in range(FA_KERNEL_COUNT):
        if fa_kernel_table[i].name == name:
            e = &fa_kernel_table[i]
    if e == NULL:
        raise ValueError(f"rrelu_training: no prelu kernel for method {method!r}")
    nin, nargs = e.nin, e.nin + e.nparams + e.nout
    if len(arrays) != nargs - e.nparams:
        raise ValueError(f"rrelu_training({method!r}) takes {nargs - e.nparams} arrays")
    first = arrays[0]
    dtype = first.dtype
    esize = _loop_of(e, dtype, &loop, "rrelu_training")
    ndim = first.ndim
    if ndim > 32:
        raise ValueError("rrelu_training: at most 32 dimensions")
    for k in range(ndim):
        shape[k] = first.shape[k]
    # args: inputs, then a NULL slot for the weight (filled with slopes), then outputs.
    slot = 0
    for k, array in enumerate(arrays):
        a = array
        if array.dtype != dtype or array.shape != first.shape:
            raise ValueError("rrelu_training: arrays must share dtype and shape")
        if k == nin:
            args[slot] = NULL
            slot += 1
        for i in range(ndim):
            strides_store[slot][i] = a.strides[i]
        strides[slot] = strides_store[slot]
        args[slot] = <char *>cnp.PyArray_DATA(a)
        slot += 1
    key = fastact_mix64(<uint64_t>seed)
    with nogil:
        fa_rrelu_training(&loop, ndim, shape, args, strides, key, lower, upper)


cdef extern from "fa_periodic.h":
    int fa_periodic_run(const fa_loop *L, char *const *args, const intptr_t *steps,
                        intptr_t n, intptr_t period, int bias_arg, const char *bias,
                        const void *values, int sum_arg, void *sums) noexcept nogil


#: kernel name -> its row in the kernel table
_INDEX = {fa_kernel_table[i].name.decode("ascii"): i for i in range(FA_KERNEL_COUNT)}


def run_periodic(str name, tuple inputs, int bias_arg, Py_ssize_t period, tuple values,
                 tuple outputs, bias_grad=None):
    """Kernel ``name`` over flat C-contiguous arrays of n elements in one call, its
    input ``bias_arg`` given as ``period`` elements that repeat along the others
    (``fa_periodic.h``: chunks of whole periods on the thread pool, one bias tile);
    ``bias_arg`` -1: no such input. ``values``: the kernel's real parameters (Python
    floats). With ``bias_grad`` (a C-contiguous array of ``period`` elements), the rows
    of the first output (``n / period`` of them) are summed into it, in float64
    (compensated for float64) and rounded once. The callers (the Cython backend, for fastact._bias)
    have checked shapes and dtypes; the checks here guard the memory accesses."""
    cdef int i, k, nargs, esize, nin
    cdef const fa_kernel_entry *e
    cdef fa_loop loop
    cdef char *args[8]
    cdef intptr_t steps[8]
    cdef char params_buf[64]
    cdef intptr_t n
    cdef char *bias_data = NULL
    cdef void *sums = NULL
    cdef cnp.ndarray a
    cdef int sum_arg = -1, rc
    e = &fa_kernel_table[_INDEX[name]]
    nin = e.nin
    nargs = e.nin + e.nparams + e.nout
    if len(inputs) != nin or len(values) != e.nparams or len(outputs) != e.nout:
        raise ValueError(f"run_periodic({name!r}): {nin} inputs, {e.nparams} values and "
                         f"{e.nout} outputs")
    first = outputs[0]
    dtype = first.dtype
    esize = _loop_of(e, dtype, &loop, "run_periodic")
    n = first.size
    if period < 1 or n % period:
        raise ValueError(f"run_periodic: {n} elements are not whole periods of {period}")
    for k, array in enumerate((*inputs, *outputs)):
        a = array
        expected = period if k == bias_arg else n
        if a.dtype != dtype or not a.flags.c_contiguous or a.size != expected:
            raise ValueError(f"run_periodic: operand {k} must be C-contiguous {dtype} "
                             f"of {expected} elements")
        if k >= nin and not a.flags.writeable:
            raise ValueError(f"run_periodic: output {k - nin} is read-only")
        slot = k if k < nin else k + e.nparams
        args[slot] = <char *>cnp.PyArray_DATA(a)
        steps[slot] = esize
        if k == bias_arg:
            bias_data = args[slot]
    for k in range(e.nparams):
        if esize == 4:
            (<float *>params_buf)[k] = <float>(<double>values[k])
        else:
            (<double *>params_buf)[k] = <double>values[k]
        args[nin + k] = params_buf + k * esize
        steps[nin + k] = 0
    if bias_grad is not None:
        a = bias_grad
        if (a.dtype != dtype or a.size != period or not a.flags.writeable
                or not a.flags.c_contiguous):
            raise ValueError(f"run_periodic: bias_grad must be writeable C-contiguous "
                             f"{dtype} of {period}")
        sum_arg = nin + e.nparams
        sums = cnp.PyArray_DATA(a)
    if n == 0:
        if bias_grad is not None:
            bias_grad[...] = 0
        return
    with nogil:
        rc = fa_periodic_run(&loop, args, steps, n, period, bias_arg, bias_data,
                             params_buf, sum_arg, sums)
    if rc != 0:
        raise MemoryError("fastact: the bias tile or the bias gradient's accumulators")

# Compiled with the directives and flags of setup.py.
"""The compiled fast path of the activation objects (issue 14).

:class:`Base` is the base class of :class:`fastact._api.Activation`: its ``__call__``
and the :class:`Method` descriptors that serve ``derivative``, ``backward`` and
``value_and_derivative`` handle the common call here, in C, and hand everything else
to the general path (``Activation._run`` and the Python methods), which raises the
errors. The common call:

* the arrays (x, grad, y, ``out``) are exactly ``numpy.ndarray``, native float32 or
  float64, C-contiguous, aligned, of one shape, with at least one dimension;
* ``out`` absent, or writeable and either an input itself or not overlapping any;
* the parameters are keywords whose values are Python or NumPy scalars, and a call
  plan for them is cached (``fastact._validate.plan``: the general path makes it on
  the first call), so validation is the general path's, looked up under the same key;
* the plan's backend is ``"cython"``: the loop of its ufunc (elementwise) or gufunc
  (softmax, log_softmax, softmin forward and backward from y) is called directly,
  with the parameters as broadcast values, not through NumPy's ufunc machinery.
  The loops are the ufuncs' own (``fa_driver.h``'s ``fa_ufunc_loop``, the row loops
  of ``fa_rows.h``): threads, SIMD and floating-point state are theirs. For any other
  backend the plan's kernel is called with the validated arrays.

How a call reaches it: the activation objects and their methods take the vectorcall
protocol (PEP 590: the arguments as a C array, no tuple or dict built), and each
activation object remembers its last eight plans (``_Memo``), keyed on the method,
dtype, backend, the call site's tuple of keyword names (one object per call site) and
the parameter values compared as ``param_key`` compares them (type and bits: ``1``,
``1.0``, ``True`` and ``-0.0``/``0.0`` differ); a memo is valid while the plan cache is
the same dict with the same version tag (any change of the cache, a new plan included,
sends the next call to the cache lookup, which refreshes it). Measured with callgrind
(instructions per call from a Python loop, 100 float32 elements, ``out=``, 1 thread;
``np.tanh(x, out=o)`` 5,628): relu 5,864 -> 3,202, gelu 7,436 -> 4,766,
``leaky_relu(negative_slope=0.2)`` 9,017 -> 3,573, ``gelu.backward(g, x)`` 9,371 ->
6,138, ``sigmoid.backward(g, y=y)`` 7,348 -> 3,932, ``tanh.derivative`` 6,975 -> 4,228,
softmax (10, 10) 9,529 -> 6,842 and its backward from y 9,724 -> 6,301, numba relu
8,088 -> 4,989. Calls with ``**kwargs`` (a new tuple of names each time) or through
``tp_call`` skip the memo and look the plan up in the cache.

So the fast path gives the general path's results bit for bit (the same loop on the
same memory) and never raises where the general path would not.
"""

cimport cython
cimport numpy as cnp
from cpython.contextvars cimport get_value
from cpython.dict cimport PyDict_GetItem
from cpython.object cimport PyObject
from cpython.mem cimport PyMem_RawCalloc, PyMem_RawFree, PyMem_RawMalloc
from libc.math cimport copysign
from libc.stdint cimport intptr_t
from libc.string cimport memcmp, memcpy

import numpy as np

cnp.import_array()
cnp.import_ufunc()

ctypedef void (*loop_fn)(char **, const intptr_t *, const intptr_t *, void *) noexcept nogil
# numba's cfunc entries of its loops (numba_backend.c_entry): (pointers to the inputs
# then the outputs, elements, float64 parameter values).
ctypedef void (*c_entry_fn)(void **, intptr_t, double *) noexcept nogil
# numba's batched row kernels' cfunc entries (numba_rows.raw_entry): (pointers to the
# inputs then the output, outer, n, inner, kind, mode, tile).
ctypedef void (*rows_entry_fn)(void **, long long, long long, long long, long long,
                               long long, long long) noexcept nogil

cdef enum:
    FORWARD = 0
    DERIVATIVE = 1
    BACKWARD_X = 2
    BACKWARD_Y = 3
    VALUE_AND_DERIVATIVE = 4

_METHODS = ("forward", "derivative", "backward_x", "backward_y", "value_and_derivative")

cdef extern from "fa_bias.h":
    void fa_add_rows_f32(const float *t, intptr_t rows, intptr_t cols, double *acc) nogil
    void fa_add_rows_f64(const double *t, intptr_t rows, intptr_t cols, double *acc,
                         double *comp) nogil
    void fa_fill_tile(char *tile, const char *bias, intptr_t period_bytes,
                      intptr_t n_bytes) nogil
    void fa_store_sums(const double *acc, const double *comp, intptr_t n, void *out,
                       int esize) nogil

#: Small bias= calls (fastact._bias) on the fast path: up to this many elements (the
#: bias tile is one malloc of the input's size; larger calls take the general path's
#: driver, fa_periodic.h, whose chunks the pool threads). One chunk of that driver
#: (FA_PERIODIC_CHUNK) holds all of them, so both paths sum the bias gradient alike.
cdef intptr_t _BIAS_FAST_MAX = 1 << 16

#: Elements from which the loop runs without the GIL (below, releasing and taking
#: it back costs more than it frees: ~0.1 us against ~0.05 us of relu at 100).
cdef intptr_t _NOGIL_MIN = 4096

cdef object _ndarray = np.ndarray
cdef object _float = float
cdef object _int = int
cdef object _bool = bool
cdef object _str = str
cdef object _none_type = type(None)
cdef object _f32_scalar = np.float32
cdef object _f64_scalar = np.float64
cdef object _NotImplemented = NotImplemented

# The floor below, bound once (module attributes are looked up per call: tests
# replace _dispatch._selected).
from fastact import _dispatch, _validate

cdef object _context_choice = _dispatch._context_choice


cdef class Direct:
    """The fast path's data for one plan (``Plan.fast``): the C loop of a cython
    ufunc or gufunc with its parameter values, or ``kernel`` for other backends."""
    cdef loop_fn fn
    cdef void *data
    cdef int nin, nparams, nout, rows
    # rows: the loop may malloc row scratch (backward from x): _rows' failure count is
    # read around it, and a failure raises MemoryError as the general path does
    cdef int scratch
    cdef object alloc_failures, check_scratch
    cdef double values_f64[8]
    cdef float values_f32[8]
    cdef object keep
    cdef object kernel
    cdef dict params
    cdef int axis
    # numba: the generated loop, its parameter values and the module whose
    # PARALLEL_MIN bounds the calls it takes (numba_backend.direct_loop).
    cdef object loop
    cdef tuple loop_values
    cdef object loop_module
    cdef c_entry_fn c_entry
    cdef object c_keep
    # numba's axis functions: the batched kernels' cfunc entry (direct_rows).
    cdef rows_entry_fn rows_fn
    cdef object rows_entry
    cdef object tile_of
    # the last (row length, tile) pair: numba_rows._tile is Python, 0.31 us a call
    cdef intptr_t tile_n
    cdef long long tile_value
    cdef long long row_kind
    cdef intptr_t columns_max, short_row

    def __repr__(self):
        return f"<fastact fast path {self.keep!r} {self.kernel!r}>"


cdef object _make_direct(object plan, int typenum, object kernel_method=None):
    """The Direct of ``plan``, or False when the fast path does not serve it; with
    ``kernel_method``, of that kernel of the plan's activation (its fused-bias one)."""
    cdef Direct d = Direct()
    cdef cnp.ufunc uf
    cdef int k
    spec = plan.spec
    method = plan.method if kernel_method is None else kernel_method
    params = plan.params
    if method == "backward_x" and spec.param_grads:
        return False
    if method == "value_and_derivative" and spec.kind != "elementwise":
        return False
    d.kernel = None
    d.rows = 0
    if plan.backend != "cython":
        if any(isinstance(v, np.ndarray) for v in params.values()):
            return False
        if spec.kind != "elementwise" and (
            spec.halves_axis or method not in ("forward", "backward_x", "backward_y")
        ):
            return False  # glu and the Jacobian: results of another shape than x's
        d.kernel = plan.kernels[0]
        d.keep = plan.kernels
        d.params = params
        d.loop = None
        d.rows_entry = None
        dtype = np.dtype(np.float32 if typenum == cnp.NPY_FLOAT32 else np.float64)
        if plan.backend == "numba" and spec.kind != "elementwise":
            from fastact._backends import numba_backend
            from fastact._kernels import numba_rows
            found = numba_backend.direct_rows(spec.name, method, dtype)
            if found is not None:
                d.rows_entry, d.row_kind, d.columns_max, d.short_row = found
                d.rows_fn = <rows_entry_fn><void *><intptr_t>d.rows_entry.address
                d.tile_of = numba_rows._tile
                d.tile_n = -1
                d.loop_module = numba_backend
                d.axis = params["axis"]
        elif plan.backend == "numba":
            from fastact._backends import numba_backend
            found = numba_backend.direct_loop(spec.name, method, dtype, params)
            d.c_entry = NULL
            if found is not None:
                d.loop, d.loop_values, d.c_keep = found
                d.loop_module = numba_backend
                if d.c_keep is not None and len(d.loop_values) <= 8:
                    d.c_entry = <c_entry_fn><void *><intptr_t>d.c_keep.address
                    for k in range(len(d.loop_values)):
                        d.values_f64[k] = d.loop_values[k]
        return d
    from fastact._backends._shared import kernel_name, param_values, real_params
    from fastact._kernels import _rows, _ufuncs
    if spec.kind == "elementwise":
        if params.get("training"):
            return False  # rrelu's training slopes: the C-order walker
        name_of = kernel_name(spec.name, method, _ufuncs.UFUNCS)
        if name_of is None:
            return False
        names = real_params(spec.name)
        values = param_values(names, params)
        if not all(type(v) is float for v in values) or len(values) > 8:
            return False
        ufunc = _ufuncs.UFUNCS[name_of(params)]
        d.nparams = len(values)
        for k in range(d.nparams):
            d.values_f64[k] = values[k]
            d.values_f32[k] = <float>(<double>values[k])
    else:
        if spec.halves_axis or method not in ("forward", "backward_y", "backward_x"):
            return False  # glu; the Jacobian
        ufunc = _rows.GUFUNCS.get(f"{spec.name}_{method}")
        if ufunc is None:
            return False
        d.rows = 1
        d.scratch = method == "backward_x"
        d.alloc_failures, d.check_scratch = _rows.alloc_failures, _rows.check_scratch
        d.axis = params["axis"]
        d.nparams = 0
    uf = ufunc
    if uf.ntypes != 2 or uf.nargs > 8:
        return False
    k = 0 if typenum == cnp.NPY_FLOAT32 else 1
    if uf.types[k * uf.nargs] != typenum:
        return False
    d.fn = <loop_fn><void *>uf.functions[k]
    d.data = uf.data[k]
    d.nin = uf.nin - d.nparams
    d.nout = uf.nout
    d.keep = ufunc
    return d


cdef object _make_bias_direct(object plan, int typenum):
    """The Direct of the fused-bias loop of ``plan``'s method (for the backward from
    y, the plain loop: the bias only shapes its gradient), or False."""
    spec = plan.spec
    method = plan.method
    if plan.backend != "cython" or spec.kind != "elementwise":
        return False
    if plan.params.get("training") or (method == "backward_x" and spec.param_grads):
        return False
    if method == "backward_y":
        fast = plan.fast
        if fast is None:
            fast = _make_direct(plan, typenum)
            plan.fast = fast
        return fast
    if method not in ("forward", "derivative", "backward_x"):
        return False
    return _make_direct(plan, typenum, f"{method}_bias")


cdef inline bint _exact(object a, int typenum):
    """An ndarray the loops take as it is."""
    if type(a) is not _ndarray:
        return False
    cdef cnp.ndarray arr = <cnp.ndarray>a
    return (
        cnp.PyArray_TYPE(arr) == typenum
        and cnp.PyArray_NDIM(arr) >= 1
        and cnp.PyArray_IS_C_CONTIGUOUS(arr)
        and cnp.PyArray_ISALIGNED(arr)
        and cnp.PyArray_ISNOTSWAPPED(arr)
    )


cdef inline intptr_t _input_args(char **args, intptr_t *steps, object grad,
                                 cnp.ndarray first, intptr_t esize):
    """A loop's leading arguments: grad (if any), then the main input, contiguous;
    returns how many."""
    cdef intptr_t k = 0
    if grad is not None:
        args[k] = <char *>cnp.PyArray_DATA(<cnp.ndarray>grad)
        steps[k] = esize
        k += 1
    args[k] = <char *>cnp.PyArray_DATA(first)
    steps[k] = esize
    return k + 1


cdef inline intptr_t _param_out_args(char **args, intptr_t *steps, intptr_t k,
                                     void *values, int nparams, intptr_t esize, object out):
    """After the inputs: the parameters as broadcast values (step 0), then ``out``;
    returns the argument count."""
    cdef int j
    for j in range(nparams):
        args[k] = <char *>values + j * esize
        steps[k] = 0
        k += 1
    args[k] = <char *>cnp.PyArray_DATA(<cnp.ndarray>out)
    steps[k] = esize
    return k + 1


cdef inline object _flat(object a):
    """The 1-D view of a C-contiguous array."""
    return cnp.PyArray_Ravel(<cnp.ndarray>a, cnp.NPY_CORDER)


cdef inline bint _disjoint(cnp.ndarray a, cnp.ndarray b):
    """Whether two contiguous arrays share no byte."""
    cdef char *pa = <char *>cnp.PyArray_DATA(a)
    cdef char *pb = <char *>cnp.PyArray_DATA(b)
    return pa + cnp.PyArray_NBYTES(a) <= pb or pb + cnp.PyArray_NBYTES(b) <= pa


cdef inline bint _out_ok(object o, cnp.ndarray first, int typenum, object in1, object in2,
                         bint exact_ok):
    """``o`` is an array the loop may write: of the inputs' shape and dtype,
    writeable, an input itself (when ``exact_ok``) or disjoint from them."""
    if not _exact(o, typenum):
        return False
    cdef cnp.ndarray arr = <cnp.ndarray>o
    if not cnp.PyArray_ISWRITEABLE(arr) or not cnp.PyArray_SAMESHAPE(arr, first):
        return False
    if o is in1 or o is in2:
        return exact_ok
    if not _disjoint(arr, <cnp.ndarray>in1):
        return False
    if in2 is not None and not _disjoint(arr, <cnp.ndarray>in2):
        return False
    return True


cdef object _param_key(dict params):
    """The key of fastact._validate.param_key for keyword values the fast path takes
    (Python floats, ints, bools, strings, None, NumPy float32/float64 scalars), or
    None for others (the general path makes their key)."""
    if not params:
        return ()
    items = []
    for name, value in params.items():
        kind = type(value)
        if kind is _float:
            items.append((name, kind, value, copysign(1.0, <double>value)))
        elif kind is _int or kind is _bool or kind is _str or kind is _none_type:
            items.append((name, kind, value))
        elif kind is _f32_scalar or kind is _f64_scalar:
            items.append((name, kind, value, copysign(1.0, <double>value)))
        else:
            return None
    return tuple(items)


cdef extern from *:
    """
    /* The activation objects and their methods take calls through the vectorcall
       protocol (PEP 590): the interpreter hands over the arguments as a C array
       and a tuple of keyword names, with no argument tuple or keyword dict to
       build (tp_call needs both: about a third of a 100-element call, measured
       with callgrind). CPython 3.11 does not let a mutable heap subclass inherit
       Py_TPFLAGS_HAVE_VECTORCALL, so each activation's class gets it here. */
    static void fa_enable_vectorcall(PyObject *type, Py_ssize_t offset) {
        PyTypeObject *t = (PyTypeObject *)type;
        t->tp_vectorcall_offset = offset;
        t->tp_flags |= Py_TPFLAGS_HAVE_VECTORCALL;
        PyType_Modified(t);
    }

    /* The classic call of the same object (its tp_call, the general path's entry),
       for calls the fast path does not take. Not PyObject_Call: that would come
       back through the vectorcall entry. */
    static PyObject *fa_tp_call(PyObject *self, PyObject *const *args, size_t nargsf,
                                PyObject *kwnames) {
        Py_ssize_t nargs = PyVectorcall_NARGS(nargsf), nkw, i;
        PyObject *tuple, *kwargs = NULL, *result;
        tuple = PyTuple_New(nargs);
        if (tuple == NULL) return NULL;
        for (i = 0; i < nargs; i++) {
            Py_INCREF(args[i]);
            PyTuple_SET_ITEM(tuple, i, args[i]);
        }
        nkw = kwnames == NULL ? 0 : PyTuple_GET_SIZE(kwnames);
        if (nkw) {
            kwargs = PyDict_New();
            if (kwargs == NULL) { Py_DECREF(tuple); return NULL; }
            for (i = 0; i < nkw; i++) {
                if (PyDict_SetItem(kwargs, PyTuple_GET_ITEM(kwnames, i), args[nargs + i]) < 0) {
                    Py_DECREF(tuple); Py_DECREF(kwargs); return NULL;
                }
            }
        }
        result = Py_TYPE(self)->tp_call(self, tuple, kwargs);
        Py_DECREF(tuple);
        Py_XDECREF(kwargs);
        return result;
    }

    /* Whether two keyword names (str) are the same: by identity when both are
       interned (the names of a call site are), else by value. */
    static int fa_same_name(PyObject *a, PyObject *b) {
        if (a == b) return 1;
        if (PyUnicode_CHECK_INTERNED(a) && PyUnicode_CHECK_INTERNED(b)) return 0;
        return PyUnicode_Compare(a, b) == 0;
    }

    /* A dict's version tag, which changes with every change of the dict: the
       plan memo is valid while the plan cache's tag is the one it saw. CPython
       3.12 deprecates the tag: there the memo is off (the cache lookup remains). */
    #if PY_VERSION_HEX < 0x030C0000
    #define FA_HAVE_DICT_VERSION 1
    #define fa_dict_version(d) (((PyDictObject *)(d))->ma_version_tag)
    #else
    #define FA_HAVE_DICT_VERSION 0
    #define fa_dict_version(d) ((unsigned long long)0)
    #endif
    """
    void fa_enable_vectorcall(object type, Py_ssize_t offset)
    object fa_tp_call(object self, PyObject **args, size_t nargsf, PyObject *kwnames)
    int fa_same_name(PyObject *a, PyObject *b)
    unsigned long long fa_dict_version(object d)
    bint FA_HAVE_DICT_VERSION
    Py_ssize_t PyVectorcall_NARGS(size_t nargsf)

#: Plans one activation object remembers (per method, dtype, backend, keyword call
#: site and parameter values): a training loop calls each activation with one or two
#: of them; eight also cover a test's few.
cdef enum:
    _MEMO_SIZE = 8

cdef object _selected_of = _dispatch.__dict__   # where _dispatch._selected is bound now
cdef object _SKIP = object()                    # a memo's placeholder for array keywords


cdef inline bint _same_value(object expected, object value):
    """Whether a memoised keyword value is this one, as the plan key tells values
    apart (fastact._validate.param_key): same type, and for floats the same bits
    (0.0 is not -0.0; 1 is not 1.0 or True)."""
    cdef double a, b
    if value is expected:
        return True
    kind = type(value)
    if kind is not type(expected):
        return False
    if kind is _float or kind is _f64_scalar or kind is _f32_scalar:
        a = <double>expected
        b = <double>value
        return memcmp(&a, &b, sizeof(double)) == 0
    if kind is _int or kind is _str:
        return expected == value
    return False


@cython.final
cdef class _Memo:
    """One remembered plan: what it was looked up for, and its Direct (or False)."""
    cdef int method, typenum, ndim
    cdef object backend
    cdef object kwnames        # the call site's tuple of keyword names (None: none)
    cdef tuple values          # per keyword: its value, or _SKIP (arrays, backend)
    cdef object fast
    cdef object selected       # the plan cache it came from, and that cache's version
    cdef unsigned long long version


cdef inline int _typenum_of(object grad, object x):
    """The type number of the arrays when the fast path may take them, else -1."""
    cdef int typenum
    if type(x) is not _ndarray:
        return -1
    typenum = cnp.PyArray_TYPE(<cnp.ndarray>x)
    if typenum != cnp.NPY_FLOAT32 and typenum != cnp.NPY_FLOAT64:
        return -1
    if not _exact(x, typenum):
        return -1
    if grad is not None and not (
        _exact(grad, typenum) and cnp.PyArray_SAMESHAPE(<cnp.ndarray>grad, <cnp.ndarray>x)
    ):
        return -1
    return typenum


cdef inline object _current_backend():
    backend = get_value(_context_choice)
    if backend is None:
        backend = _dispatch._global_choice
    return backend


cdef class Base:
    """The compiled part of :class:`fastact._api.Activation` (see the module
    docstring). Subclasses provide ``spec`` and the general path ``_run``."""
    # First: its offset is the type's tp_vectorcall_offset (set in __cinit__).
    cdef void *_vectorcall
    cdef public object spec
    cdef object _name
    cdef bint _axis_kind
    cdef bint _param_grads
    cdef list _memo
    cdef int _memo_next
    cdef list _bound   # the Bound methods, made once: [derivative, backward, v_and_d]

    def __cinit__(self, *args, **kwargs):
        self._vectorcall = <void *>_call_activation
        self._memo = []
        self._memo_next = 0
        self._bound = [None, None, None]

    cdef inline void _learn_spec(self):
        if self._name is None:
            self._name = self.spec.name
            self._axis_kind = self.spec.kind == "axis"
            self._param_grads = bool(self.spec.param_grads)

    cdef inline object _plan(self, int method, int typenum, int ndim, object backend,
                             dict params):
        """The cached plan's Direct for this call, False when the fast path does not
        serve it, or None when no plan is cached yet: the key is
        fastact._validate.plan's."""
        cdef PyObject *found
        if backend is None:
            backend = _current_backend()
        elif type(backend) is not _str:
            return None
        plan = self._cached_plan(method, typenum, ndim, backend, params)
        if plan is None:
            return None
        fast = plan.fast
        if fast is None:
            fast = _make_direct(plan, typenum)
            plan.fast = fast
        return fast

    cdef inline object _cached_plan(self, int method, int typenum, int ndim, object backend,
                                    dict params):
        """The plan the general path cached for this call (fastact._validate.plan's
        key; ``backend`` a name), or None."""
        cdef PyObject *found
        pkey = _param_key(params)
        if pkey is None:
            return None
        self._learn_spec()
        key = ("plan", self._name, _METHODS[method], typenum,
               ndim if self._axis_kind else -1, backend, pkey)
        found = PyDict_GetItem(_dispatch._selected, key)
        if found == NULL:
            return None
        return <object>found

    cdef object _fast(self, int method, object grad, object x, object out, object backend,
                      dict params):
        """The result of the common call (classic calling convention), or
        NotImplemented."""
        cdef int typenum = _typenum_of(grad, x)
        if typenum < 0:
            return _NotImplemented
        fast = self._plan(method, typenum, cnp.PyArray_NDIM(<cnp.ndarray>x), backend, params)
        if fast is None or fast is False:
            return _NotImplemented
        return self._execute(<Direct>fast, method, grad, x, out, typenum)

    cdef object _fast_vector(self, int method, object grad, object x, PyObject **kwv,
                             PyObject *kwnames, Py_ssize_t nkw, object out,
                             object backend, Py_ssize_t out_at, Py_ssize_t backend_at,
                             Py_ssize_t skip_at):
        """The fast path of a vectorcall: the memo, else the plan cache (then
        remembered). ``kwv[i]`` is the value of ``kwnames[i]``; ``out``, ``backend``
        and ``skip_at`` (the ``y=`` array) are keywords that are not parameters."""
        cdef int typenum = _typenum_of(grad, x), ndim, k
        cdef _Memo m
        cdef Py_ssize_t i
        cdef dict params
        cdef unsigned long long version
        if typenum < 0:
            return _NotImplemented
        if backend is None:
            backend = _current_backend()
        elif type(backend) is not _str:
            return _NotImplemented
        self._learn_spec()
        ndim = cnp.PyArray_NDIM(<cnp.ndarray>x) if self._axis_kind else -1
        selected = _selected_of["_selected"]
        version = fa_dict_version(selected)
        for k in range(len(self._memo)):
            m = <_Memo>self._memo[k]
            if (m.method != method or m.typenum != typenum or m.ndim != ndim
                    or m.selected is not selected or m.version != version):
                continue
            if kwnames == NULL:
                if m.kwnames is not None:
                    continue
            elif <PyObject *>m.kwnames != kwnames:
                continue
            if not (m.backend is backend or m.backend == backend):
                continue
            for i in range(nkw):
                expected = m.values[i]
                if i == out_at or i == backend_at or i == skip_at:
                    if expected is not _SKIP:
                        break
                elif expected is _SKIP or not _same_value(expected, <object>kwv[i]):
                    break
            else:
                if m.fast is False:
                    return _NotImplemented
                return self._execute(<Direct>m.fast, method, grad, x, out, typenum)
        # Not remembered: the plan cache, under the general path's key.
        params = {}
        for i in range(nkw):
            if i != out_at and i != backend_at and i != skip_at:
                params[(<tuple><object>kwnames)[i]] = <object>kwv[i]
        fast = self._plan(method, typenum, cnp.PyArray_NDIM(<cnp.ndarray>x), backend, params)
        if fast is None:
            return _NotImplemented
        if FA_HAVE_DICT_VERSION:
            self._remember(method, typenum, ndim, backend, kwv, kwnames, nkw,
                           out_at, backend_at, skip_at, fast, selected, version)
        if fast is False:
            return _NotImplemented
        return self._execute(<Direct>fast, method, grad, x, out, typenum)

    cdef void _remember(self, int method, int typenum, int ndim, object backend,
                        PyObject **kwv, PyObject *kwnames, Py_ssize_t nkw,
                        Py_ssize_t out_at, Py_ssize_t backend_at, Py_ssize_t skip_at,
                        object fast, object selected, unsigned long long version):
        cdef _Memo m = _Memo.__new__(_Memo)
        cdef Py_ssize_t i
        values = []
        for i in range(nkw):
            if i == out_at or i == backend_at or i == skip_at:
                values.append(_SKIP)
            else:
                values.append(<object>kwv[i])
        m.method = method
        m.typenum = typenum
        m.ndim = ndim
        m.backend = backend
        m.kwnames = None if kwnames == NULL else <object>kwnames
        m.values = tuple(values)
        m.fast = fast
        m.selected = selected
        m.version = version
        if len(self._memo) < _MEMO_SIZE:
            self._memo.append(m)
        else:
            self._memo[self._memo_next] = m
            self._memo_next = (self._memo_next + 1) % _MEMO_SIZE

    cdef object _fast_bias(self, int method, object grad, object x, object bias,
                           PyObject **kwv, PyObject *kwnames, Py_ssize_t nkw, object out,
                           object backend, _Keywords *kw):
        """A small ``bias=`` call (fastact._bias) of an exact array with a bias over
        its trailing axes, on the cached plan of the same call without the bias; or
        NotImplemented (the general path, which makes that plan, takes the rest)."""
        cdef int typenum = _typenum_of(grad, x)
        cdef Py_ssize_t i
        if typenum < 0 or bias is None or self._axis_kind_of():
            return _NotImplemented
        if backend is None:
            backend = _current_backend()
        elif type(backend) is not _str:
            return _NotImplemented
        params = {}
        for i in range(nkw):
            if i != kw.out_at and i != kw.backend_at and i != kw.y_at and i != kw.bias_at:
                params[(<tuple><object>kwnames)[i]] = <object>kwv[i]
        plan = self._cached_plan(method, typenum, -1, backend, params)
        if plan is None:
            return _NotImplemented
        fast = plan.fast_bias
        if fast is None:
            fast = _make_bias_direct(plan, typenum)
            plan.fast_bias = fast
        if fast is False:
            return _NotImplemented
        return self._execute_bias(<Direct>fast, method, grad, x, bias, out, typenum)

    cdef inline bint _axis_kind_of(self):
        self._learn_spec()
        return self._axis_kind

    cdef object _execute_bias(self, Direct d, int method, object grad, object x,
                              object bias, object out, int typenum):
        """The fused loop over x and a tile of the bias (its period repeated to x's
        size), then for the backward the bias gradient summed from grad_x as the
        general path's driver sums a single chunk (fa_periodic.h, fa_bias.h: same
        order, same bits); or NotImplemented, with nothing written."""
        cdef cnp.ndarray first = <cnp.ndarray>x, b
        cdef int nx = cnp.PyArray_NDIM(first), nb, i
        cdef intptr_t n = cnp.PyArray_SIZE(first), period, esize, k, j, rows
        cdef bint backward = method == BACKWARD_X or method == BACKWARD_Y
        cdef char *args[8]
        cdef intptr_t dims[1]
        cdef intptr_t steps[8]
        cdef char *tile = NULL
        cdef char *bias_data
        cdef double *acc
        cdef double *comp
        cdef void *values
        if d.kernel is not None or d.rows or not _exact(bias, typenum):
            return _NotImplemented
        b = <cnp.ndarray>bias
        nb = cnp.PyArray_NDIM(b)
        if nb > nx:
            return _NotImplemented
        for i in range(nb):
            if cnp.PyArray_DIMS(b)[i] != cnp.PyArray_DIMS(first)[nx - nb + i]:
                return _NotImplemented
        period = cnp.PyArray_SIZE(b)
        if n == 0 or period == 0 or n > _BIAS_FAST_MAX:
            return _NotImplemented
        # The outputs: checked before anything is written.
        out_b = None
        if backward:
            if out is not None:
                if type(out) is not tuple or len(<tuple>out) != 2:
                    return _NotImplemented
                out, out_b = (<tuple>out)[0], (<tuple>out)[1]
        elif type(out) is tuple and len(<tuple>out) == 1:
            out = (<tuple>out)[0]
        if out is not None:
            if not _out_ok(out, first, typenum, x, grad, True):
                return _NotImplemented
            if out is bias or not _disjoint(<cnp.ndarray>out, b):
                return _NotImplemented
        if out_b is not None:
            if not _exact(out_b, typenum) or not cnp.PyArray_ISWRITEABLE(<cnp.ndarray>out_b):
                return _NotImplemented
            if not cnp.PyArray_SAMESHAPE(<cnp.ndarray>out_b, b):
                return _NotImplemented
            for other in (x, grad, bias, out):
                if other is not None and not _disjoint(<cnp.ndarray>out_b, <cnp.ndarray>other):
                    return _NotImplemented
        # Everything allocated before anything is written; a raw allocation that
        # fails hands the call to the general path (which raises MemoryError, if it
        # must, before writing).
        if out is None:
            out = cnp.PyArray_EMPTY(nx, cnp.PyArray_DIMS(first), typenum, 0)
        if backward and out_b is None:
            out_b = cnp.PyArray_EMPTY(nb, cnp.PyArray_DIMS(b), typenum, 0)
        acc = comp = NULL
        if backward:
            acc = <double *>PyMem_RawCalloc(period, sizeof(double))
            comp = <double *>PyMem_RawCalloc(period, sizeof(double))
            if acc == NULL or comp == NULL:
                PyMem_RawFree(acc)
                PyMem_RawFree(comp)
                return _NotImplemented
        esize = 4 if typenum == cnp.NPY_FLOAT32 else 8
        bias_data = <char *>cnp.PyArray_DATA(b)
        if method != BACKWARD_Y and period != n:
            tile = <char *>PyMem_RawMalloc(n * esize)
            if tile == NULL:
                PyMem_RawFree(acc)
                PyMem_RawFree(comp)
                return _NotImplemented
            fa_fill_tile(tile, bias_data, period * esize, n * esize)
            bias_data = tile
        values = <void *>d.values_f32 if typenum == cnp.NPY_FLOAT32 else <void *>d.values_f64
        k = _input_args(args, steps, grad, first, esize)
        if method != BACKWARD_Y:
            args[k] = bias_data
            steps[k] = esize
            k += 1
        k = _param_out_args(args, steps, k, values, d.nparams, esize, out)
        if k != d.nin + d.nparams + d.nout or d.nout != 1:
            PyMem_RawFree(tile)
            PyMem_RawFree(acc)
            PyMem_RawFree(comp)
            return _NotImplemented
        dims[0] = n
        if n >= _NOGIL_MIN:
            with nogil:
                d.fn(args, dims, steps, d.data)
        else:
            d.fn(args, dims, steps, d.data)
        PyMem_RawFree(tile)
        if not backward:
            return out
        rows = n // period
        if typenum == cnp.NPY_FLOAT32:
            fa_add_rows_f32(<const float *>cnp.PyArray_DATA(<cnp.ndarray>out), rows, period, acc)
        else:
            fa_add_rows_f64(<const double *>cnp.PyArray_DATA(<cnp.ndarray>out), rows, period,
                            acc, comp)
        fa_store_sums(acc, comp, period, cnp.PyArray_DATA(<cnp.ndarray>out_b), esize)
        PyMem_RawFree(acc)
        PyMem_RawFree(comp)
        return (out, out_b)

    cdef object _execute(self, Direct d, int method, object grad, object x, object out,
                         int typenum):
        """The call on checked input arrays with the plan's Direct, or NotImplemented
        (``out`` not one the loops may write; nothing written then)."""
        cdef cnp.ndarray first = <cnp.ndarray>x, res, res2
        cdef char *args[8]
        cdef intptr_t dims[2]
        cdef intptr_t steps[16]
        cdef intptr_t n, esize, inner, outer, k, nargs
        cdef void *values
        # The outputs.
        out2 = None
        if method == VALUE_AND_DERIVATIVE:
            if out is None:
                out = None
            elif type(out) is tuple and len(<tuple>out) == 2:
                out, out2 = (<tuple>out)[0], (<tuple>out)[1]
                if out is not None and out2 is not None:
                    if not (_exact(out, typenum) and _exact(out2, typenum)):
                        return _NotImplemented
                    if not _disjoint(<cnp.ndarray>out, <cnp.ndarray>out2):
                        return _NotImplemented
            else:
                return _NotImplemented
        elif type(out) is tuple and len(<tuple>out) == 1:
            out = (<tuple>out)[0]
        if out is not None and not _out_ok(out, first, typenum, x, grad, not d.rows):
            return _NotImplemented
        if out2 is not None and not _out_ok(out2, first, typenum, x, grad, True):
            return _NotImplemented
        if out is None:
            out = cnp.PyArray_EMPTY(cnp.PyArray_NDIM(first), cnp.PyArray_DIMS(first),
                                    typenum, 0)
        if method == VALUE_AND_DERIVATIVE and out2 is None:
            out2 = cnp.PyArray_EMPTY(cnp.PyArray_NDIM(first), cnp.PyArray_DIMS(first),
                                     typenum, 0)
        if d.kernel is not None:  # another backend: its kernel, validated arrays
            return self._other(d, method, grad, x, out, out2)
        # The loop itself.
        esize = 4 if typenum == cnp.NPY_FLOAT32 else 8
        values = <void *>d.values_f32 if typenum == cnp.NPY_FLOAT32 else <void *>d.values_f64
        n = cnp.PyArray_SIZE(first)
        k = _input_args(args, steps, grad, first, esize)
        if d.rows:
            return self._rows(d, args, k, first, out, n, esize)
        if k != d.nin:
            return _NotImplemented
        k = _param_out_args(args, steps, k, values, d.nparams, esize, out)
        if out2 is not None:
            args[k] = <char *>cnp.PyArray_DATA(<cnp.ndarray>out2)
            steps[k] = esize
            k += 1
        if k != d.nin + d.nparams + d.nout:
            return _NotImplemented
        dims[0] = n
        if n >= _NOGIL_MIN:
            with nogil:
                d.fn(args, dims, steps, d.data)
        else:
            d.fn(args, dims, steps, d.data)
        if out2 is not None:
            return (out, out2)
        return out

    cdef object _rows(self, Direct d, char **args, intptr_t k, cnp.ndarray first, object out,
                      intptr_t n, intptr_t esize):
        """softmax/log_softmax/softmin forward and backward from y or x: the gufunc's loop
        over rows (outer, core) of a C-contiguous array along its last axis, or along
        either axis of a 2-d one."""
        cdef intptr_t dims[2]
        cdef intptr_t steps[8]
        cdef int ndim = cnp.PyArray_NDIM(first), i
        cdef intptr_t core, outer, outer_step, core_step
        if d.axis == ndim - 1:
            core = cnp.PyArray_DIMS(first)[ndim - 1]
            core_step = esize
            outer_step = core * esize
        elif ndim == 2 and d.axis == 0:
            core = cnp.PyArray_DIMS(first)[0]
            core_step = cnp.PyArray_DIMS(first)[1] * esize
            outer_step = esize
        else:
            return _NotImplemented
        if core == 0 or n == 0:
            return _NotImplemented
        outer = n // core
        args[k] = <char *>cnp.PyArray_DATA(<cnp.ndarray>out)
        k += 1
        if k != d.nin + d.nout:
            return _NotImplemented
        dims[0] = outer
        dims[1] = core
        for i in range(k):
            steps[i] = outer_step
            steps[k + i] = core_step
        cdef long before = 0
        if d.scratch:
            before = d.alloc_failures()
        if n >= _NOGIL_MIN:
            with nogil:
                d.fn(args, dims, steps, d.data)
        else:
            d.fn(args, dims, steps, d.data)
        if d.scratch:
            d.check_scratch(before, core)
        return out

    cdef object _other(self, Direct d, int method, object grad, object x, object out,
                       object out2):
        """Another backend's kernel on the validated arrays (the general path's call,
        without its conversions: the arrays need none); for numba on one thread, its
        generated loop on flat views (what the kernel would call)."""
        cdef cnp.ndarray first = <cnp.ndarray>x
        if d.rows_entry is not None and 0 < cnp.PyArray_SIZE(first) < d.loop_module.PARALLEL_MIN:
            done = self._numba_rows(d, grad, x, out)
            if done is not None:
                return done
        cdef void *pointers[4]
        cdef int k = 0
        cdef intptr_t n = cnp.PyArray_SIZE(first)
        if d.c_entry != NULL and n < d.loop_module.PARALLEL_MIN:
            # The loop's cfunc on the raw pointers (C-contiguous: flat), one thread.
            if grad is not None:
                pointers[k] = cnp.PyArray_DATA(<cnp.ndarray>grad)
                k += 1
            pointers[k] = cnp.PyArray_DATA(first)
            pointers[k + 1] = cnp.PyArray_DATA(<cnp.ndarray>out)
            if out2 is not None:
                pointers[k + 2] = cnp.PyArray_DATA(<cnp.ndarray>out2)
            if n >= _NOGIL_MIN:
                with nogil:
                    d.c_entry(pointers, n, d.values_f64)
            else:
                d.c_entry(pointers, n, d.values_f64)
            if out2 is not None:
                return (out, out2)
            return out
        if d.loop is not None and n < d.loop_module.PARALLEL_MIN:
            fx, fg, fo, fo2 = x, grad, out, out2
            if cnp.PyArray_NDIM(first) != 1:  # C-contiguous: flat views, no copy
                fx = _flat(x)
                fo = _flat(out)
                if grad is not None:
                    fg = _flat(grad)
                if out2 is not None:
                    fo2 = _flat(out2)
            ins = (fx,) if grad is None else (fg, fx)
            outs = (fo,) if out2 is None else (fo, fo2)
            d.loop(*ins, *d.loop_values, *outs)  # no cfunc: a test's spy for the loop
            if out2 is not None:
                return (out, out2)
            return out
        plan_params = d.params
        if method == VALUE_AND_DERIVATIVE:
            d.kernel(x, out, out2, **plan_params)
            return (out, out2)
        if grad is None:
            d.kernel(x, out, **plan_params)
        else:
            d.kernel(grad, x, out, **plan_params)
        return out


    cdef object _numba_rows(self, Direct d, object grad, object x, object out):
        """numba's batched row kernels through their cfunc entry on the raw pointers,
        chosen as numba_backend._batched chooses (rows kernel for long rows, columns
        kernel for axes with elements after them and for short last-axis rows), or
        None when the general kernel must run (long rows along an axis that is not
        the last)."""
        cdef cnp.ndarray first = <cnp.ndarray>x
        cdef int ndim = cnp.PyArray_NDIM(first), i
        cdef int axis = d.axis
        cdef intptr_t n, outer = 1, inner = 1, size = cnp.PyArray_SIZE(first)
        cdef long long mode, tile
        cdef void *pointers[3]
        if axis < 0:
            axis += ndim
        n = cnp.PyArray_DIMS(first)[axis]
        for i in range(axis):
            outer *= cnp.PyArray_DIMS(first)[i]
        for i in range(axis + 1, ndim):
            inner *= cnp.PyArray_DIMS(first)[i]
        if inner > 1:
            if n > d.columns_max:
                return None
            mode = 2  # numba_rows.MODE_COLUMNS: (outer, n, inner)
        elif n > d.short_row or size == n:
            mode = 0  # MODE_ROWS: (outer, n)
        else:
            mode = 1  # MODE_SHORT: the columns of one (1, n, outer) block
        tile = 0
        if mode != 0:
            if n != d.tile_n:
                d.tile_value = d.tile_of(n)
                d.tile_n = n
            tile = d.tile_value
        i = 0
        if grad is not None:
            pointers[0] = cnp.PyArray_DATA(<cnp.ndarray>grad)
            i = 1
        pointers[i] = cnp.PyArray_DATA(first)
        pointers[i + 1] = cnp.PyArray_DATA(<cnp.ndarray>out)
        if size >= _NOGIL_MIN:
            with nogil:
                d.rows_fn(pointers, outer, n, inner, d.row_kind, mode, tile)
        else:
            d.rows_fn(pointers, outer, n, inner, d.row_kind, mode, tile)
        return out

    def __call__(self, x, /, *args, out=None, backend=None, **params):
        if not args:
            result = self._fast(FORWARD, None, x, out, backend, params)
            if result is not _NotImplemented:
                return result
        return self._run("forward", {"x": x}, args, params, out, backend)


cdef struct _Keywords:
    # Positions in the keyword names of the keywords that are not parameters (-1:
    # absent), and whether one of them names the input itself (the general path
    # raises for that).
    Py_ssize_t out_at, backend_at, y_at, bias_at
    bint other_input


cdef object _s_out = "out"
cdef object _s_backend = "backend"
cdef object _s_y = "y"
cdef object _s_bias = "bias"
cdef object _s_x = "x"
cdef object _s_grad = "grad"


cdef inline void _keywords(PyObject *kwnames, Py_ssize_t nkw, _Keywords *kw):
    cdef Py_ssize_t i
    cdef PyObject *name
    kw.out_at = -1
    kw.backend_at = -1
    kw.y_at = -1
    kw.bias_at = -1
    kw.other_input = False
    for i in range(nkw):
        name = <PyObject *>(<tuple><object>kwnames)[i]
        if fa_same_name(name, <PyObject *>_s_out):
            kw.out_at = i
        elif fa_same_name(name, <PyObject *>_s_backend):
            kw.backend_at = i
        elif fa_same_name(name, <PyObject *>_s_y):
            kw.y_at = i
        elif fa_same_name(name, <PyObject *>_s_bias):
            kw.bias_at = i
        elif fa_same_name(name, <PyObject *>_s_x) or fa_same_name(name, <PyObject *>_s_grad):
            kw.other_input = True


cdef object _call_activation(object self, PyObject **args, size_t nargsf,
                             PyObject *kwnames):
    """The forward's vectorcall entry: ``f(x, **keywords)`` on the fast path, any
    other call through the classic one."""
    cdef Py_ssize_t nargs = PyVectorcall_NARGS(nargsf)
    cdef Py_ssize_t nkw = 0 if kwnames == NULL else len(<tuple><object>kwnames)
    cdef _Keywords kw
    cdef Base owner = <Base>self
    if nargs == 1:
        _keywords(kwnames, nkw, &kw)
        if kw.bias_at >= 0:
            if kw.y_at < 0 and not kw.other_input:
                result = owner._fast_bias(
                    FORWARD, None, <object>args[0], <object>args[1 + kw.bias_at], args + 1,
                    kwnames, nkw, None if kw.out_at < 0 else <object>args[1 + kw.out_at],
                    None if kw.backend_at < 0 else <object>args[1 + kw.backend_at], &kw,
                )
                if result is not _NotImplemented:
                    return result
        elif kw.y_at < 0 and not kw.other_input:
            result = owner._fast_vector(
                FORWARD, None, <object>args[0], args + 1, kwnames, nkw,
                None if kw.out_at < 0 else <object>args[1 + kw.out_at],
                None if kw.backend_at < 0 else <object>args[1 + kw.backend_at],
                kw.out_at, kw.backend_at, -1,
            )
            if result is not _NotImplemented:
                return result
    return fa_tp_call(self, args, nargsf, kwnames)


cdef object _call_bound(object self, PyObject **args, size_t nargsf, PyObject *kwnames):
    """A method's vectorcall entry (see Bound.__call__ for the calls it takes)."""
    cdef Bound b = <Bound>self
    cdef Base owner = b.owner
    cdef Py_ssize_t nargs = PyVectorcall_NARGS(nargsf)
    cdef Py_ssize_t nkw = 0 if kwnames == NULL else len(<tuple><object>kwnames)
    cdef _Keywords kw
    cdef int method = b.method
    _keywords(kwnames, nkw, &kw)
    if kw.other_input:
        return fa_tp_call(self, args, nargsf, kwnames)
    out = None if kw.out_at < 0 else <object>args[nargs + kw.out_at]
    backend = None if kw.backend_at < 0 else <object>args[nargs + kw.backend_at]
    result = _NotImplemented
    owner._learn_spec()
    if kw.bias_at >= 0:
        bias = <object>args[nargs + kw.bias_at]
        if method == BACKWARD_X and nargs == 2 and kw.y_at < 0:
            result = owner._fast_bias(BACKWARD_X, <object>args[0], <object>args[1], bias,
                                      args + 2, kwnames, nkw, out, backend, &kw)
        elif method == BACKWARD_X and nargs == 1 and kw.y_at >= 0:
            y = <object>args[1 + kw.y_at]
            if y is not None:
                result = owner._fast_bias(BACKWARD_Y, <object>args[0], y, bias, args + 1,
                                          kwnames, nkw, out, backend, &kw)
        elif method == DERIVATIVE and nargs == 1 and kw.y_at < 0:
            result = owner._fast_bias(DERIVATIVE, None, <object>args[0], bias, args + 1,
                                      kwnames, nkw, out, backend, &kw)
    elif method == BACKWARD_X:
        if nargs == 2 and kw.y_at < 0:
            if not owner._param_grads:
                result = owner._fast_vector(
                    BACKWARD_X, <object>args[0], <object>args[1], args + 2, kwnames, nkw,
                    out, backend, kw.out_at, kw.backend_at, -1,
                )
        elif nargs == 1 and kw.y_at >= 0:
            y = <object>args[1 + kw.y_at]
            if y is not None:
                result = owner._fast_vector(
                    BACKWARD_Y, <object>args[0], y, args + 1, kwnames, nkw,
                    out, backend, kw.out_at, kw.backend_at, kw.y_at,
                )
    elif nargs == 1 and kw.y_at < 0:
        result = owner._fast_vector(
            method, None, <object>args[0], args + 1, kwnames, nkw,
            out, backend, kw.out_at, kw.backend_at, -1,
        )
    if result is not _NotImplemented:
        return result
    return fa_tp_call(self, args, nargsf, kwnames)


cdef class Bound:
    """A method (``derivative``, ``backward``, ``value_and_derivative``) of one
    activation: the fast path, else the Python method (the general path)."""
    # First: its offset is the type's tp_vectorcall_offset (set at import).
    cdef void *_vectorcall
    cdef Base owner
    cdef int method
    cdef object function
    cdef object signature

    def __cinit__(self):
        self._vectorcall = <void *>_call_bound

    @property
    def __signature__(self):
        return self.signature

    @property
    def __doc__(self):
        return self.function.__doc__

    @property
    def __name__(self):
        return self.function.__name__

    @property
    def __qualname__(self):
        return f"{self.owner.spec.name}.{self.function.__name__}"

    @property
    def __self__(self):
        return self.owner

    @property
    def __func__(self):
        return self.function

    def __repr__(self):
        return f"<bound method {self.function.__name__} of {self.owner!r}>"

    def __reduce__(self):
        return (getattr, (self.owner, self.function.__name__))

    def __call__(self, *args, **kwargs):
        cdef Base owner = self.owner
        cdef Py_ssize_t nargs = len(args)
        if self.method == BACKWARD_X:  # backward(grad, x=None, *, y=None, ...)
            if nargs == 2 and "y" not in kwargs and "x" not in kwargs:
                out = kwargs.pop("out", None)
                backend = kwargs.pop("backend", None)
                if not owner.spec.param_grads:
                    result = owner._fast(BACKWARD_X, args[0], args[1], out, backend, kwargs)
                    if result is not _NotImplemented:
                        return result
                kwargs["out"] = out
                kwargs["backend"] = backend
            elif nargs == 1 and "x" not in kwargs:
                y = kwargs.get("y")
                if y is not None:
                    del kwargs["y"]
                    out = kwargs.pop("out", None)
                    backend = kwargs.pop("backend", None)
                    result = owner._fast(BACKWARD_Y, args[0], y, out, backend, kwargs)
                    if result is not _NotImplemented:
                        return result
                    kwargs["y"] = y
                    kwargs["out"] = out
                    kwargs["backend"] = backend
        elif nargs == 1:
            out = kwargs.pop("out", None)
            backend = kwargs.pop("backend", None)
            result = owner._fast(self.method, None, args[0], out, backend, kwargs)
            if result is not _NotImplemented:
                return result
            kwargs["out"] = out
            kwargs["backend"] = backend
        return self.function(owner, *args, **kwargs)


cdef class Method:
    """The descriptor that gives each activation its :class:`Bound` method (one
    per activation, made on first use)."""
    cdef int method
    cdef object function
    cdef object signature

    def __init__(self, str method, function, signature):
        self.method = {"derivative": DERIVATIVE, "backward": BACKWARD_X,
                       "value_and_derivative": VALUE_AND_DERIVATIVE}[method]
        self.function = function
        self.signature = signature

    @property
    def __doc__(self):
        return self.function.__doc__

    def __get__(self, obj, objtype):
        cdef Bound b
        cdef Base owner
        cdef int slot
        if obj is None:
            return self.function
        owner = <Base?>obj
        slot = 0 if self.method == DERIVATIVE else (1 if self.method == BACKWARD_X else 2)
        found = owner._bound[slot]
        if found is not None and (<Bound>found).function is self.function:
            return found
        b = Bound.__new__(Bound)
        b.owner = owner
        b.method = self.method
        b.function = self.function
        b.signature = self.signature
        owner._bound[slot] = b
        return b


cdef Py_ssize_t _offset_of_entry(object instance, void **field):
    return <char *>field - <char *><PyObject *>instance


def enable_vectorcall(cls):
    """Give ``cls`` (Base or a subclass: each activation's class) the vectorcall
    entry; fastact._api calls it for every class it makes."""
    if not issubclass(cls, Base):
        raise TypeError(f"{cls!r} is not a subclass of Base")
    fa_enable_vectorcall(cls, _BASE_ENTRY)


cdef Base _probe = Base.__new__(Base)
cdef Py_ssize_t _BASE_ENTRY = _offset_of_entry(_probe, &_probe._vectorcall)
cdef Bound _probe_bound = Bound.__new__(Bound)
fa_enable_vectorcall(Bound, _offset_of_entry(_probe_bound, &_probe_bound._vectorcall))
_probe = None
_probe_bound = None

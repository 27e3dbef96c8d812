# Compiled with the directives and flags of setup.py (language_level 3,
# boundscheck/wraparound/initializedcheck off, cdivision on).
"""Runtime facts and shared helpers of fastact's compiled kernels.

* :func:`openmp_enabled`, :func:`omp_num_procs`, :func:`compile_info`: how the
  extension modules were built (OpenMP or serial fallback, compiler flags).
* fastact's thread pool (``fa_pool.h``): its implementation is compiled into this
  module only and published to the other compiled modules as the capsule
  ``_pool_api`` (one pool per process). :func:`run_chunks` hands the chunks of a
  Python-level job (the numba backend's nogil loops) to it; :func:`pool_info`
  reports its state.
* :func:`rrelu_uniform`: the counter-based hash that gives rrelu its random
  training slopes.  Every fastact backend (NumPy, Cython, Numba, CUDA)
  computes exactly the same numbers: for element index ``i`` (``i >= 0``)::

      M = 2**64;  GOLDEN = 0x9E3779B97F4A7C15
      mix64(z):   z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9  (mod M)
                  z = (z ^ (z >> 27)) * 0x94D049BB133111EB  (mod M)
                  return z ^ (z >> 31)
      key = mix64(seed)
      z_i = mix64((key + (i + 1) * GOLDEN) mod M)
      u_i = (z_i >> 11) * 2.0**-53          # float64 in [0, 1)

  (SplitMix64's output function applied to a Weyl sequence started at the
  mixed seed.)  Each value depends only on ``seed`` and ``i``, so results are
  identical for any split of the work across threads or calls.
"""

import operator
import os

from cpython.pycapsule cimport PyCapsule_New
from libc.stdint cimport intptr_t, uint64_t

cdef extern from *:
    """
    #include <stdint.h>

    #ifdef _OPENMP
    #include <omp.h>
    #define FASTACT_OPENMP 1
    #define FASTACT_OPENMP_VERSION ((long)_OPENMP)
    static int fastact_omp_num_procs(void) { return omp_get_num_procs(); }
    #else
    #define FASTACT_OPENMP 0
    #define FASTACT_OPENMP_VERSION 0L
    static int fastact_omp_num_procs(void) { return 0; }
    #endif

    /* Set by setup.py; defaults for a build that did not go through it. */
    #ifndef FASTACT_EXTRA_COMPILE_ARGS
    #define FASTACT_EXTRA_COMPILE_ARGS "unknown"
    #endif
    #ifndef FASTACT_EXTRA_LINK_ARGS
    #define FASTACT_EXTRA_LINK_ARGS "unknown"
    #endif
    #ifndef FASTACT_OPENMP_DISABLED_BY_ENV
    #define FASTACT_OPENMP_DISABLED_BY_ENV 0
    #endif
    #ifdef FA_HAVE_LIBMVEC
    #define FASTACT_LIBMVEC 1
    #else
    #define FASTACT_LIBMVEC 0
    #endif
    #ifndef FASTACT_COMPILER
    #define FASTACT_COMPILER "unknown"
    #endif
    #ifndef FASTACT_CYTHON_VERSION
    #define FASTACT_CYTHON_VERSION "unknown"
    #endif

    #include "fa_hash.h"
    #define FA_POOL_IMPLEMENTATION
    #include "fa_pool.h"
    static void *fastact_pool_api_ptr(void) { return (void *)&fa_pool_api_table; }
    static long fastact_pool_stat(int which) {
        switch (which) {
        case 0: return atomic_load(&fa_pool_state.stat_calls);
        case 1: return atomic_load(&fa_pool_state.stat_serial_busy);
        case 2: return atomic_load(&fa_pool_state.stat_worker_chunks);
        case 3: return atomic_load(&fa_pool_state.stat_wakeups);
        case 5: return atomic_load(&fa_pool_state.stat_caller_sleeps);
        case 6: return atomic_load(&fa_pool_state.stat_bad_calls);
        case 7: return atomic_load(&fa_pool_state.stat_adaptive_serial);
        case 8: return atomic_load(&fa_pool_state.stat_wait_us);
        default: {
            pthread_mutex_lock(&fa_pool_state.lock);
            long n = fa_pool_state.nworkers;
            pthread_mutex_unlock(&fa_pool_state.lock);
            return n;
        }
        }
    }
    static void fastact_pool_set_delay(int us) { atomic_store(&fa_pool_state.debug_delay_us, us); }
    """
    const int FASTACT_OPENMP
    const long FASTACT_OPENMP_VERSION
    const int FASTACT_OPENMP_DISABLED_BY_ENV
    const int FASTACT_LIBMVEC
    const char *FASTACT_EXTRA_COMPILE_ARGS
    const char *FASTACT_EXTRA_LINK_ARGS
    const char *FASTACT_COMPILER
    const char *FASTACT_CYTHON_VERSION
    int fastact_omp_num_procs() noexcept nogil
    uint64_t fastact_mix64(uint64_t z) noexcept nogil
    double fastact_rrelu_u(uint64_t key, uint64_t i) noexcept nogil
    ctypedef void (*fa_chunk_fn)(void *ctx, intptr_t chunk) noexcept nogil
    int fa_parallel_for(intptr_t n_chunks, int threads, fa_chunk_fn fn, void *ctx) noexcept nogil
    void fa_pool_fail() noexcept nogil
    const int FA_POOL_MAX_THREADS
    const char *FA_POOL_CAPSULE
    void *fastact_pool_api_ptr() noexcept nogil
    long fastact_pool_stat(int which) noexcept nogil
    void fastact_pool_set_delay(int us) noexcept nogil


_U64 = 1 << 64

#: The pool's function table, imported by the other compiled modules (fa_pool.h).
_pool_api = PyCapsule_New(fastact_pool_api_ptr(), FA_POOL_CAPSULE, NULL)

#: The most threads one call can use (fastact.set_num_threads refuses more).
MAX_THREADS = FA_POOL_MAX_THREADS


def pool_info():
    """The pool's state, as a new dict (for tests and benchmarks).

    Keys: ``workers`` (threads started in this process), ``calls`` (threaded calls
    served), ``serial_busy`` (calls run on their caller alone because another call
    held the pool), ``worker_chunks`` (chunks run by workers rather than callers),
    ``wakeups`` (times a worker woke up and took part in a call), ``caller_sleeps``
    (times a caller slept waiting for a chunk a worker was still running),
    ``bad_calls`` (threaded calls that waited for a worker long enough to be slower
    than one thread: each one sends the calls below a size to the caller alone for a
    while, see fa_pool.h), ``adaptive_serial`` (calls that ran on their caller alone
    for that reason), ``wait_us`` (microseconds callers spent waiting for workers).
    """
    return {
        "workers": int(fastact_pool_stat(4)),
        "calls": int(fastact_pool_stat(0)),
        "serial_busy": int(fastact_pool_stat(1)),
        "worker_chunks": int(fastact_pool_stat(2)),
        "wakeups": int(fastact_pool_stat(3)),
        "caller_sleeps": int(fastact_pool_stat(5)),
        "bad_calls": int(fastact_pool_stat(6)),
        "adaptive_serial": int(fastact_pool_stat(7)),
        "wait_us": int(fastact_pool_stat(8)),
    }


def _set_pool_worker_delay(int microseconds):
    """Tests only: workers sleep this long after waking, before claiming a chunk."""
    fastact_pool_set_delay(max(0, microseconds))


cdef void _python_chunk(void *ctx, intptr_t chunk) noexcept nogil:
    with gil:
        job = <tuple>ctx
        try:
            job[0](chunk)
        except BaseException as error:
            job[1].append(error)
            fa_pool_fail()


def run_chunks(Py_ssize_t n_chunks, int threads, fn):
    """``fn(k)`` for every ``k`` in ``range(n_chunks)``, on at most ``threads`` threads of
    fastact's pool (the calling thread too), the GIL released while waiting.

    ``fn`` should release the GIL for its work (a numba ``nogil`` loop). Returns when
    every chunk is done; if a chunk raised, re-raises the first exception after every
    chunk has finished (none runs after this returns).
    """
    cdef int rc
    if n_chunks <= 0:
        return
    errors = []
    job = (fn, errors)
    cdef void *ctx = <void *>job
    with nogil:
        rc = fa_parallel_for(n_chunks, threads, _python_chunk, ctx)
    if rc != 0 and errors:
        raise errors[0]


def openmp_enabled():
    """True if the extension modules were compiled with OpenMP (``prange`` runs in parallel)."""
    return FASTACT_OPENMP != 0


def omp_num_procs():
    """Processors available to this process.

    OpenMP's ``omp_get_num_procs()`` when built with OpenMP; otherwise the
    size of the CPU affinity mask (``os.sched_getaffinity``) or ``os.cpu_count()``.
    """
    if FASTACT_OPENMP:
        return int(fastact_omp_num_procs())
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def compile_info():
    """How the compiled modules were built, as a new dict.

    Keys: ``openmp`` (bool), ``openmp_version`` (the ``_OPENMP`` date, e.g.
    201511, or 0), ``openmp_disabled_by_env`` (FASTACT_DISABLE_OPENMP was set
    at build time), ``extra_compile_args`` and ``extra_link_args`` (the flags
    setup.py added, as strings), ``compiler``, ``cython_version``, ``libmvec``
    (the kernels call glibc's SIMD math functions).
    """
    return {
        "openmp": FASTACT_OPENMP != 0,
        "openmp_version": int(FASTACT_OPENMP_VERSION),
        "openmp_disabled_by_env": FASTACT_OPENMP_DISABLED_BY_ENV != 0,
        "extra_compile_args": FASTACT_EXTRA_COMPILE_ARGS.decode("utf-8"),
        "extra_link_args": FASTACT_EXTRA_LINK_ARGS.decode("utf-8"),
        "compiler": FASTACT_COMPILER.decode("utf-8"),
        "cython_version": FASTACT_CYTHON_VERSION.decode("utf-8"),
        "libmvec": FASTACT_LIBMVEC != 0,
    }


# Elements per pool chunk of rrelu_uniform (~10 ns each: ~80 us per chunk).
cdef enum:
    _RRELU_CHUNK = 8192


cdef struct _RreluJob:
    uint64_t key, base
    double *out
    Py_ssize_t n


cdef void _rrelu_chunk(void *ctx, intptr_t chunk) noexcept nogil:
    cdef _RreluJob *job = <_RreluJob *>ctx
    cdef Py_ssize_t k, k0 = chunk * _RRELU_CHUNK
    cdef Py_ssize_t k1 = min(k0 + _RRELU_CHUNK, job.n)
    for k in range(k0, k1):
        job.out[k] = fastact_rrelu_u(job.key, job.base + <uint64_t>k)


cdef object _as_index(object value, str name, str requirement):
    """``operator.index(value)``, or ValueError naming ``name`` (bools refused)."""
    if isinstance(value, bool):
        raise ValueError(f"{name} must be {requirement}, got {value!r}")
    try:
        return operator.index(value)
    except TypeError:
        raise ValueError(f"{name} must be {requirement}, got {value!r}") from None


def rrelu_uniform(seed, start, double[::1] out not None, int num_threads=1):
    """Fill ``out[k]`` with ``u_{start + k}``, the rrelu hash (see the module docstring).

    Parameters
    ----------
    seed : int
        In ``[0, 2**64)`` (Python or NumPy integer); ValueError otherwise.
    start : int
        Index of ``out[0]``, ``>= 0``.  Indices are taken modulo ``2**64``,
        as in the definition.
    out : float64 array, C-contiguous and writeable
        Filled in place.
    num_threads : int
        ``>= 1``.  Above 1 chunks of the loop run on fastact's thread pool with the
        GIL released; results do not depend on it.
    """
    cdef uint64_t key, base
    cdef Py_ssize_t n = out.shape[0]
    cdef _RreluJob job

    s = _as_index(seed, "seed", "an int in [0, 2**64)")
    if not 0 <= s < _U64:
        raise ValueError(f"seed must be an int in [0, 2**64), got {seed!r}")
    i0 = _as_index(start, "start", "an int >= 0")
    if i0 < 0:
        raise ValueError(f"start must be an int >= 0, got {start!r}")
    if num_threads < 1:
        raise ValueError(f"num_threads must be >= 1, got {num_threads!r}")

    key = fastact_mix64(<uint64_t>s)
    base = <uint64_t>(i0 % _U64)
    if n == 0:
        return
    job.key, job.base, job.out, job.n = key, base, &out[0], n
    with nogil:
        fa_parallel_for((n + _RRELU_CHUNK - 1) // _RRELU_CHUNK, num_threads, _rrelu_chunk, &job)


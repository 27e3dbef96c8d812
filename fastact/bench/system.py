"""What this machine and this build of fastact are: the facts of ``fastact info``.

Every probe is defensive: on a platform without ``/proc/cpuinfo``, without numba,
without numba-cuda or a GPU, the answer says so instead of raising.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import os
import platform
import sys
import warnings
from pathlib import Path
from typing import Any, Final

import numpy as np

import fastact as fa
from fastact.bench.baselines import torch_module

__all__ = ["cpu_info", "cuda_status", "info", "numba_status", "simd_level"]

# x86-64 micro-architecture levels (the psABI's x86-64-v2/v3/v4) by the /proc/cpuinfo
# flags each one requires; a level needs the ones below it too.
_X86_LEVELS: Final = (
    ("x86-64-v2", ("cx16", "lahf_lm", "popcnt", "sse4_1", "sse4_2", "ssse3")),
    ("x86-64-v3", ("avx", "avx2", "bmi1", "bmi2", "f16c", "fma", "abm", "movbe", "xsave")),
    ("x86-64-v4", ("avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl")),
)
# Shown by name when present: what vectorised math kernels care about.
_NOTABLE: Final = (
    "sse2", "sse4_2", "avx", "avx2", "fma", "avx512f", "avx512bw", "avx512vl",
    "avx512_fp16", "avx512_bf16", "amx_tile",  # x86
    "asimd", "asimdhp", "sve", "sve2", "sme",  # arm64 (/proc/cpuinfo "Features")
    "neon", "vsx", "vx",  # other /proc/cpuinfo spellings
)  # fmt: skip


def _cpuinfo() -> dict[str, str]:
    """The first processor's block of /proc/cpuinfo (empty where there is none)."""
    try:
        text = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        return {}
    fields: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            if fields:
                break
            continue
        key, _, value = line.partition(":")
        fields.setdefault(key.strip().lower(), value.strip())
    return fields


def _numpy_cpu_features() -> list[str]:
    """The SIMD features NumPy detected at run time (any OS), lower-cased."""
    try:
        core = importlib.import_module("numpy._core._multiarray_umath")
    except ImportError:
        return []
    features: dict[str, bool] = getattr(core, "__cpu_features__", {})
    return sorted(name.lower() for name, present in features.items() if present)


def simd_level() -> dict[str, Any]:
    """``{"arch", "level", "features", "source"}``: the best SIMD level the CPU offers.

    ``level`` is the x86-64 micro-architecture level (``x86-64-v4`` = AVX-512) or, on
    arm64, ``SVE``/``NEON``; ``features`` the notable flags present. Read from
    /proc/cpuinfo where it exists, else from what NumPy detected.
    """
    arch = platform.machine() or "unknown"
    fields = _cpuinfo()
    raw = fields.get("flags") or fields.get("features") or ""
    source = "/proc/cpuinfo"
    flags = set(raw.split())
    if not flags:
        flags = set(_numpy_cpu_features())
        source = "numpy" if flags else "none"
        # NumPy spells them its own way (AVX512F, ASIMD...); map the few that matter.
        flags |= {f.replace("avx512_", "avx512") for f in flags}
    level = "unknown"
    if flags & {"asimd", "neon", "sve"}:
        level = "SVE" if "sve" in flags else "NEON"
    elif flags & {"sse2", "avx", "avx2", "avx512f"} or arch.lower() in ("x86_64", "amd64"):
        level = "x86-64"
        for name, needed in _X86_LEVELS:
            if all(f in flags for f in needed):
                level = name
            else:
                break
        if source == "numpy" and "avx512f" in flags:
            level = "x86-64-v4"  # NumPy does not list every v2/v3 flag
    features = [f for f in _NOTABLE if f in flags]
    return {"arch": arch, "level": level, "features": features, "source": source}


def cpu_info() -> dict[str, Any]:
    """CPU model, logical processors, the ones this process may use, SIMD level."""
    fields = _cpuinfo()
    model = fields.get("model name") or fields.get("cpu model") or platform.processor()
    try:
        usable = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        usable = os.cpu_count() or 1
    return {
        "model": model or "unknown",
        "logical_cpus": os.cpu_count(),
        "usable_cpus": usable,
        "simd": simd_level(),
    }


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def numba_status() -> dict[str, Any]:
    """numba's version and threading configuration (never imports numba.cuda)."""
    status: dict[str, Any] = {"version": _version("numba")}
    try:
        import numba
    except Exception as error:  # ImportError, or numba refusing this NumPy
        status["error"] = f"{type(error).__name__}: {error}"
        return status
    status["version"] = numba.__version__
    config = numba.config
    status["threading_layer"] = str(getattr(config, "THREADING_LAYER", "unknown"))
    status["num_threads"] = int(getattr(config, "NUMBA_NUM_THREADS", 0))
    status["cache_dir"] = os.environ.get("NUMBA_CACHE_DIR") or "(default)"
    return status


def cuda_status() -> dict[str, Any]:
    """numba-cuda's version, the simulator switch and whether a GPU answers."""
    status: dict[str, Any] = {
        "numba_cuda": _version("numba-cuda"),
        "simulator": os.environ.get("NUMBA_ENABLE_CUDASIM", "") not in ("", "0"),
        "available": False,
    }
    try:
        with warnings.catch_warnings():
            # numba's deprecated built-in target warns when numba-cuda is absent.
            warnings.simplefilter("ignore")
            from numba import cuda

            status["available"] = bool(cuda.is_available())
            if status["available"]:
                status["devices"] = [str(d.name) for d in cuda.list_devices()]
    except Exception as error:  # no driver, no toolkit, no numba: a status, not a crash
        status["error"] = f"{type(error).__name__}: {error}"
    return status


def info() -> dict[str, Any]:
    """Everything ``fastact info`` prints, as a JSON-ready dict."""
    from fastact._kernels import _runtime

    torch = torch_module()
    try:
        from fastact import _dispatch

        unavailable = dict(getattr(_dispatch, "_unavailable", {}))
    except Exception:  # a private detail: its absence must not break info
        unavailable = {}
    return {
        "fastact": fa.__version__,
        "location": str(Path(fa.__file__).parent),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "numpy": np.__version__,
        "scipy": _version("scipy"),
        "torch": None if torch is None else str(torch.__version__),
        "backends": fa.available_backends(),
        "unavailable_backends": unavailable,
        "threads": {
            "fastact": fa.get_num_threads(),
            "FASTACT_NUM_THREADS": os.environ.get("FASTACT_NUM_THREADS"),
            "openmp_procs": _runtime.omp_num_procs(),
        },
        "cpu": cpu_info(),
        "compile": _runtime.compile_info(),
        "numba": numba_status(),
        "cuda": cuda_status(),
    }

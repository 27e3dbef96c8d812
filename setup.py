"""Build script for fastact's compiled (Cython) extension modules.

The project metadata lives in pyproject.toml; this file only declares the
Cython extensions of ``fastact/_kernels/`` and the C compiler flags they are
built with.  The flags live here and nowhere else.

Flags (gcc/clang):

* ``-O3 -fno-math-errno``: NOT ``-ffast-math``.  fastact's contract needs NaN
  and inf semantics, and with gcc < 13 ``-ffast-math`` linked into a shared
  object sets flush-to-zero for the whole process (see shared/FACTS.md).
  ``-fno-math-errno`` alone lets gcc inline/vectorise libm calls.
* No ``-march=native``: wheels must stay portable.  Kernels that want AVX-512
  use ``__attribute__((target_clones(...)))`` in their C code instead.
* ``-fno-trapping-math``: the kernels never rely on floating-point traps (they
  save and restore the exception flags around each loop), and without it gcc
  refuses to if-convert the branch-free selects of the AVX2 and baseline clones
  ("control flow in loop"), which then stay scalar.  It changes no result: NaN,
  inf and signed zeros keep their IEEE meaning.
* libmvec: the kernels re-declare libm's prototypes with gcc's ``simd``
  attribute (``FA_HAVE_LIBMVEC``) so that loops call glibc's vector variants,
  but only if a test program that uses every one of them links here (glibc >=
  2.35 has them all); otherwise the calls stay scalar and results stay right.
  Where fastact's own version of a primitive measured faster (float64 tanh:
  ``_IMPL`` in tools/codegen.py), the generated kernels
  inline that instead.
* OpenMP (``-fopenmp`` at compile and link time) when the configured compiler
  can build and link a tiny OpenMP program; otherwise the extensions are built
  without it (``prange`` then runs serially) and
  ``fastact._kernels._runtime.openmp_enabled()`` returns False.

Environment variables:

* ``FASTACT_DISABLE_OPENMP=1`` forces the build without OpenMP even where the
  compiler supports it (e.g. to test the fallback, or for a toolchain whose
  OpenMP runtime clashes with another library's).  Any value other than
  empty/``0``/``false``/``no``/``off`` counts as set.

The flags actually used are passed to the C code as string macros and are
reported at run time by ``fastact._kernels._runtime.compile_info()``.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
from pathlib import Path

import Cython
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = Path(__file__).resolve().parent

# Cython compiler directives shared by every extension module.
CYTHON_DIRECTIVES = {
    "language_level": 3,
    "boundscheck": False,
    "wraparound": False,
    "cdivision": True,
    "initializedcheck": False,
}

# Defined for every extension: forbid the deprecated NumPy C API in modules
# that use it (harmless in modules that do not include NumPy's headers).
DEFINE_MACROS = [("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")]

_TRUTHY_OFF = {"", "0", "false", "no", "off"}

# A module includes NumPy's C headers only if it cimports numpy.
_CIMPORTS_NUMPY = re.compile(r"^\s*(cimport\s+numpy\b|from\s+numpy\b.*\bcimport\b)", re.MULTILINE)

_OPENMP_TEST_PROGRAM = r"""
#include <omp.h>
#include <stdio.h>

int main(void) {
    int n = 0;
    #pragma omp parallel reduction(+ : n)
    n += 1;
    printf("%d %d\n", n, omp_get_num_procs());
    return n > 0 ? 0 : 1;
}
"""


_LIBMVEC_TEST_PROGRAM = r"""
#define FA_SIMD_DECL __attribute__((__simd__("notinbranch")))
#define DECL1(name) FA_SIMD_DECL float name##f(float); FA_SIMD_DECL double name(double);
DECL1(exp) DECL1(expm1) DECL1(log) DECL1(log1p) DECL1(tanh) DECL1(erf) DECL1(erfc)
FA_SIMD_DECL float hypotf(float, float); FA_SIMD_DECL double hypot(double, double);

#define LOOP(T, SFX)                                                                 \
    __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))    \
    void run_##SFX(T *x, int n) {                                                   \
        _Pragma("omp simd")                                                          \
        for (int i = 0; i < n; i++)                                                  \
            x[i] = exp##SFX(x[i]) + expm1##SFX(x[i]) + log##SFX(x[i]) +              \
                   log1p##SFX(x[i]) + tanh##SFX(x[i]) + erf##SFX(x[i]) +             \
                   erfc##SFX(x[i]) + hypot##SFX(x[i], x[i]);                         \
    }
LOOP(float, f)
LOOP(double, )

int main(void) {
    float a[64] = {0};
    double b[64] = {0};
    run_f(a, 64);
    run_(b, 64);
    return (int)(a[0] + b[0]) == 12345;
}
"""


def _openmp_disabled_by_env() -> bool:
    return os.environ.get("FASTACT_DISABLE_OPENMP", "").strip().lower() not in _TRUTHY_OFF


def _extensions() -> list[Extension]:
    """One Extension per ``fastact/_kernels/*.pyx`` (add a .pyx to add a module)."""
    extensions = []
    for pyx in sorted((HERE / "fastact" / "_kernels").glob("*.pyx")):
        rel = pyx.relative_to(HERE).as_posix()  # setuptools wants relative paths
        include_dirs = []
        if _CIMPORTS_NUMPY.search(pyx.read_text(encoding="utf-8")):
            import numpy

            include_dirs.append(numpy.get_include())
        extensions.append(
            Extension(
                f"fastact._kernels.{pyx.stem}",
                sources=[rel],
                include_dirs=[*include_dirs, "fastact/_kernels"],
                define_macros=list(DEFINE_MACROS),
                libraries=["m"],
                depends=[h.relative_to(HERE).as_posix() for h in sorted(pyx.parent.glob("*.h"))],
            )
        )
    return extensions


def _c_string(value: str) -> str:
    """``value`` as a C string literal, for a ``-DNAME="..."`` macro."""
    return json.dumps(value)


class BuildExt(build_ext):
    """build_ext that picks the compiler flags (and OpenMP) for the configured compiler."""

    def _flags(self) -> tuple[list[str], list[str], list[str], list[str]]:
        """(base compile args, base link args, OpenMP compile args, OpenMP link args)."""
        if self.compiler.compiler_type == "msvc":
            return ["/O2"], [], ["/openmp"], []
        return ["-O3", "-fno-math-errno", "-fno-trapping-math"], [], ["-fopenmp"], ["-fopenmp"]

    def _compiler_name(self) -> str:
        cc = getattr(self.compiler, "compiler_so", None) or getattr(self.compiler, "cc", None)
        if isinstance(cc, (list, tuple)):
            cc = cc[0] if cc else None
        return str(cc or self.compiler.compiler_type)

    def _program_builds(
        self, what: str, program: str, compile_args: list[str], link_args: list[str]
    ) -> bool:
        """Test-compile and link a tiny program with the configured compiler."""
        with tempfile.TemporaryDirectory(prefix="fastact-test-") as tmp:
            with contextlib.chdir(tmp):
                Path("test_program.c").write_text(program, encoding="utf-8")
                try:
                    objects = self.compiler.compile(
                        ["test_program.c"], output_dir="objects", extra_postargs=compile_args
                    )
                    self.compiler.link_executable(
                        objects,
                        "test_program",
                        output_dir=".",
                        libraries=["m"],
                        extra_postargs=link_args,
                    )
                except Exception as exc:  # CompileError, LinkError, missing compiler, ...
                    print(f"fastact: {what} test program failed to build: {exc}")
                    return False
        return True

    def _flags_stamp_is_stale(self, stamp: str) -> bool:
        """True if the flags differ from the last build in this build directory.

        pip builds in the source tree (build/), and build_ext skips an extension
        whose .so is newer than its sources: a changed flag (e.g.
        FASTACT_DISABLE_OPENMP) would otherwise leave a stale module.
        """
        path = Path(self.build_temp) / "fastact-build-flags.json"
        old = path.read_text(encoding="utf-8") if path.exists() else None
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(stamp, encoding="utf-8")
        return old != stamp

    def build_extensions(self) -> None:
        compile_args, link_args, omp_compile, omp_link = self._flags()
        disabled = _openmp_disabled_by_env()
        if disabled:
            print("fastact: FASTACT_DISABLE_OPENMP is set: building without OpenMP")
            openmp = False
        else:
            openmp = self._program_builds(
                "OpenMP", _OPENMP_TEST_PROGRAM, compile_args + omp_compile, link_args + omp_link
            )
            print(f"fastact: OpenMP {'enabled' if openmp else 'NOT available: serial fallback'}")
        if openmp:
            compile_args = compile_args + omp_compile
            link_args = link_args + omp_link

        libmvec = self.compiler.compiler_type != "msvc" and self._program_builds(
            "libmvec", _LIBMVEC_TEST_PROGRAM, compile_args, link_args
        )
        print(f"fastact: libmvec SIMD math {'enabled' if libmvec else 'NOT available'}")
        macros = [
            *([("FA_HAVE_LIBMVEC", "1")] if libmvec else []),
            ("FASTACT_EXTRA_COMPILE_ARGS", _c_string(" ".join(compile_args))),
            ("FASTACT_EXTRA_LINK_ARGS", _c_string(" ".join(link_args))),
            ("FASTACT_OPENMP_DISABLED_BY_ENV", "1" if disabled else "0"),
            ("FASTACT_COMPILER", _c_string(self._compiler_name())),
            ("FASTACT_CYTHON_VERSION", _c_string(Cython.__version__)),
        ]
        stamp = json.dumps({"compile": compile_args, "link": link_args, "macros": macros})
        if self._flags_stamp_is_stale(stamp):
            self.force = True
        for ext in self.extensions:
            ext.extra_compile_args = [*ext.extra_compile_args, *compile_args]
            ext.extra_link_args = [*ext.extra_link_args, *link_args]
            ext.define_macros = [*ext.define_macros, *macros]
        super().build_extensions()


setup(
    ext_modules=cythonize(_extensions(), compiler_directives=CYTHON_DIRECTIVES),
    cmdclass={"build_ext": BuildExt},
)

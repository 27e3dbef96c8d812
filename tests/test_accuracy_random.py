"""The accuracy bar between the table's grid points: random inputs, scored at run time.

The committed tables fix ~1000-1600 points per case; a kernel that is wrong only
between them (a polynomial's bad interval, a branch threshold off by a little) would
slip through. Here hypothesis draws inputs of any magnitude, the generator's own
``compute_point`` gives the exact values, and the result is scored the same way.
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import fastact as fa
import reference_tables as rt
from conftest import BACKENDS, strict_floating_point

FINITE = {
    "float32": st.floats(allow_nan=False, allow_infinity=False, width=32),
    "float64": st.floats(allow_nan=False, allow_infinity=False, width=64),
}
# Half the draws in the region where the activations bend, half anywhere.
NEAR = {d: st.floats(-40, 40, width=32 if d == "float32" else 64) for d in FINITE}


# 150 draws keep CI at ~2 s; FASTACT_ACCURACY_EXAMPLES=5000 for a hunt (~1 min).
@settings(max_examples=int(os.environ.get("FASTACT_ACCURACY_EXAMPLES", "150")))
@given(
    case_id=st.sampled_from(rt.case_ids()),
    dtype=st.sampled_from(["float32", "float64"]),
    data=st.data(),
    backend=st.sampled_from(BACKENDS),
)
def test_random_points_within_the_bar(case_id, dtype, data, backend) -> None:
    x = data.draw(st.one_of(NEAR[dtype], FINITE[dtype]), label="x")
    row = rt.generator().compute_point(rt.case(case_id), dtype, x)
    base = rt.load(case_id, dtype)
    point = dataclasses.replace(
        base, x=np.array([x]), **{k: np.array([v]) for k, v in zip(
            ("f_hi", "f_lo", "d_hi", "d_lo", "cond_f", "cond_d"), row, strict=True)}
    )
    activation = fa.activations()[rt.case(case_id).name]
    xs = np.array([x], dtype=dtype)
    with strict_floating_point():
        y, d = activation.value_and_derivative(xs, backend=backend, **base.params)
    errors = (rt.scaled_errors(y, point, "f")[0], rt.scaled_errors(d, point, "d")[0])
    assert max(errors) <= rt.ACCURACY_BAR, (case_id, dtype, x, errors)


# The fused backward from x: grad * f'(x) rounded once more. grad is a signed power of
# two, so the exact product is the oracle's f'(x) scaled exactly, and the bar is the
# derivative's (8 ulp times the condition number) plus half an ulp for the product.
@settings(max_examples=int(os.environ.get("FASTACT_ACCURACY_EXAMPLES", "150")))
@given(
    case_id=st.sampled_from(rt.case_ids()),
    dtype=st.sampled_from(["float32", "float64"]),
    data=st.data(),
    backend=st.sampled_from(BACKENDS),
)
def test_random_backward_within_the_bar(case_id, dtype, data, backend) -> None:
    x = data.draw(st.one_of(NEAR[dtype], FINITE[dtype]), label="x")
    scale = data.draw(st.sampled_from([-4.0, -1.0, -0.5, 0.25, 1.0, 2.0]), label="grad")
    row = rt.generator().compute_point(rt.case(case_id), dtype, x)
    _, _, d_hi, d_lo, _, cond_d = row
    base = rt.load(case_id, dtype)
    activation = fa.activations()[rt.case(case_id).name]
    xs = np.array([x], dtype=dtype)
    with strict_floating_point():
        got = activation.backward(np.array([scale], dtype=dtype), xs, backend=backend,
                                  **base.params)
    if isinstance(got, tuple):  # prelu: (grad_x, grad_weight)
        got = got[0]
    error = rt.ulp_errors(np.asarray(got, np.float64), np.array([d_hi * scale]),
                          np.array([d_lo * scale]), dtype)[0]
    assert error <= rt.ACCURACY_BAR * max(1.0, cond_d) + 0.5, (case_id, dtype, x, scale, error)

"""The error function on any array namespace (NumPy and CuPy have no ``erf`` of their own).

Sun's fdlibm ``s_erf.c`` (1993; "permission to use, copy, modify, and distribute this software
is freely granted, provided that this notice is preserved"): rational approximations on
|x| < 0.84375, [0.84375, 1.25), [1.25, 1/0.35), [1/0.35, 6) and 1 beyond, each within an ulp of
double precision.  Computed in float64 and returned in the input's float dtype.
"""

_PP = (1.28379167095512558561e-01, -3.25042107247001499370e-01, -2.84817495755985104766e-02,
       -5.77027029648944159157e-03, -2.37630166566501626084e-05)
_QQ = (1.0, 3.97917223959155352819e-01, 6.50222499887672944485e-02, 5.08130628187576562776e-03,
       1.32494738004321644526e-04, -3.96022827877536812320e-06)
_PA = (-2.36211856075265944077e-03, 4.14856118683748331666e-01, -3.72207876035701323847e-01,
       3.18346619901161753674e-01, -1.10894694282396677476e-01, 3.54783043256182359371e-02,
       -2.16637559486879084300e-03)
_QA = (1.0, 1.06420880400844228286e-01, 5.40397917702171048937e-01, 7.18286544141962662868e-02,
       1.26171219808761642112e-01, 1.36370839120290507362e-02, 1.19844998467991074170e-02)
_RA = (-9.86494403484714822705e-03, -6.93858572707181764372e-01, -1.05586262253232909814e+01,
       -6.23753324503260060396e+01, -1.62396669462573470355e+02, -1.84605092906711035994e+02,
       -8.12874355063065934246e+01, -9.81432934416914548592e+00)
_SA = (1.0, 1.96512716674392571292e+01, 1.37657754143519042600e+02, 4.34565877475229228821e+02,
       6.45387271733267880336e+02, 4.29008140027567833386e+02, 1.08635005541779435134e+02,
       6.57024977031928170135e+00, -6.04244152148580987438e-02)
_RB = (-9.86494292470009928597e-03, -7.99283237680523006574e-01, -1.77579549177547519889e+01,
       -1.60636384855821916062e+02, -6.37566443368389627722e+02, -1.02509513161107724954e+03,
       -4.83519191608651397019e+02)
_SB = (1.0, 3.03380607434824582924e+01, 3.25792512996573918826e+02, 1.53672958608443695994e+03,
       3.19985821950859553908e+03, 2.55305040643316442583e+03, 4.74528541206955367215e+02,
       -2.24409524465858183362e+01)
_ERX = 8.45062911510467529297e-01


def _poly(z, coeffs):
    out = coeffs[-1]
    for c in coeffs[-2::-1]:
        out = out * z + c
    return out


def erf_array(xp, a):
    """erf(a) elementwise for a float array *a* of namespace *xp* (NaN stays NaN, ±inf → ±1)."""
    x = a.astype(xp.float64)
    ax = xp.abs(x)
    with xp.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore"):
        z = x * x
        small = x + x * (_poly(z, _PP) / _poly(z, _QQ))
        s = ax - 1.0
        mid = _ERX + _poly(s, _PA) / _poly(s, _QA)
        t = 1.0 / z
        near = ax < 1.0 / 0.35
        r = xp.where(near, _poly(t, _RA), _poly(t, _RB))
        q = xp.where(near, _poly(t, _SA), _poly(t, _SB))
        zz = ax.astype(xp.float32).astype(xp.float64)   # x with a short mantissa: zz² is exact
        tail = 1.0 - xp.exp(-zz * zz - 0.5625) * xp.exp((zz - ax) * (zz + ax) + r / q) / ax
    big = xp.where(ax < 6.0, tail, 1.0)
    big = xp.where(ax < 1.25, mid, big)
    out = xp.where(ax < 0.84375, small, xp.where(x < 0, -big, big))
    out = xp.where(xp.isnan(x), x, out)                  # NaN in, NaN out
    return out.astype(a.dtype, copy=False)

"""Independent reference values for analytics/internal/stats (reference_test.go).

Reads one JSON document on stdin and prints one on stdout. Uses SciPy and
statsmodels only, and computes each quantity a different way from the Go code:
  msprt  - the mixture likelihood ratio by numerical integration (scipy.integrate.quad)
           and the confidence-sequence ends by root finding (scipy.optimize.brentq)
  adjust - statsmodels.stats.multitest.multipletests (holm, fdr_bh)
  cuped  - statsmodels OLS y ~ 1 + treatment + x on the per-user data, then Welch's
           t-test (scipy.stats.ttest_ind, equal_var=False) on y - theta*(x - mean(x))
  lift   - the delta method by a numerical Jacobian of mt/mb - 1 (central differences)
"""
import json
import math
import sys

import numpy as np
import statsmodels.api as sm
from scipy import integrate, optimize, stats
from statsmodels.stats.multitest import multipletests


def msprt(c):
    est, v, tau2, alpha = c["est"], c["v"], c["tau2"], c["alpha"]

    def lr(x):
        # integral of N(x; theta, v) N(theta; 0, tau2) dtheta / N(x; 0, v)
        # log N(x; th, v) - log N(x; 0, v) + log N(th; 0, tau2), written out (scipy.stats calls are slow in quad)
        f = lambda th: math.exp((2 * x * th - th * th) / (2 * v) - th * th / (2 * tau2) - 0.5 * math.log(2 * math.pi * tau2))
        w = 12 * math.sqrt(tau2)
        centre = x * tau2 / (tau2 + v)  # the posterior mean: where the integrand lives
        pts = [centre]
        return integrate.quad(f, -w + min(0, centre), w + max(0, centre), points=pts, limit=200, epsabs=0, epsrel=1e-10)[0]

    p = min(1.0, 1 / lr(est))
    g = lambda th: lr(est - th) - 1 / alpha
    span = math.sqrt(v)
    while g(est - span) < 0 or g(est + span) < 0:  # lr(0) < 1 < 1/alpha: widen until both ends reject
        span *= 2
    lo = optimize.brentq(g, est - span, est, xtol=1e-13, rtol=1e-11)
    hi = optimize.brentq(g, est, est + span, xtol=1e-13, rtol=1e-11)
    return {"p": p, "lo": lo, "hi": hi}


def adjust(c):
    m = {"holm": "holm", "bh": "fdr_bh"}[c["method"]]
    return {"p": list(multipletests(c["p"], method=m)[1])}


def cuped(c):
    yb, xb, yt, xt = (np.array(c[k], dtype=float) for k in ("yb", "xb", "yt", "xt"))
    y = np.concatenate([yb, yt])
    x = np.concatenate([xb, xt])
    t = np.concatenate([np.zeros(len(yb)), np.ones(len(yt))])
    fit = sm.OLS(y, sm.add_constant(np.column_stack([t, x]))).fit()
    theta = fit.params[2]
    xbar = x.mean()
    ab, at = yb - theta * (xb - xbar), yt - theta * (xt - xbar)
    r = stats.ttest_ind(at, ab, equal_var=False)
    ci = r.confidence_interval(0.95)
    return {"theta": theta, "diff": fit.params[1], "p": r.pvalue, "lo": ci.low, "hi": ci.high,
            "varB": ab.var(ddof=1), "varT": at.var(ddof=1)}


def lift(c):
    mb, vb, nb, mt, vt, nt = c["mb"], c["vb"], c["nb"], c["mt"], c["vt"], c["nt"]
    g = lambda b, t: t / b - 1
    hb, ht = 1e-6 * abs(mb), 1e-6 * max(abs(mt), 1e-12)
    db = (g(mb + hb, mt) - g(mb - hb, mt)) / (2 * hb)
    dt = (g(mb, mt + ht) - g(mb, mt - ht)) / (2 * ht)
    return {"lift": g(mb, mt), "var": db * db * vb / nb + dt * dt * vt / nt}


def main():
    req = json.load(sys.stdin)
    fns = {"msprt": msprt, "adjust": adjust, "cuped": cuped, "lift": lift}
    json.dump([fns[c["kind"]](c) for c in req], sys.stdout)


main()

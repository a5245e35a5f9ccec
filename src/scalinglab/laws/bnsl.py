"""Broken neural scaling law with one break: y = a + b x^(-c0) (1 + (x/d1)^(1/f1))^(-c1 f1).

Source: Caballero, Gupta, Rish and Krueger 2022, "Broken Neural Scaling Laws",
arXiv:2210.14891, eq. (1) with n = 1. Two power-law segments (exponents -c0, then -(c0 + c1))
joined smoothly at x = d1, plus the limit a. The two-break form is :mod:`.bnsl2`; the shared
evaluation (log-sum-exp with softplus terms) is in :mod:`._bnsl_common`.

| name | meaning                                   | unit           | internal | bounds       |
|------|-------------------------------------------|----------------|----------|--------------|
| a    | limit as x -> infinity                    | target         | log a    | a >= 0       |
| b    | scale of the first segment                | target * x^c0  | log b    | b >= 0       |
| c0   | exponent of the first segment             | 1              | c0       | [-5, 10]     |
| c1   | change of exponent at the break           | 1              | c1       | [-10, 20]    |
| d1   | position of the break                     | x              | log d1   | d1 >= 0      |
| f1   | sharpness of the break (smaller: sharper) | 1              | log f1   | [1e-3, 100]  |

Variable ``x`` (``--x COLUMN``). Computed as log y = LSE(log a, log b - c0 log x -
c1 f1 softplus((log x - log d1)/f1)). Target must be positive. Default grid: 144 starts, with
a, b and d1 adapted to the data (see :func:`._bnsl_common._make_data_grid`).

No parameter set is published for a one-break law in the paper (its figure 1 illustrates a
three-break law), so ``published`` is empty.
"""

from __future__ import annotations

from scalinglab.laws._bnsl_common import make_law

LAW = make_law("bnsl", 1)

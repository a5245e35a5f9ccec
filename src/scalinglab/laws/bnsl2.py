"""Broken neural scaling law with two breaks:
y = a + b x^(-c0) (1 + (x/d1)^(1/f1))^(-c1 f1) (1 + (x/d2)^(1/f2))^(-c2 f2).

Source: Caballero, Gupta, Rish and Krueger 2022, "Broken Neural Scaling Laws",
arXiv:2210.14891, eq. (1) with n = 2. Three power-law segments (exponents -c0, -(c0 + c1),
-(c0 + c1 + c2)) joined smoothly at x = d1 and x = d2, plus the limit a. The one-break form is
:mod:`.bnsl`; the shared evaluation is in :mod:`._bnsl_common`.

| name   | meaning                                     | unit          | internal  | bounds      |
|--------|---------------------------------------------|---------------|-----------|-------------|
| a      | limit as x -> infinity                      | target        | log a     | a >= 0      |
| b      | scale of the first segment                  | target * x^c0 | log b     | b >= 0      |
| c0     | exponent of the first segment               | 1             | c0        | [-5, 10]    |
| c1, c2 | change of exponent at break 1, 2            | 1             | c_i       | [-10, 20]   |
| d1, d2 | positions of the breaks                     | x             | log d_i   | d_i >= 0    |
| f1, f2 | sharpness of the breaks (smaller: sharper)  | 1             | log f_i   | [1e-3, 100] |

Variable ``x`` (``--x COLUMN``). Computed as log y = LSE(log a, log b - c0 log x -
sum_i c_i f_i softplus((log x - log d_i)/f_i)). Target must be positive. The labels of the two
breaks are interchangeable (the law is symmetric in (c_i, d_i, f_i)); the starting grid puts
d1 in the lower and d2 in the upper part of the data, so fits usually return d1 < d2. Default
grid: 288 starts. With 10 parameters the law needs many points per curve; prefer :mod:`.bnsl`
unless the data show two bends.

No parameter set is published for a two-break law in the paper, so ``published`` is empty.
"""

from __future__ import annotations

from scalinglab.laws._bnsl_common import make_law

LAW = make_law("bnsl2", 2)

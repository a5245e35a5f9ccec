"""The grammar (scalinglab.discover.grammar): which forms, in which order, with which starts."""

from __future__ import annotations

import math

import numpy as np

from scalinglab.discover.grammar import Atom, Candidate, atoms_for, formula_text, grammar
from scalinglab.discover.search import law_name
from scalinglab.laws import get_law

X_ND = {"N": np.geomspace(1e7, 1e10, 12), "D": np.geomspace(1e9, 1e12, 12)}


def test_two_variables_give_products_ratios_and_pair_atoms() -> None:
    vars_ = {a.var for a in atoms_for(["N", "D"], X_ND) if a.kind == "pow"}
    assert vars_ == {"N", "D", "(N*D)", "(D/N)", "(N/D)"}
    kinds = {a.kind for a in atoms_for(["N", "D"], X_ND)}
    # no log atom with two variables (see the grammar's docstring)
    assert kinds == {"pow", "exp", "sat", "brk", "inter", "sumpow", "kaplan"}


def test_log_atom_only_for_one_variable_that_exceeds_one() -> None:
    assert any(a.kind == "log" for a in atoms_for(["x"], {"x": np.array([2.0, 5.0])}))
    assert not any(a.kind == "log" for a in atoms_for(["x"], {"x": np.array([0.5, 5.0])}))
    both = {"N": np.array([2.0, 5.0]), "D": np.array([3.0, 9.0])}
    assert not any(a.kind == "log" for a in atoms_for(["N", "D"], both))


def test_forms_are_ordered_by_parameters_and_each_builds_a_law() -> None:
    forms = grammar(["x"], {"x": np.geomspace(10, 1e6, 20)}, max_terms=2)
    ks = [sum(a.n_params for a in atoms) + int(off) for atoms, off in forms]
    assert ks == sorted(ks)
    texts = [formula_text(*f) for f in forms]
    assert len(set(texts)) == len(texts)
    assert "E + A1/x^a1" in texts and "A1/x^a1 + A2*exp(-x/s2)" in texts
    for (atoms, offset), text in zip(forms, texts, strict=True):
        law = get_law(text)
        assert len(law.params) == sum(a.n_params for a in atoms) + int(offset), text


def test_three_terms_only_for_power_sums_with_offset() -> None:
    three = [f for f in grammar(["N", "D"], X_ND, max_terms=3) if len(f[0]) == 3]
    assert three and all(off and all(a.kind == "pow" for a in atoms) for atoms, off in three)
    assert not [f for f in grammar(["N", "D"], X_ND, max_terms=2) if len(f[0]) == 3]


def test_kaplan_atom_is_kaplan_reparametrised() -> None:
    # Kaplan et al. 2020 eq. 1.5: [(N_c/N)^(a_N/a_D) + D_c/D]^a_D with A = N_c^(a_N/a_D)
    law = get_law(formula_text((Atom("kaplan", ("N", "D")),), False))
    kap = get_law("kaplan")
    n_c, a_n, d_c, a_d = 8.8e13, 0.076, 5.4e13, 0.095
    mine = law.to_internal({"A1": n_c ** (a_n / a_d), "a1": a_n / a_d, "B1": d_c, "c1": a_d})
    theirs = kap.to_internal({"N_c": n_c, "alpha_N": a_n, "D_c": d_c, "alpha_D": a_d})
    np.testing.assert_allclose(law.predict(mine, X_ND), kap.predict(theirs, X_ND), rtol=1e-12)


def test_power_starts_put_the_term_on_the_data_scale() -> None:
    y = np.full(12, 3.0)
    starts = Atom("pow", ("N",)).starts(1, X_ND, float(np.median(y)))
    gm = math.exp(np.mean(np.log(X_ND["N"])))
    values = sorted(round(s["A1"] / gm ** s["a1"], 9) for s in starts)
    assert set(values) == {0.3, 1.5}  # 10% and 50% of the median target at the typical N


def test_starts_are_capped_seeded_and_in_parameter_order() -> None:
    text = "E + A1/N^a1 + A2/D^a2 + A3/(N*D)^a3"
    cand = Candidate(law_name(text, ["N", "D"]), 7, (Atom("pow", ("N",)), Atom("pow", ("D",)),
                     Atom("pow", ("N", "D"))), True)  # fmt: skip
    law = get_law(cand.law_name)
    y = np.linspace(2.0, 3.0, 12)
    a = cand.starts(law, X_ND, y, cap=20, seed=1)
    assert a is not None and a.shape == (20, 7)
    b = cand.starts(law, X_ND, y, cap=20, seed=1)
    c = cand.starts(law, X_ND, y, cap=20, seed=2)
    assert b is not None and c is not None
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    e = law.param_names.index("E")
    assert set(np.round(np.exp(a[:, e]) / y.min(), 9)) <= {0.1, 0.5, 0.9}


def test_catalogue_candidate_uses_its_own_grid() -> None:
    law = get_law("chinchilla")
    assert (
        Candidate("chinchilla", 5, catalogue="chinchilla").starts(
            law, X_ND, np.ones(12), cap=4, seed=0
        )
        is None
    )


def test_law_name_names_variables_formulas_do_not_know() -> None:
    assert law_name("E + A1/x^a1", ["x"]) == "formula:E + A1/x^a1"
    name = law_name("E + A1/tokens^a1", ["tokens", "N"])
    assert name == 'formula:E + A1/tokens^a1; {"variables": ["tokens"]}'
    assert get_law(name).variables == ("tokens",)

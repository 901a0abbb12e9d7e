"""The text grammar of docs/data-format.md §3-4, written as regular expressions, checked on official and generated rows.

Also: the four official examples of docs/data-format.md §4 and all 57 official rows are rebuilt from graph objects and must
render byte for byte.
"""

from __future__ import annotations

import re

import pytest
from conftest import FIXTURES, read_jsonl

from interplay_hf.data import CONTEXTS, generate_problem
from interplay_hf.data.graph import REVERSE, RNG, ProblemGraph, compute_values
from interplay_hf.data.render import render


def _alt(names) -> str:
    return "(?:" + "|".join(re.escape(n) for n in sorted(set(names), key=len, reverse=True)) + ")"


# ---- vocabulary: every name comes from a registered context ------------------------------------
ITEM = _alt(n for c in CONTEXTS.values() for g in c.items.values() for n in g)
PLACE = _alt(n for c in CONTEXTS.values() for g in c.places.values() for n in g)
TOTAL = _alt(c.total_name for c in CONTEXTS.values())
PARAM = rf"(?:{ITEM} in {PLACE}|{TOTAL} in {PLACE})"
REF = rf"(?:the number of {ITEM} in {PLACE}|the {TOTAL} in {PLACE})"
SUBJECT = rf"The number of {ITEM} in {PLACE}"

# ---- problem sentences (docs/data-format.md §3) ----------------------------------------------------------
OPERANDS = rf"(?:{REF}|the sum of {REF} and {REF}|the difference between {REF} and {REF}|the sum of {REF}(?:, {REF})+, and {REF})"
SENTENCE = re.compile(rf"{SUBJECT} equals (?:[1-4]|(?:[1-4] plus |[2-4] times )?{OPERANDS})")
UNKNOWN_SENTENCE = re.compile(rf"{SUBJECT} exists, and its number is greater than 0")
GIVEN_SENTENCE = re.compile(rf"(?:The {TOTAL} in {PLACE}|{SUBJECT}) equals \d+")
QUESTION = re.compile(rf"What is the {TOTAL} in {PLACE}\?|How many {ITEM} does {PLACE} have\?")

# ---- forward solution (docs/data-format.md §4) -----------------------------------------------------------
V, N = r"[A-Za-z]", r"-?\d+"
STMT = rf"{V} = (?:\d+|{V} = {N}|{V} [+-] {V} = {N} [+-] {N} = {N}|\d+ [+*] {V} = \d+ [+*] {N} = {N})"
STEP = rf"Define {PARAM} as {V}; (?:{STMT}; )*so {STMT}\. "
FORWARD_SOLUTION = re.compile(rf"(?:{STEP})+Answer: \d+\.")

# ---- reverse solution --------------------------------------------------------------------------
XT = r"(?:\d+\*)?x"
SYM = rf"(?:-?{XT}(?: [+-] \d+)?|-?\d+(?: [+-] {XT})?)"
RSTMT = (
    rf"{V} = (?:\d+|{V} = {SYM}|{V} \+ {V} = {SYM} \+ {SYM} = {SYM}|{V} - {V} = \({SYM}\) - \({SYM}\) = {SYM}"
    rf"|\d+ \+ {V} = \d+ \+ {SYM} = {SYM}|\d+ \* {V} = \(\d+\) \* \({SYM}\) = {SYM})"
)
RSTEP = rf"Define {PARAM} as (?:x; we don't know its value yet but will find it out later\. |[A-Za-wyzA-WYZ]; (?:{RSTMT}; )*so {RSTMT}\. )"
TAIL = (
    rf"We know {V} = \d+, so we have {SYM} = \d+ and we solve it through the following steps: "
    rf"Simplifying the equation: {SYM} = \d+\. Move all terms to one side: {SYM} = 0\. "
    rf"Isolate the term with x: -?\d+\*x = -?\d+\. Divide both sides by -?\d+: x = -?\d+ / -?\d+\. "
    rf"Solution: x = \d+\. Answer: \d+\."
)
REVERSE_SOLUTION = re.compile(rf"The question is difficult, so we use equations to solve it\. (?:{RSTEP})+{TAIL}")


def sentences_of(problem: str) -> list[str]:
    assert problem.endswith(". "), "the problem text ends with '. '"
    return problem[:-2].split(". ")


def check_row_grammar(row: dict) -> None:
    sentences = sentences_of(row["problem"])
    if row["mode"] == REVERSE:
        assert sum(bool(UNKNOWN_SENTENCE.fullmatch(s)) for s in sentences) == 1
        others = [s for s in sentences if not UNKNOWN_SENTENCE.fullmatch(s)]
        given = [s for s in others if not SENTENCE.fullmatch(s)]
        assert len(given) <= 1 and all(GIVEN_SENTENCE.fullmatch(s) for s in given), given
        assert REVERSE_SOLUTION.fullmatch(row["solution"]), row["solution"]
    else:
        bad = [s for s in sentences if not SENTENCE.fullmatch(s)]
        assert not bad, bad
        assert FORWARD_SOLUTION.fullmatch(row["solution"]), row["solution"]
    assert QUESTION.fullmatch(row["question"]), row["question"]


def official_rows() -> list[dict]:
    return read_jsonl(FIXTURES / "official_rows.jsonl")


# ---- the official rows and our problems follow the grammar ------------------------------------
def test_every_official_row_matches_the_grammar():
    rows = official_rows()
    assert len(rows) == 57 and {r["op"] for r in rows} == set(range(2, 21))
    for row in rows:
        check_row_grammar(row)


@pytest.mark.parametrize("context", ["zoo", "teacher", "movie"])
def test_generated_forward_problems_match_the_grammar(context):
    for op in range(2, 21):
        for seed in range(3):
            check_row_grammar(generate_problem(op, context, seed=seed).to_row())


@pytest.mark.parametrize("context", ["zoo", "teacher", "movie"])
def test_generated_reverse_problems_match_the_grammar(context):
    for op in (2, 3, 5, 8, 12, 16, 20):
        check_row_grammar(generate_problem(op, context, "forwardreverse", seed=op).to_row())


def test_the_grammar_rejects_malformed_text():
    assert not SENTENCE.fullmatch("The number of adult bear in South Zoo equals 5")  # constants are 1..4
    assert not SENTENCE.fullmatch("The number of adult bear in South Zoo equals 1 times the number of adult fox in South Zoo")
    bad_sum = ("The number of adult bear in South Zoo equals the sum of the number of adult fox in South Zoo and "
               "the number of adult owl in South Zoo and the number of adult crow in South Zoo")
    assert not SENTENCE.fullmatch(bad_sum)  # three operands need the serial comma form
    assert not FORWARD_SOLUTION.fullmatch("Define adult bear in South Zoo as B; B = 2. Answer: 2.")  # 'so' missing
    assert not QUESTION.fullmatch("How many adult bear does South Zoo have")


# ---- rebuilding official text from graph objects -----------------------------------------------
def make_graph(context: str, mode: str, sentences: list[tuple[str, dict]], totals: dict[str, list[str]],
               topo: list[str], given_last: bool = False) -> tuple[ProblemGraph, list[int]]:
    """A ProblemGraph built by hand. ``sentences``: (instance name, definition) in problem order, where a
    definition has ``ops`` (names), ``const``, ``rng`` ('+', '*' or 'only') and ``notation`` ('+'/'-');
    ``totals``: place -> its instance names in summation order; ``topo``: solution order."""
    ctx = CONTEXTS[context]
    inst_names = [name for name, _ in sentences]
    places = sorted({n.rsplit(" in ", 1)[1] for n in inst_names} | set(totals))
    items = sorted({n.rsplit(" in ", 1)[0] for n in inst_names})
    P = len(places)
    ids = {f"{ctx.total_name} in {p}": i for i, p in enumerate(places)}
    ids.update({n: P + k for k, n in enumerate(inst_names)})
    parents: list[list[int]] = [[] for _ in range(P + len(inst_names))]
    const, rng_op, notation = {}, {}, {}
    unknown = None
    for name, d in sentences:
        x = ids[name]
        parents[x] = [ids[o] for o in d.get("ops", [])]
        if "const" in d:
            const[x] = d["const"]
            if d.get("rng"):
                parents[x].append(RNG)
            if d.get("rng") in ("+", "*"):
                rng_op[x] = d["rng"]
        if "notation" in d:
            notation[x] = d["notation"]
        if d.get("unknown"):
            unknown = x
    for place, members in totals.items():
        parents[ids[f"{ctx.total_name} in {place}"]] = [ids[m] for m in members]
    topo_ids = [ids[n] for n in topo]
    g = ProblemGraph(
        op=0, mode=mode, n_places=P, place_names=places, item_names=items, total_name=ctx.total_name,
        inst_place=[places.index(n.rsplit(" in ", 1)[1]) for n in inst_names],
        inst_item=[items.index(n.rsplit(" in ", 1)[0]) for n in inst_names],
        parents=parents, topo=topo_ids, sentences=[ids[n] for n in inst_names], const=const, rng_op=rng_op,
        notation=notation, values={}, unknown=unknown,
    )
    g.values = compute_values(topo_ids, parents, P, const, rng_op, notation)
    g.op = g.op_count()
    order = list(range(len(sentences) + (mode == REVERSE)))
    return g, order


def test_format_example_a_teachers_forward_op6():
    c = lambda v: {"const": v, "rng": "only"}  # noqa: E731
    sentences = [
        ("regional medical school in Brightford",
         {"ops": ["private middle school in Evervale City", "public highschool in Glenfield City"], "notation": "+"}),
        ("private middle school in Evervale City", c(1)),
        ("elementary school in Hawkesbury", c(2)),
        ("culinarian school in Hawkesbury", {"ops": ["elementary school in Hawkesbury"]}),
        ("public highschool in Brightford", {"ops": ["private middle school in Evervale City"], "const": 1, "rng": "+"}),
        ("private middle school in Hawkesbury", {"ops": ["elementary school in Hawkesbury"]}),
        ("public highschool in Glenfield City", {"ops": ["public highschool in Brightford"]}),
        ("regional medical school in Glenfield City", {"ops": ["culinarian school in Glenfield City"]}),
        ("regional medical school in Evervale City",
         {"ops": ["elementary school in Hawkesbury", "total number of schools in Glenfield City"], "notation": "+",
          "const": 2, "rng": "+"}),
        ("public highschool in Evervale City", {"ops": ["private middle school in Evervale City"], "const": 2, "rng": "*"}),
        ("culinarian school in Brightford", {"ops": ["regional medical school in Brightford"]}),
        ("culinarian school in Glenfield City",
         {"ops": ["private middle school in Hawkesbury", "elementary school in Hawkesbury"], "notation": "-",
          "const": 4, "rng": "*"}),
        ("elementary school in Evervale City", c(3)),
    ]
    totals = {"Hawkesbury": ["culinarian school in Hawkesbury", "elementary school in Hawkesbury",
                             "private middle school in Hawkesbury"]}
    topo = ["elementary school in Hawkesbury", "private middle school in Hawkesbury",
            "culinarian school in Hawkesbury", "total number of schools in Hawkesbury"]
    g, order = make_graph("teacher", "normalforward", sentences, totals, topo)
    out = render(g, order=order, letters="BXRUE")
    assert g.op == 6
    assert out.problem == (
        "The number of regional medical school in Brightford equals the sum of the number of private middle school in "
        "Evervale City and the number of public highschool in Glenfield City. The number of private middle school in "
        "Evervale City equals 1. The number of elementary school in Hawkesbury equals 2. The number of culinarian "
        "school in Hawkesbury equals the number of elementary school in Hawkesbury. The number of public highschool "
        "in Brightford equals 1 plus the number of private middle school in Evervale City. The number of private "
        "middle school in Hawkesbury equals the number of elementary school in Hawkesbury. The number of public "
        "highschool in Glenfield City equals the number of public highschool in Brightford. The number of regional "
        "medical school in Glenfield City equals the number of culinarian school in Glenfield City. The number of "
        "regional medical school in Evervale City equals 2 plus the sum of the number of elementary school in "
        "Hawkesbury and the total number of schools in Glenfield City. The number of public highschool in Evervale "
        "City equals 2 times the number of private middle school in Evervale City. The number of culinarian school "
        "in Brightford equals the number of regional medical school in Brightford. The number of culinarian school "
        "in Glenfield City equals 4 times the difference between the number of private middle school in Hawkesbury "
        "and the number of elementary school in Hawkesbury. The number of elementary school in Evervale City equals 3. "
    )
    assert out.question == "What is the total number of schools in Hawkesbury?"
    assert out.solution == (
        "Define elementary school in Hawkesbury as B; so B = 2. Define private middle school in Hawkesbury as X; "
        "so X = B = 2. Define culinarian school in Hawkesbury as R; so R = B = 2. Define total number of schools in "
        "Hawkesbury as E; U = R + B = 2 + 2 = 4; so E = U + X = 4 + 2 = 6. Answer: 6."
    )
    assert out.answer == 6


def test_format_example_b_zoo_reverse_op4():
    sentences = [
        ("adult bear in Oakridge Riverside", {"const": 2, "rng": "only", "unknown": True}),
        ("adult bear in Pine Ridge", {"const": 3, "rng": "only"}),
        ("adult deer in Oakridge Riverside", {"const": 3, "rng": "only"}),
        ("adult deer in Pine Ridge", {"ops": ["adult bear in Oakridge Riverside"]}),
    ]
    totals = {"Oakridge Riverside": ["adult deer in Oakridge Riverside", "adult bear in Oakridge Riverside"]}
    topo = ["adult deer in Oakridge Riverside", "adult bear in Oakridge Riverside",
            "total number of adult animals in Oakridge Riverside"]
    g, _ = make_graph("zoo", "forwardreverse", sentences, totals, topo)
    out = render(g, order=[0, 1, 4, 2, 3], letters="lW")  # segment 4 = the given total
    assert g.op == 4
    assert out.problem == (
        "The number of adult bear in Oakridge Riverside exists, and its number is greater than 0. The number of adult "
        "bear in Pine Ridge equals 3. The total number of adult animals in Oakridge Riverside equals 5. The number of "
        "adult deer in Oakridge Riverside equals 3. The number of adult deer in Pine Ridge equals the number of adult "
        "bear in Oakridge Riverside. "
    )
    assert out.question == "How many adult bear does Oakridge Riverside have?"
    assert out.solution == (
        "The question is difficult, so we use equations to solve it. Define adult deer in Oakridge Riverside as l; "
        "so l = 3. Define adult bear in Oakridge Riverside as x; we don't know its value yet but will find it out "
        "later. Define total number of adult animals in Oakridge Riverside as W; so W = l + x = 3 + x = x + 3. We "
        "know W = 5, so we have x + 3 = 5 and we solve it through the following steps: Simplifying the equation: "
        "x + 3 = 5. Move all terms to one side: x - 2 = 0. Isolate the term with x: 1*x = 2. Divide both sides by "
        "1: x = 2 / 1. Solution: x = 2. Answer: 2."
    )
    assert out.answer == 2
    assert out.gold_graph["answer"] == 2


def test_format_example_c_movie_forward_op8():
    t, d, s, f = ("intense detective thriller in Festival Lumière de Valmont",
                  "solemn period drama in Festival Lumière de Valmont",
                  "futuristic sci-fi movie in Festival Lumière de Valmont",
                  "total number of movies in Festival Lumière de Valmont")
    sentences = [(t, {"const": 4, "rng": "only"}), (d, {"ops": [t], "const": 4, "rng": "+"}),
                 (s, {"ops": [t], "const": 2, "rng": "*"})]
    g, order = make_graph("movie", "normalforward", sentences, {"Festival Lumière de Valmont": [d, s, t]},
                          [t, d, s, f])
    out = render(g, order=order, letters="dxEUAwf")
    assert g.op == 8
    assert out.solution == (
        "Define intense detective thriller in Festival Lumière de Valmont as d; so d = 4. Define solemn period drama "
        "in Festival Lumière de Valmont as E; x = d = 4; so E = 4 + x = 4 + 4 = 8. Define futuristic sci-fi movie in "
        "Festival Lumière de Valmont as A; U = d = 4; so A = 2 * U = 2 * 4 = 8. Define total number of movies in "
        "Festival Lumière de Valmont as f; w = E + A = 8 + 8 = 16; so f = w + d = 16 + 4 = 20. Answer: 20."
    )


def test_format_example_d_zoo_forward_op3():
    sentences = [
        ("adult crow in Hamilton Farm", {"const": 3, "rng": "only"}),
        ("adult crow in Mayer Aquarium", {"ops": ["total number of adult animals in Hamilton Farm"]}),
        ("adult owl in Jefferson Circus", {"const": 3}),
    ]
    g, order = make_graph("zoo", "normalforward", sentences, {"Hamilton Farm": ["adult crow in Hamilton Farm"]},
                          ["adult crow in Hamilton Farm", "total number of adult animals in Hamilton Farm",
                           "adult crow in Mayer Aquarium"])
    out = render(g, order=order, letters="iPU")
    assert g.op == 3
    assert out.problem == (
        "The number of adult crow in Hamilton Farm equals 3. The number of adult crow in Mayer Aquarium equals the "
        "total number of adult animals in Hamilton Farm. The number of adult owl in Jefferson Circus equals 3. "
    )
    assert out.question == "How many adult crow does Mayer Aquarium have?"
    assert out.solution == (
        "Define adult crow in Hamilton Farm as i; so i = 3. Define total number of adult animals in Hamilton Farm as "
        "P; so P = i = 3. Define adult crow in Mayer Aquarium as U; so U = P = 3. Answer: 3."
    )


# ---- every official row, rebuilt from its parsed graph, renders byte for byte -----------------
_REF_NAME = re.compile(rf"the number of ({ITEM} in {PLACE})|the ({TOTAL} in {PLACE})")


def parse_official(row: dict):
    """Problem sentences -> definitions; solution -> topo, letters and the totals' summation order."""
    sentences = []
    for s in sentences_of(row["problem"]):
        m = re.fullmatch(rf"The number of ({ITEM} in {PLACE}) equals (.*)", s)
        assert m, s
        rhs, d = m.group(2), {}
        cm = re.match(r"(\d+)(?: (plus|times) )?", rhs)
        if cm:
            d["const"] = int(cm.group(1))
            d["rng"] = {"plus": "+", "times": "*"}.get(cm.group(2), "only")
        refs = [a or b for a, b in _REF_NAME.findall(rhs)]
        if refs:
            d["ops"] = refs
        if "the difference between" in rhs:
            d["notation"] = "-"
        elif len(refs) == 2:
            d["notation"] = "+"
        sentences.append((m.group(1), d))
    steps = re.findall(rf"Define ({PARAM}) as ([A-Za-z]); (.*?)(?= Define |Answer:)", row["solution"])
    topo = [name for name, _, _ in steps]
    letters, var, totals = [], {}, {}
    for name, v, body in steps:
        targets = re.findall(r"(?:^|; |so )([A-Za-z]) = ", body)
        letters += targets
        if re.fullmatch(rf"{TOTAL} in {PLACE}", name):
            operands = re.findall(r"([A-Za-z]) = ([A-Za-z])(?: \+ ([A-Za-z]))?", body)
            order = [operands[0][1]] + [o[2] for o in operands if o[2]]
            inverse = {letter: n for n, letter in var.items()}
            totals[name.rsplit(" in ", 1)[1]] = [inverse[letter] for letter in order]
        var[name] = v
    return sentences, totals, topo, letters


def _official_ids():
    return [f"op{r['op']}-{r['template']}" for r in official_rows()]


@pytest.mark.parametrize("row", official_rows(), ids=_official_ids())
def test_official_rows_rerender_byte_for_byte(row):
    sentences, totals, topo, letters = parse_official(row)
    context = {c.template: c.name for c in CONTEXTS.values()}[row["template"]]
    # "equals 3" is read as an RNG constant: right for necessary parameters, and op ignores distractors
    g, order = make_graph(context, row["mode"], sentences, totals, topo)
    out = render(g, order=order, letters=letters)
    assert g.op == row["op"], "op recounted from the graph"
    assert (out.problem, out.question, out.solution) == (row["problem"], row["question"], row["solution"])
    assert str(out.answer) == row["answer"]

"""The generator: determinism, exact op(G), value rules, gold graphs, contexts, config, and the official shape."""

from __future__ import annotations

import json
import math
import random
import re
import subprocess
import sys
from random import Random

import pytest
from conftest import FIXTURES, read_jsonl

from interplay_hf.data import (
    CONTEXTS,
    Context,
    GeneratorConfig,
    content_id,
    generate_problem,
    get_context,
    graph,
    register_context,
)
from interplay_hf.data.contexts import _ALIASES
from interplay_hf.data.gold import gold_graph_from_solution
from interplay_hf.data.graph import RNG, draw_graph
from interplay_hf.data.text import answer_from_solution, make_completion, make_prompt, make_text
from interplay_hf.errors import ConfigError


def official_rows() -> list[dict]:
    return read_jsonl(FIXTURES / "official_rows.jsonl")

TOTAL_NAMES = tuple(c.total_name for c in CONTEXTS.values())


# ---- helpers: read a problem back from its text (independent of the generator's objects) -------
def definitions(problem: str) -> dict[str, str]:
    """Instance name -> right-hand side of its sentence ('exists' for the reverse unknown)."""
    out = {}
    for s in problem[:-2].split(". "):
        m = re.fullmatch(r"The number of (.+?) (?:equals (.+)|exists, and its number is greater than 0)", s)
        if m:
            out[m.group(1)] = m.group(2) if m.group(2) is not None else "exists"
    return out


def references(rhs: str) -> list[str]:
    return [a or b for a, b in re.findall(r"the number of (.+?)(?=,| and |$)|the (total .+?)(?=,| and |$)", rhs)]


def recount_op(problem: str, solution: str, totals: tuple[str, ...] = TOTAL_NAMES) -> int:
    """op(G) from the text: each constant is one edge, each referenced parameter one edge, over the Define'd steps."""
    defs = definitions(problem)
    op = 0
    for name in re.findall(r"Define (.+?) as [A-Za-z]; ", solution):
        if name.startswith(totals):
            place = name.rsplit(" in ", 1)[1]
            op += sum(1 for n in defs if n.endswith(" in " + place))
        else:
            rhs = defs[name]
            op += len(references(rhs)) + bool(re.match(r"\d+", rhs))
    return op


def value_of(name: str, defs: dict[str, str], env: dict[str, int], visiting=frozenset()) -> int:
    """Evaluate a parameter from the problem sentences alone (recursively)."""
    if name in env:
        return env[name]
    assert name not in visiting, f"cycle through {name}"
    visiting = visiting | {name}
    if name.startswith(TOTAL_NAMES):
        place = name.rsplit(" in ", 1)[1]
        v = sum(value_of(n, defs, env, visiting) for n in defs if n.endswith(" in " + place))
    else:
        rhs = defs[name]
        refs = [value_of(r, defs, env, visiting) for r in references(rhs)]
        m = re.match(r"(\d+)(?: (plus|times))?", rhs)
        const, how = (int(m.group(1)), m.group(2)) if m else (None, None)
        if not refs:
            v = const
        else:
            v = refs[0] - refs[1] if "the difference between" in rhs else sum(refs)
            if how == "plus":
                v = const + v
            elif how == "times":
                v = const * v
    env[name] = v
    return v


# ---- the official parser (docs/verifier.md §2), as an oracle for forward gold graphs ------------
_DEFINE_RE = re.compile(r"Define\s+(.*?)\s+(?:as|a)\s+(?:[A-Za-z]+\s+)*([A-Za-z]);", re.IGNORECASE | re.DOTALL)
_ASSIGN_RE = re.compile(r"([A-Za-z])\s*=\s*([^.;]+)")
_NUMBER_RE = re.compile(r"[-+]?\d+(?:\.\d+)?")


def official_parse(solution: str) -> dict:
    answer = float(re.search(r"Answer:\s*([-+]?\d+(?:\.\d+)?)", solution).group(1))
    matches = list(_DEFINE_RE.finditer(solution))
    var_to_param: dict[str, str] = {}
    values: dict[str, float] = {}
    nodes = []
    for i, m in enumerate(matches):
        name = " ".join(m.group(1).split()).strip(" .;")
        var = m.group(2)
        end = matches[i + 1].start() if i + 1 < len(matches) else len(solution)
        body = solution[m.end():end].strip().split("Answer:")[0]
        deps: set[str] = set()
        inter: dict[str, set[str]] = {}
        value = None
        for am in _ASSIGN_RE.finditer(body):
            target, expr = am.group(1), am.group(2).strip()
            src: set[str] = set()
            for ch in re.findall(r"[A-Za-z]", expr):
                if ch in var_to_param:
                    src.add(var_to_param[ch])
                if ch in inter:
                    src |= inter[ch]
            if target == var:
                deps |= src
            else:
                inter.setdefault(target, set()).update(src)
            last = expr.split("=")[-1].strip()
            v = float(eval(last, {"__builtins__": {}})) if re.fullmatch(r"[0-9+\-*/().\s]+", last) else None
            if v is None:
                v = float(_NUMBER_RE.findall(am.group(0))[-1])
            values[target] = v
            if target == var:
                value = v
        var_to_param[var] = name
        nodes.append({"name": name, "variable": var, "value": int(value), "dependencies": sorted(deps)})
    return {"nodes": nodes, "answer": int(answer)}


def sample(ops=range(2, 21), contexts=("zoo", "teacher", "movie"), modes=("normalforward",), seeds=range(2)):
    for mode in modes:
        for ctx in contexts:
            for op in ops:
                for seed in seeds:
                    yield generate_problem(op, ctx, mode, seed=seed)


# ---- determinism --------------------------------------------------------------------------------
def test_same_arguments_give_the_same_bytes_and_ignore_global_random_state():
    a = generate_problem(12, "teacher", seed=7).to_row()
    random.seed(123)
    random.random()
    b = generate_problem(12, "teachers_in_school", seed=7).to_row()  # long name == short name
    assert json.dumps(a) == json.dumps(b)
    assert generate_problem(12, "teacher", seed=8).to_row() != a


def test_generation_does_not_depend_on_the_python_hash_seed():
    code = ("from interplay_hf.data import generate_problem; import json; "
            "print(json.dumps([generate_problem(o, 'movie', m, seed=3).to_row() for o in (4, 11) "
            "for m in ('normalforward', 'forwardreverse')]))")
    out = subprocess.run([sys.executable, "-c", code], env={"PYTHONHASHSEED": "12345", "PATH": ""},
                         capture_output=True, text=True, check=True).stdout
    here = [generate_problem(o, "movie", m, seed=3).to_row() for o in (4, 11) for m in ("normalforward", "forwardreverse")]
    assert json.loads(out) == here


def test_contexts_do_not_share_structures_for_the_same_seed():
    def skeleton(p):  # the problem with every name blanked out
        return re.sub(r"Define .+? as", "Define _ as", p.solution), len(p.problem[:-2].split(". "))
    shared = sum(skeleton(generate_problem(10, "zoo", seed=s)) == skeleton(generate_problem(10, "teacher", seed=s))
                 for s in range(30))
    assert shared == 0


def test_id_is_a_content_hash_and_rows_have_the_documented_columns():
    p = generate_problem(6, "zoo", seed=1)
    row = p.to_row()
    assert list(row) == ["problem", "question", "solution", "op", "id", "template", "mode", "length", "d",
                         "context", "text", "prompt", "completion", "answer", "gold_graph"]
    assert row["id"] == content_id(p.problem, p.question, p.solution) and re.fullmatch(r"[0-9a-f]{16}", row["id"])
    assert (row["template"], row["context"], row["length"], row["d"], row["mode"]) == (
        "crazy_zootopia", "zoo", "zero_context", 2, "normalforward")
    assert row["answer"] == str(p.answer) and json.loads(row["gold_graph"]) == p.gold_graph


# ---- op(G) is exact -------------------------------------------------------------------------------
def test_op_recounted_from_the_text_is_exact_for_every_forward_problem():
    for p in sample(seeds=range(3)):
        assert recount_op(p.problem, p.solution) == p.op, (p.op, p.context, p.seed)


@pytest.mark.parametrize("mode", ["normalforward", "forwardreverse"])
def test_op_recounted_from_the_graph_is_exact(mode):
    ctx = get_context("zoo")
    rng = Random(0)
    for op in range(2, 21):
        accepted = 0
        while accepted < 5:
            g = draw_graph(op, mode, rng, place_groups=list(ctx.places.values()),
                           item_groups=list(ctx.items.values()), total_name=ctx.total_name)
            if g is None:
                continue
            accepted += 1
            assert g.op_count() == op
            # every necessary parameter is an ancestor of the question, totals depend on all their items
            for x in g.topo:
                if g.is_abstract(x):
                    assert g.parents[x] == [k for k in g.sentences if g.inst_place[k - g.n_places] == x] or \
                        sorted(g.parents[x]) == sorted(k for k in g.sentences if g.inst_place[k - g.n_places] == x)


@pytest.mark.parametrize("mode", ["normalforward", "forwardreverse"])
def test_early_rejection_never_drops_a_draw_with_the_target_op(mode, monkeypatch):
    """The op(G) bounds that stop draws early are exact: with the early exits switched off, every draw that
    reaches the target op passed every bound on its way."""
    verdicts: list[bool] = []
    real_reachable = graph._reachable

    def record_and_continue(op: int, fewest: int, most: int) -> bool:
        verdicts.append(real_reachable(op, fewest, most))
        return True

    monkeypatch.setattr(graph, "_reachable", record_and_continue)
    ctx = get_context("teacher")
    accepted = 0
    for op in range(2, 21):
        rng = Random(op)
        for _ in range(400):
            verdicts.clear()
            g = draw_graph(op, mode, rng, place_groups=list(ctx.places.values()),
                           item_groups=list(ctx.items.values()), total_name=ctx.total_name)
            if g is not None:
                accepted += 1
                assert g.op_count() == op and all(verdicts), (op, verdicts)
    assert accepted > 19 * 5  # the check saw accepted draws at every op


def test_the_official_rows_recount_to_their_op():
    for row in official_rows():
        assert recount_op(row["problem"], row["solution"]) == row["op"]


# ---- the solution solves the problem; value rules ------------------------------------------------
def test_forward_solutions_re_solve_from_the_problem_text():
    for p in sample(seeds=range(2)):
        defs = definitions(p.problem)
        m = re.fullmatch(r"What is the (.+)\?|How many (.+) does (.+) have\?", p.question)
        target = m.group(1) or f"{m.group(2)} in {m.group(3)}"
        env: dict[str, int] = {}
        assert value_of(target, defs, env) == p.answer
        for node in p.gold_graph["nodes"]:  # every step's value, and the official value rules
            v = value_of(node["name"], defs, env)
            assert node["value"] == v and 0 <= v <= 1000
            assert v > 0 or node["name"].startswith(TOTAL_NAMES)


def test_reverse_solutions_solve_the_linear_equation():
    for p in sample(ops=(2, 4, 7, 11, 15, 19), modes=("forwardreverse",), seeds=range(2)):
        name = re.findall(r"Define (.+?) as [A-Za-z]; ", p.solution)[-1]  # the parameter whose value is given
        value = int(re.search(r"We know [A-Za-z] = (\d+),", p.solution).group(1))
        lead = f"The {name}" if name.startswith(TOTAL_NAMES) else f"The number of {name}"
        given = f"{lead} equals {value}. "
        assert given in p.problem
        defs = definitions(p.problem.replace(given, "", 1))
        unknown = next(n for n, rhs in defs.items() if rhs == "exists")
        m = re.fullmatch(r"How many (.+) does (.+) have\?", p.question)
        assert f"{m.group(1)} in {m.group(2)}" == unknown

        def solve(x, name=name, defs=defs, unknown=unknown):
            return value_of(name, {**defs, unknown: str(x)}, {})

        assert solve(p.answer) == value and solve(p.answer + 1) != value  # a unique solution
        assert p.solution.endswith(f"Solution: x = {p.answer}. Answer: {p.answer}.")


def test_generator_config_changes_the_value_rules():
    wide = GeneratorConfig(number_range=10)
    constants = set()
    for s in range(40):
        p = generate_problem(3, "zoo", seed=s, config=wide)
        constants |= {int(c) for c in re.findall(r"equals (\d+)", p.problem)}
    assert max(constants) > 4 and max(constants) <= 9
    mod = GeneratorConfig(mod=7)
    for s in range(10):
        assert all(n["value"] < 7 for n in generate_problem(8, "zoo", seed=s, config=mod).gold_graph["nodes"])


@pytest.mark.parametrize("kwargs, field", [
    ({"number_range": 2}, "number_range"), ({"mod": 1}, "mod"), ({"d": 3}, "generator.d"),
    ({"ip_max": 3}, "ip_max"), ({"max_attempts": 0}, "max_attempts"), ({"number_range": "5"}, "number_range"),
])
def test_bad_generator_config_names_the_field(kwargs, field):
    with pytest.raises(ConfigError, match=field):
        GeneratorConfig(**kwargs)
    with pytest.raises(ConfigError, match="unknown key"):
        GeneratorConfig.from_dict({"depth": 2})


@pytest.mark.parametrize("kwargs, match", [
    ({"op": 1}, r"op: 1 is outside the supported range 2\.\.20"),
    ({"op": 21}, "outside the supported range"),
    ({"op": "3"}, "outside the supported range"),
    ({"op": 5, "context": "cats"}, "unknown context 'cats'; allowed: movie, teacher, zoo"),
    ({"op": 5, "mode": "reverse"}, "mode: unknown mode 'reverse'; allowed: normalforward, forwardreverse"),
])
def test_bad_generate_arguments_raise_config_error(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        generate_problem(**kwargs)


# ---- gold graph ------------------------------------------------------------------------------------
def test_forward_gold_graph_equals_what_the_official_parser_reads():
    for p in sample(seeds=range(2)):
        parsed = official_parse(p.solution)
        assert parsed["nodes"] == p.gold_graph["nodes"]
        assert parsed["answer"] == p.gold_graph["answer"] == p.answer
        order = p.gold_graph["topological_order"]
        assert order is not None and sorted(order) == sorted(n["name"] for n in p.gold_graph["nodes"])
        seen: set[str] = set()
        deps = {n["name"]: n["dependencies"] for n in p.gold_graph["nodes"]}
        for name in order:
            assert set(deps[name]) <= seen
            seen.add(name)


def test_gold_graph_reader_agrees_with_the_generator_in_both_modes():
    for p in sample(ops=range(2, 21, 3), modes=("normalforward", "forwardreverse"), seeds=range(2)):
        assert gold_graph_from_solution(p.solution) == p.gold_graph


def test_the_verifier_reads_our_gold_as_we_do():
    """Rows verify perfectly against themselves: from the gold solution (both modes; what the verifier uses when
    `solution` is present) and, for forward rows, from the `gold_graph` column alone."""
    verify = pytest.importorskip("interplay_hf.verify").verify
    for p in sample(ops=range(2, 21, 2), modes=("normalforward", "forwardreverse"), seeds=range(1)):
        assert verify(p.completion, gold_solution=p.solution).process_verified, (p.op, p.context, p.mode)
        if p.mode == "normalforward":
            result = verify(p.completion, gold_graph=p.to_row()["gold_graph"])
            assert result.process_verified and result.process_score == 1.0


# ---- model text (docs/data-format.md §5) -----------------------------------------------------------------------
def test_model_text_prompt_and_completion():
    problem = "The number of adult crow in Hamilton Farm equals 3. "
    solution = "Define adult crow in Hamilton Farm as i; so i = 3. Answer: 3."
    question = "How many adult crow does Hamilton Farm have?"
    assert make_prompt(problem, question) == ("<question> The number of adult crow in Hamilton Farm equals 3. How many "
                                              "adult crow does Hamilton Farm have? </question> <solution>")
    assert make_completion(solution) == " Define adult crow in Hamilton Farm as i; so i = 3. </solution> <answer> 3 </answer>"
    assert make_text(problem, question, solution) == make_prompt(problem, question) + make_completion(solution)
    assert answer_from_solution("... Answer: 12.") == ("...", "12")


# ---- contexts are a registry ---------------------------------------------------------------------------
def test_users_can_register_a_context():
    ctx = Context(
        name="garden_test",
        template="garden_party",
        places={"Gardens": ("Rose Garden", "Tulip Court", "Lily Lane", "Fern Hill", "Oak Walk")},
        items={"Plants": ("red rose", "white lily", "blue iris", "yellow tulip", "green fern")},
        total_name="total number of flowers",
        aliases=("gardens_test",),
    )
    register_context(ctx)
    try:
        p = generate_problem(9, "gardens_test", seed=0)
        assert p.template == "garden_party" and p.context == "garden_test"
        assert "total number of flowers" in p.problem + p.question + p.solution
        assert p.op == 9 and recount_op(p.problem, p.solution, totals=("total number of flowers",)) == 9
        with pytest.raises(ConfigError, match="already"):
            register_context(ctx)
    finally:
        CONTEXTS.pop("garden_test", None)
        for key in ("garden_test", "garden_party", "gardens_test"):
            _ALIASES.pop(key, None)


def test_context_validation():
    with pytest.raises(ConfigError, match="at least 5 distinct names"):
        Context(name="x", template="x", places={"a": ("A", "B")}, items={"b": tuple("abcde")}, total_name="total n")
    with pytest.raises(ConfigError, match="' in '"):
        Context(name="x", template="x", places={"a": ("A in B", "B", "C", "D", "E")}, items={"b": tuple("abcde")},
                total_name="total n")
    assert get_context("crazy_zootopia") is get_context("zoo")


# ---- shape: the official statistics (docs/data-format.md §1) --------------------------------------------------
# op: (sentences, solution steps, answer, problem+solution chars), and how many official problems measured them
OFFICIAL_SHAPE = {
    2: (5.09, 2, 2.74, 585), 3: (5.22, 3, 2.74, 658), 4: (5.08, 3.06, 5.47, 638), 5: (5.45, 3.19, 9.27, 733),
    6: (9.17, 3.85, 9.57, 1130), 7: (6.84, 4.51, 11.6, 968), 8: (7.78, 4.95, 15.3, 1100), 9: (7.62, 5.5, 16.68, 1115),
    10: (4.97, 5.68, 23.98, 957), 11: (6.33, 6.17, 26.45, 1115), 12: (5.07, 6.27, 34.91, 1070),
    13: (5.57, 6.6, 49.56, 1178), 14: (7.33, 7.58, 46.73, 1376), 15: (8.06, 8.47, 50.45, 1476),
    16: (5.85, 7.86, 66.58, 1398), 17: (6.84, 8.66, 91.27, 1529), 18: (7.61, 9.66, 82.82, 1618),
    19: (6.21, 8.93, 129.47, 1601), 20: (7.51, 10.03, 114.88, 1728),
}
OFFICIAL_N = {op: 1000 if op in (2, 3, 5, 8, 10, 12, 15, 20) else 200 for op in OFFICIAL_SHAPE}
SHAPE_SAMPLES = 300


def shape_of(problems) -> list[tuple[float, float]]:
    """(mean, standard deviation) of the four statistics."""
    columns = list(zip(*[(p.problem.count(". "), p.solution.count("Define "), p.answer,
                          len(p.problem) + len(p.solution)) for p in problems]))
    out = []
    for col in columns:
        mean = sum(col) / len(col)
        out.append((mean, math.sqrt(sum((x - mean) ** 2 for x in col) / len(col))))
    return out


@pytest.mark.slow
def test_shape_matches_the_official_generator_within_ten_percent():
    """Each mean within 10% of the table of docs/data-format.md §1. The table's means are themselves sample means (200 or 1,000
    official problems; answers are heavy-tailed), so a mean may instead lie within 3 joint standard errors of it:
    on 2,000 problems per op ours are within 10% everywhere except the op-17 answer (75.6 vs 91.27, where the
    table's own standard error is ~6)."""
    failures = []
    for op, official in OFFICIAL_SHAPE.items():
        stats = shape_of(generate_problem(op, "zoo", seed=10_000 + s) for s in range(SHAPE_SAMPLES))
        for metric, (mean, sd), ref in zip(("sentences", "steps", "answer", "chars"), stats, official):
            rel = mean / ref - 1
            joint_se = sd * math.sqrt(1 / SHAPE_SAMPLES + 1 / OFFICIAL_N[op])
            if abs(rel) > 0.10 and abs(mean - ref) > 3 * joint_se:
                failures.append(f"op {op} {metric}: {mean:.2f} vs {ref} ({rel:+.1%})")
    assert not failures, failures


def test_rng_pseudo_parent_marks_constants():
    g = None
    ctx = get_context("zoo")
    rng = Random(5)
    while g is None:
        g = draw_graph(7, "normalforward", rng, place_groups=list(ctx.places.values()),
                       item_groups=list(ctx.items.values()), total_name=ctx.total_name)
    assert any(RNG in g.parents[x] for x in g.topo)
    assert all(x in g.const for x in g.topo if RNG in g.parents[x])

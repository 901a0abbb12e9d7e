"""iGSM problem graphs: structure graph, necessary subgraph, distractors, op(G) and values.

This follows the sampling of the official GSM-Infinite "realistic" generator (Physics of LMs 2.1,
Algorithms 1-6; reference.md §1.2-1.5) step by step, including the quirks that shape its
distribution, so that our problems have the official shape statistics (format.md §1). It is our own
implementation: parameters are integers (abstract parameter ``p`` = total of place ``p``; instance
parameters follow), one seeded ``random.Random`` drives everything, and a draw is rejected as soon
as its op(G) or its values are known, before any text exists — rendering happens only for accepted
draws (render.py).

Only depth ``d = 2`` (places -> items, the paper's setting) is implemented.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from dataclasses import dataclass, field
from functools import lru_cache
from random import Random

_TWOPI = 2.0 * math.pi  # as random.gauss

RNG = -1  # pseudo-parent: "a constant appears in this parameter's definition"

# op -> op_max tier of the paper's data driver (reference.md §1.1 OP_SCHEDULE); the generator's
# internal bound is (tier + 1) // 2 and the structure is sized to exactly that bound (force=True).
OP_TIERS: dict[int, int] = {
    2: 3, 3: 3, 4: 4, 5: 6, 6: 6, 7: 10, 8: 10, 9: 10, 10: 15, 11: 15,
    12: 20, 13: 20, 14: 20, 15: 20, 16: 25, 17: 25, 18: 25, 19: 30, 20: 30,
}  # fmt: skip
MIN_OP, MAX_OP = min(OP_TIERS), max(OP_TIERS)
FORWARD, REVERSE = "normalforward", "forwardreverse"
MODES = (FORWARD, REVERSE)

_ZERO_OK_WORDS = ("average", "total", "all")  # the official rule: 0 is allowed only in these names


@dataclass
class ProblemGraph:
    """An accepted draw: everything the renderer needs, no text yet (names are resolved lazily)."""

    op: int
    mode: str
    n_places: int
    place_names: list[str]
    item_names: list[str]
    total_name: str
    inst_place: list[int]  # instance k (param id n_places + k) -> place index
    inst_item: list[int]  # instance k -> item index
    parents: list[list[int]]  # param id -> parents in definition order (RNG = -1 marks a constant)
    topo: list[int]  # necessary parameters in solution order; topo[-1] is the forward question
    sentences: list[int]  # instance ids with a problem sentence (necessary + distractors)
    const: dict[int, int]  # id -> the constant in its sentence (RNG parent, or a bare value)
    rng_op: dict[int, str]  # id -> '+'/'*' when a constant is combined with operands
    notation: dict[int, str]  # id -> '+'/'-' for two operands
    values: dict[int, int]  # necessary id -> value
    mod: int = -1
    unknown: int | None = None  # reverse mode: the parameter written as x
    meta: dict = field(default_factory=dict)

    def is_abstract(self, x: int) -> bool:
        return x < self.n_places

    def name(self, x: int) -> str:
        cache = self.meta.setdefault("names", {})  # rendering asks for the same names many times
        if x not in cache:
            cache[x] = _name(x, self.n_places, self.total_name, self.place_names, self.item_names,
                             self.inst_place, self.inst_item)
        return cache[x]

    def op_count(self) -> int:
        """op(G) recounted from the graph: incoming edges (constants included) over the necessary params."""
        return sum(len(self.parents[x]) for x in self.topo)


def tier_bound(op: int) -> int:
    return (OP_TIERS[op] + 1) // 2


@lru_cache(maxsize=None)
def _sizes(op: int, ip_max: int) -> tuple[int, tuple[float, ...]]:
    """s (the forced structure bound) and the cumulative softmax over widths 1..5 for this op."""
    s = tier_bound(op)
    rel = (s - 1) / (ip_max - 1)
    w = [math.exp(-((rel - c) ** 2)) for c in (0.1, 0.3, 0.5, 0.7, 0.9)]
    total = sum(w)
    cum = [sum(w[: i + 1]) / total for i in range(4)]
    return s, tuple(cum)  # bisect over the first four boundaries gives an index in 0..4


_BITS = tuple(tuple(j for j in range(5) if mask >> j & 1) for mask in range(32))  # item mask -> items
_POPCOUNT = tuple(len(b) for b in _BITS)  # item mask -> number of items
_MAX_CUR_OP = (1, 1, 2) + (3,) * 125  # topo index -> the most operations an instance may take: min(3, max(1, index))
_ONES = tuple(b"\x01" * c for c in range(6))  # marks c consecutive ids at once in a bytearray


def _biased(rng: Random, plain: list[int], heavy: list[int], n_places: int, hc: bytearray) -> int:
    """The official `samplingwithbias` over ``plain + heavy``: weight exp((is_abstract + has_child_in_topo) * |N(0,1)|).

    ``plain`` candidates have exponent factor 0, i.e. weight exactly 1, so only ``heavy`` ones need
    a normal draw; the choice has the same distribution as the official weighted draw.
    ``rng.gauss()`` is inlined (same Box-Muller pairs, same cached second value in ``rng.gauss_next``),
    so the random stream is exactly the one ``rng.gauss(0.0, 1.0)`` per heavy candidate would give.
    """
    rand = rng.random
    weights = []
    if heavy:
        exp, log, sqrt, cos, sin = math.exp, math.log, math.sqrt, math.cos, math.sin
        z = rng.gauss_next
        for x in heavy:
            if z is None:
                x2pi = rand() * _TWOPI
                g2rad = sqrt(-2.0 * log(1.0 - rand()))
                g, z = cos(x2pi) * g2rad, sin(x2pi) * g2rad
            else:
                g, z = z, None
            weights.append(exp(((x < n_places) + hc[x]) * abs(g)))
        rng.gauss_next = z
    n_plain = len(plain)
    u = rand() * (n_plain + sum(weights))
    if u < n_plain:
        return plain[int(u)]
    u -= n_plain
    for x, w in zip(heavy, weights):
        u -= w
        if u < 0:
            return x
    return heavy[-1] if heavy else plain[-1]


def draw_graph(
    op: int,
    mode: str,
    rng: Random,
    *,
    place_groups: list[tuple[str, ...]],
    item_groups: list[tuple[str, ...]],
    total_name: str,
    number_range: int = 5,
    mod: int = -1,
    ip_max: int = 20,
    max_value: int = 1000,
    early_reject: bool = True,
) -> ProblemGraph | None:
    """One iGSM draw for target ``op``; None when the draw is rejected (the caller retries).

    Rejection happens as early as the outcome is certain: op(G) is bounded from the necessary
    subgraph's size before the expensive steps run (every instance gets at least max(1, cur_op) and
    at most cur_op + 1 incoming edges), so early exits never change which draws are accepted.
    ``early_reject=False`` runs every draw to the end and asserts that no bound excluded an accepted
    draw (tests use it).
    """
    doomed = False  # a bound excluded op, but early_reject=False let the draw go on
    rand = rng.random
    reverse = mode == REVERSE

    # ---- sizes (drawAll): s = op_max forced, n, m, widths w0 <= w1, edge count e ------------------
    s, cum = _sizes(op, ip_max)
    n = max(1 + int(rand() * s), 1 + int(rand() * s))
    m = n + int(rand() * (s - n + 1))
    t0, t1 = 1 + bisect_right(cum, rand()), 1 + bisect_right(cum, rand())
    if s <= 5:
        if reverse:
            t0, t1 = min(t0, 3), min(t1, 3)
        else:
            t0, t1 = max(t0, 2), max(t1, 2)
    w0, w1 = (t0, t1) if t0 < t1 else (t1, t0)
    span = ip_max - w0 + 1
    e = min(w0 + int(rand() * span), w0 + int(rand() * span), w1 * w1)

    # ---- structure graph (drawStructure): layer sizes, then edges --------------------------------
    l0 = l1 = w0
    p_grow = rand()
    while not (l0 == w1 and l1 == w1):
        if l0 * l1 < e or (l1 != e and rand() < p_grow):
            if l0 < w1 and l1 < w1:
                if rand() < 0.5:
                    l0 += 1
                else:
                    l1 += 1
            elif l0 < w1:
                l0 += 1
            else:
                l1 += 1
        else:
            break
    adj = [0] * l0  # place -> bitmask of items
    for j in range(l1):  # construct_first: every item hangs under a random place
        adj[int(rand() * l0)] |= 1 << j
    lonely = [i for i in range(l0) if not adj[i]]
    n_lonely = len(lonely)
    if e - l1 < n_lonely:
        return None  # a place would stay without items: it has no total (the official assertion)
    for _ in range(n_lonely):  # construct_second: unconnected places first, each always gets its edge
        adj[lonely.pop(int(rand() * len(lonely)))] |= 1 << int(rand() * l1)
    edges = l1 + n_lonely
    if edges < e:  # then random extra edges; the official gives up after 10e attempts in all
        for _ in range(10 * e - n_lonely):
            i = int(rand() * l0)
            bit = 1 << int(rand() * l1)
            if not adj[i] & bit:
                adj[i] |= bit
                edges += 1
                if edges == e:
                    break
        else:
            return None

    # instance parameters are numbered place by place: place pl owns ids start[pl] .. start[pl] + size[pl] - 1
    P = l0
    size = [_POPCOUNT[mask] for mask in adj]
    start = []
    N = P
    for c in size:
        start.append(N)
        N += c

    # ---- necessary part 1 (drawNecessary1): whole places while op <= n, then loose instances -----
    remaining = list(range(P))
    g_abs: list[int] = []
    g_inst: list[int] = []
    in_g = bytearray(N)
    op_abs = 0
    while remaining:
        a = remaining.pop(int(rand() * len(remaining)))
        c = size[a]
        if op_abs + c > n:
            break
        g_abs.append(a)
        in_g[a] = 1
        k0 = start[a]
        in_g[k0 : k0 + c] = _ONES[c]
        g_inst.extend(range(k0, k0 + c))
        op_abs += c
    if m - op_abs > 1:
        left = [k for k in range(P, N) if not in_g[k]]
        for _ in range(1, m - op_abs):
            if left:
                k = left.pop(int(rand() * len(left)))
                in_g[k] = 1
                g_inst.append(k)
    n_nodes = len(g_abs) + len(g_inst)
    if n_nodes == 0:
        return None
    n_inst = len(g_inst)
    if n_nodes > 2 and not (op_abs + n_inst <= op <= max(s, op_abs + n_inst - 1) + n_inst):
        if early_reject:
            return None  # op(G) is out of reach whatever the remaining steps draw
        doomed = True

    abs_parents = [list(range(start[pl], start[pl] + size[pl])) for pl in range(P)]
    inst_place: list[int] = []
    inst_item: list[int] = []
    for pl in range(P):
        inst_place += [pl] * size[pl]
        inst_item += _BITS[adj[pl]]

    names: tuple[list[str], list[str]] | None = None
    if reverse:
        names = _draw_names(rng, place_groups, item_groups, l0, l1)

    # ---- necessary part 2 (drawNecessary2): topological order, grown from the question backwards --
    parents: list[list[int]] = abs_parents + [[] for _ in range(N - P)]
    pend = bytearray(N)  # children inside the graph that are not yet in topo
    for k in g_inst:
        if in_g[inst_place[k - P]]:
            pend[k] = 1
    hc = bytearray(N)  # has a child already in topo ("Next1")
    in_t = bytearray(N)
    # "Next2" (not in topo, all children in topo) is ready0 minus topo, plus the instances freed when their
    # total enters topo; those are always in `inter` too, so it is only rebuilt when `inter` is empty.
    ready0 = g_abs + [x for x in g_inst if not pend[x]]  # totals never wait on a child
    n_abs = len(g_abs)
    plain = list(g_inst)  # not in topo, weight-1 candidates of the biased draw (instances without hc)
    heavy = list(g_abs)  # not in topo, the others (totals, and instances with hc)
    x0 = -1
    if reverse:  # the official reverse generator queries the first total it finds
        x0 = next((x for x in ready0 if "total" in _name(x, P, total_name, *names, inst_place, inst_item)), -1)
    if x0 < 0:
        x0 = ready0[int(rand() * len(ready0))]
    rev: list[int] = []
    left_nodes = n_nodes
    e2 = 0
    inter: list[int] = []  # ready nodes with a child in topo ("Next1 ∩ Next2"): the next insertion
    while True:
        if x0 < P or hc[x0]:
            heavy.remove(x0)
            if hc[x0]:
                inter.remove(x0)
        else:
            plain.remove(x0)
        rev.append(x0)
        in_t[x0] = 1
        left_nodes -= 1
        if x0 < P:  # only a total has parents when it enters topo: its instances, now ready
            for q in parents[x0]:
                if not hc[q]:
                    hc[q] = 1
                    plain.remove(q)
                    heavy.append(q)
                inter.append(q)
                pend[q] = 0
        if not left_nodes:
            break
        if not inter:
            if x0 < P:
                return None  # "param0 is abstract"
            ready_inst = [x for x in ready0[n_abs:] if not in_t[x]]
            p1 = _biased(rng, ready_inst, [x for x in ready0[:n_abs] if not in_t[x]], P, hc)
        elif x0 >= P and rand() < 0.5:  # official: p0 = U(0,1); add the edge if U(0,1) < p0
            p1 = _biased(rng, plain, heavy, P, hc)
        else:
            x0 = inter[int(rand() * len(inter))]
            continue
        parents[x0].append(p1)
        e2 += 1
        if not hc[p1]:
            hc[p1] = 1
            if p1 >= P:
                plain.remove(p1)
                heavy.append(p1)
            if not pend[p1]:
                inter.append(p1)
        x0 = inter[int(rand() * len(inter))]
    topo = rev[::-1]
    if len(topo) == 2 and rand() < 0.5:  # addingparameter: lengthen two-step problems
        newit = next((k for k in range(P, N) if not in_t[k]), -1)
        if newit >= 0:
            if rand() < 0.5:
                parents[topo[0]].append(newit)
                topo.insert(0, newit)
            else:
                parents[newit].append(topo[1])
                topo.append(newit)
            in_g[newit] = in_t[newit] = 1
            g_inst.append(newit)
            e2 += 1
            n_inst += 1
    total = op_abs + e2
    if total < s:
        total = s
    if not (op_abs + n_inst <= op <= total + n_inst):
        if early_reject:
            return None
        doomed = True

    # ---- necessary part 3 (drawNecessary3): spread ops up to s, then wire dependencies ------------
    tidx = [0] * N
    for i, x in enumerate(topo):
        tidx[x] = i
    cop = [0] * N
    room = []
    for k in g_inst:
        c = cop[k] = len(parents[k])
        if c < _MAX_CUR_OP[tidx[k]]:
            room.append(k)
    for _ in range(total - op_abs - e2):
        if not room:
            return None
        j = int(rand() * len(room))
        k = room[j]
        cop[k] += 1
        if cop[k] == _MAX_CUR_OP[tidx[k]]:
            room.pop(j)
    lo = hi = op_abs  # the edges each instance will get: exact unless cur_op is 1 or it has a parent already
    for k in g_inst:
        c, cap = cop[k], tidx[k] + 1  # cap: RNG + the parameters before k in topo
        most = c + 1 if c < cap else cap
        hi += most
        lo += (c or 1) if c == 1 or parents[k] else most
    if not lo <= op <= hi:
        if early_reject:
            return None
        doomed = True
    op_g = op_abs
    for k in g_inst:
        i = tidx[k]
        pool = [RNG, *topo[:i]] if i else [RNG]
        c = cop[k]
        dep = (1 if rand() < 0.5 else 2) if c == 1 else c + 1
        if dep > len(pool):
            dep = len(pool)
        par = parents[k]
        if par:  # the official code drops the *last* pool entry here, not the existing parent
            pool.pop()
            dep -= 1
        if dep == len(pool):
            for b in pool:
                if b not in par:
                    par.append(b)
        else:
            if rand() < 0.5:
                if RNG not in par:
                    par.append(RNG)
                dep -= 1
            if not pool or pool[0] != RNG:
                return None
            del pool[0]
            for _ in range(dep):
                b = pool.pop(int(rand() * len(pool)))
                if b not in par:
                    par.append(b)
        op_g += len(par)

    if op_g != op:
        return None
    assert not doomed, "an op(G) bound rejected a draw that has the target op"

    # ---- reverse mode: the unknown is the last necessary instance defined by a constant ----------
    unknown = None
    if reverse:
        for x in reversed(topo):
            if x >= P and (not parents[x] or parents[x] == [RNG]):
                unknown = x
                break
        if unknown is None:
            return None
    if names is None:
        names = _draw_names(rng, place_groups, item_groups, l0, l1)
    place_names, item_names = names

    # ---- values (generate_sentence + solution_in_text) and the official value rules --------------
    const: dict[int, int] = {}
    rng_op: dict[int, str] = {}
    notation: dict[int, str] = {}
    _sentence_params(topo, P, parents, rng, number_range, const, rng_op, notation)
    values = evaluate(topo, parents, P, const, rng_op, notation, mod)
    for x in topo:
        v = values[x]
        if v < 0 or v > max_value:
            return None
        if v == 0:
            nm = _name(x, P, total_name, place_names, item_names, inst_place, inst_item)
            if not any(w in nm for w in _ZERO_OK_WORDS):
                return None

    # variable letters: 52 (forward) or 50 (reverse, x/X reserved); the official run fails beyond
    if letters_needed(topo, parents, rng_op, unknown) > (50 if reverse else 52):
        return None

    # ---- distractors (drawUnnecessary): every other instance parameter of the structure ----------
    rest = [k for k in range(P, N) if not in_g[k]]
    ind: list[int] = []
    while rest:
        K = g_abs + g_inst + [a for a in remaining if any(in_g[k] for k in abs_parents[a])]
        sel = rest.pop(int(rand() * len(rest)))
        g_inst.append(sel)
        in_g[sel] = 1
        if rand() < 0.5:
            pool = ind + [RNG]
            ind.append(sel)
        else:
            pool = K + [RNG]
        dep = 1
        lim = min(4, len(pool))
        while dep < lim and rand() < 0.5:
            dep += 1
        if dep == len(pool):
            chosen = pool
        else:
            chosen = []
            if rand() < 0.5:
                chosen.append(RNG)
                dep -= 1
            pool.pop()  # RNG is last
            chosen += rng.sample(pool, dep)
        par = parents[sel]
        for b in chosen:
            if 0 <= b < P and not in_g[b]:  # a new total brings its instances along (as constants)
                g_abs.append(b)
                in_g[b] = 1
                for k in abs_parents[b]:
                    if not in_g[k]:
                        in_g[k] = 1
                        g_inst.append(k)
            if b not in par:
                par.append(b)
        if any(in_g[k] for k in rest):
            rest = [k for k in rest if not in_g[k]]
    distractors = [k for k in g_inst if not in_t[k]]
    _sentence_params(distractors, P, parents, rng, number_range, const, rng_op, notation)

    return ProblemGraph(
        op=op,
        mode=mode,
        n_places=P,
        place_names=list(place_names),
        item_names=list(item_names),
        total_name=total_name,
        inst_place=inst_place,
        inst_item=inst_item,
        parents=parents,
        topo=topo,
        sentences=list(g_inst),
        const=const,
        rng_op=rng_op,
        notation=notation,
        values=values,
        mod=mod,
        unknown=unknown,
        meta={"s": s, "n": n, "m": m, "w0": w0, "w1": w1, "e": e},
    )


def letters_needed(topo: list[int], parents: list[list[int]], rng_op: dict[int, str], unknown: int | None) -> int:
    """Fresh variable letters a solution uses: one per step, one per extra operand beyond two, one per constant op."""
    count = 0
    for x in topo:
        if x != unknown:
            n_ops = len(parents[x]) - (RNG in parents[x])
            count += (n_ops - 1 if n_ops > 2 else 1) + (x in rng_op)
    return count


def _draw_names(rng: Random, place_groups, item_groups, l0: int, l1: int) -> tuple[list[str], list[str]]:
    """attachEnglish: one subcategory per layer, distinct names."""
    places = rng.sample(place_groups[int(rng.random() * len(place_groups))], l0)
    items = rng.sample(item_groups[int(rng.random() * len(item_groups))], l1)
    return places, items


def evaluate(
    topo: list[int],
    parents: list[list[int]],
    n_places: int,
    const: dict[int, int],
    rng_op: dict[int, str],
    notation: dict[int, str],
    mod: int = -1,
) -> dict[int, int]:
    """Values of the necessary parameters, computed in topological order as the official solution does."""
    values: dict[int, int] = {}
    for x in topo:
        par = parents[x]
        if x < n_places:  # a total: running sum of its items
            v = 0
            for q in par:
                v += values[q]
                if mod > 0:
                    v %= mod
        else:
            ops = [q for q in par if q != RNG]
            if not ops:
                v = const[x]
            elif len(ops) == 2 and notation[x] == "-":
                v = values[ops[0]] - values[ops[1]]
            else:
                v = values[ops[0]]
                for q in ops[1:]:
                    v += values[q]
                    if mod > 0:
                        v %= mod
            if mod > 0:
                v %= mod
            if x in rng_op:
                v = const[x] + v if rng_op[x] == "+" else const[x] * v
                if mod > 0:
                    v %= mod
        values[x] = v
    return values


def _name(x: int, P: int, total_name: str, place_names, item_names, inst_place, inst_item) -> str:
    """'{item} in {place}' for an instance parameter, '{total name} in {place}' for a total."""
    if x < P:
        return f"{total_name} in {place_names[x]}"
    return f"{item_names[inst_item[x - P]]} in {place_names[inst_place[x - P]]}"


def _sentence_params(ids, P, parents, rng, number_range, const, rng_op, notation) -> None:
    """The random parts of each instance sentence (generate_sentence): constants and operators."""
    rand = rng.random
    for x in ids:
        if x < P:
            continue
        par = parents[x]
        n_ops = len(par) - (RNG in par)
        if RNG in par:
            plus = rand() < 0.5
            lo = 1 if plus else 2
            const[x] = lo + int(rand() * (number_range - lo))
            if n_ops:
                rng_op[x] = "+" if plus else "*"
        if n_ops == 2:
            notation[x] = "+" if rand() < 0.5 else "-"
        elif n_ops == 0 and RNG not in par:
            const[x] = 1 + int(rand() * (number_range - 1))

"""iGSM problem graphs: structure graph, necessary subgraph, distractors, op(G) and values.

This follows the sampling of the official GSM-Infinite "realistic" generator (Physics of LMs 2.1,
Algorithms 1-6; docs/generator.md §2-5) step by step, including the quirks that shape its
distribution, so that our problems have the official shape statistics (docs/data-format.md §1). It is our own
implementation: parameters are integers (abstract parameter ``p`` = total of place ``p``; instance
parameters follow), one seeded ``random.Random`` drives everything, and a draw is rejected as soon
as its op(G) or its values are known, before any text exists — rendering happens only for accepted
draws (render.py).

Only depth ``d = 2`` (places -> items, the paper's setting) is implemented.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from random import Random

_TWOPI = 2.0 * math.pi  # as random.gauss

RNG = -1  # pseudo-parent: "a constant appears in this parameter's definition"

# op -> op_max tier of the paper's data driver (docs/generator.md §1, op tiers); the generator's
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


@cache
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


@dataclass(slots=True)
class _Structure:
    """The structure graph's parameters: ids 0..n_places-1 are place totals, then the instances place by place."""

    n_places: int
    n_items: int
    n_params: int
    items_of: list[list[int]]  # place -> its instance ids (the operands of its total)
    adj: list[int]  # place -> bitmask of its items
    inst_place: list[int] = field(default_factory=list)  # instance k (id n_places + k) -> place index; filled by
    inst_item: list[int] = field(default_factory=list)  # _name_owners once a draw survives drawNecessary1


@dataclass(slots=True)
class _Subgraph:
    """The parameters a problem mentions, grown by drawNecessary1, addingparameter and drawUnnecessary."""

    places: list[int]  # totals in the subgraph
    instances: list[int]  # instance parameters in the subgraph, in the order they joined
    member: bytearray  # id -> 1 when in the subgraph
    place_ops: int  # operations of the whole places drawn first (one per item)
    unused_places: list[int]  # places drawNecessary1 did not reach (the one it stopped at is in neither list)


# One piece on purpose (~100 lines): it is the official drawAll sequence, each step already its own function; what
# is left is their order on one random stream and the rejection checks between them, which must stay in that order
# to reproduce the official distribution (docs/generator.md §2-§5), and reads best top to bottom.
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
) -> ProblemGraph | None:
    """One iGSM draw for target ``op``; None when the draw is rejected (the caller retries).

    The steps are the official algorithm's (drawAll, drawStructure, drawNecessary1-3, addingparameter,
    the values, drawUnnecessary), one function each, consuming one random stream in the official order.
    Rejection happens as early as the outcome is certain: op(G) is bounded from the necessary subgraph
    before the expensive steps run (every instance gets at least max(1, cur_op) and at most cur_op + 1
    incoming edges), so an early exit never drops a draw that would have been accepted (``_reachable``).
    """
    reverse = mode == REVERSE
    s, n, m, w0, w1, e = _draw_sizes(op, reverse, rng, ip_max)
    structure = _draw_structure(rng, w0, w1, e)
    if structure is None:
        return None
    st = _number_parameters(*structure)
    sub = _draw_necessary_1(rng, st, n, m)
    n_nodes = len(sub.places) + len(sub.instances)
    if n_nodes == 0:
        return None
    fewest = sub.place_ops + len(sub.instances)  # each instance takes at least one operation
    if n_nodes > 2 and not _reachable(op, fewest, max(s, fewest - 1) + len(sub.instances)):
        return None
    _name_owners(st)

    names = _draw_names(rng, place_groups, item_groups, st.n_places, st.n_items) if reverse else None
    parents: list[list[int]] = st.items_of + [[] for _ in range(st.n_params - st.n_places)]  # a total's operands are its instances
    name_of = None
    if reverse:
        name_of = lambda x: _name(x, st.n_places, total_name, *names, st.inst_place, st.inst_item)  # noqa: E731
    ordered = _draw_necessary_2(rng, st, sub, parents, name_of)
    if ordered is None:
        return None
    topo, edges, in_topo = ordered
    edges += _add_parameter(rng, st, sub, parents, topo, in_topo)
    budget = max(sub.place_ops + edges, s)  # the official spreads operations up to s
    if not _reachable(op, sub.place_ops + len(sub.instances), budget + len(sub.instances)):
        return None

    position = [0] * st.n_params  # id -> index in topo
    for i, x in enumerate(topo):
        position[x] = i
    cur_op = _spread_operations(rng, sub.instances, parents, position, st.n_params, budget - sub.place_ops - edges)
    if cur_op is None or not _reachable(op, *_op_range(sub, parents, position, cur_op)):
        return None
    wired = _wire_dependencies(rng, sub.instances, parents, topo, position, cur_op)
    if wired is None or sub.place_ops + wired != op:
        return None

    unknown = None
    if reverse:
        unknown = _choose_unknown(topo, parents, st.n_places)
        if unknown is None:
            return None
    if names is None:
        names = _draw_names(rng, place_groups, item_groups, st.n_places, st.n_items)
    place_names, item_names = names

    const: dict[int, int] = {}
    rng_op: dict[int, str] = {}
    notation: dict[int, str] = {}
    _sentence_params(topo, st.n_places, parents, rng, number_range, const, rng_op, notation)
    values = compute_values(topo, parents, st.n_places, const, rng_op, notation, mod)
    if not _values_allowed(values, topo, max_value, lambda x: _name(x, st.n_places, total_name, place_names,
                                                                    item_names, st.inst_place, st.inst_item)):
        return None
    # variable letters: 52 (forward) or 50 (reverse, x/X reserved); the official run fails beyond
    if letters_needed(topo, parents, rng_op, unknown) > (50 if reverse else 52):
        return None

    distractors = _draw_unnecessary(rng, st, sub, parents, in_topo)
    _sentence_params(distractors, st.n_places, parents, rng, number_range, const, rng_op, notation)
    return ProblemGraph(
        op=op,
        mode=mode,
        n_places=st.n_places,
        place_names=list(place_names),
        item_names=list(item_names),
        total_name=total_name,
        inst_place=st.inst_place,
        inst_item=st.inst_item,
        parents=parents,
        topo=topo,
        sentences=list(sub.instances),
        const=const,
        rng_op=rng_op,
        notation=notation,
        values=values,
        mod=mod,
        unknown=unknown,
        meta={"s": s, "n": n, "m": m, "w0": w0, "w1": w1, "e": e},
    )


def _reachable(op: int, fewest: int, most: int) -> bool:
    """Whether op(G) can still land on ``op`` given the fewest and most operations the remaining steps can give."""
    return fewest <= op <= most


def _draw_sizes(op: int, reverse: bool, rng: Random, ip_max: int) -> tuple[int, int, int, int, int, int]:
    """drawAll: (s, n, m, w0, w1, e): s = the op tier's bound (forced), n <= m for the necessary part, layer widths
    w0 <= w1 and the edge count e."""
    rand = rng.random
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
    return s, n, m, w0, w1, e


def _draw_structure(rng: Random, w0: int, w1: int, e: int) -> tuple[list[int], int] | None:
    """drawStructure: grow the place and item layers from w0 towards w1, then draw e distinct edges.

    Returns (place -> bitmask of its items, number of items), or None when a place would stay without
    items (it would have no total: the official assertion) or e distinct edges are not found in 10e tries.
    """
    rand = rng.random
    n_places = n_items = w0
    p_grow = rand()
    while not (n_places == w1 and n_items == w1):
        if n_places * n_items < e or (n_items != e and rand() < p_grow):
            if n_places < w1 and n_items < w1:
                if rand() < 0.5:
                    n_places += 1
                else:
                    n_items += 1
            elif n_places < w1:
                n_places += 1
            else:
                n_items += 1
        else:
            break
    adj = [0] * n_places
    for j in range(n_items):  # construct_first: every item hangs under a random place
        adj[int(rand() * n_places)] |= 1 << j
    lonely = [i for i in range(n_places) if not adj[i]]
    n_lonely = len(lonely)
    if e - n_items < n_lonely:
        return None
    for _ in range(n_lonely):  # construct_second: places without items first, each always gets its edge
        adj[lonely.pop(int(rand() * len(lonely)))] |= 1 << int(rand() * n_items)
    edges = n_items + n_lonely
    if edges < e:  # then random extra edges; the official gives up after 10e attempts in all
        for _ in range(10 * e - n_lonely):
            i = int(rand() * n_places)
            bit = 1 << int(rand() * n_items)
            if not adj[i] & bit:
                adj[i] |= bit
                edges += 1
                if edges == e:
                    break
        else:
            return None
    return adj, n_items


def _number_parameters(adj: list[int], n_items: int) -> _Structure:
    """Parameter ids: place totals first, then each place's instances (one per item it holds) in place order."""
    items_of: list[list[int]] = []
    next_id = len(adj)
    for mask in adj:
        count = _POPCOUNT[mask]
        items_of.append(list(range(next_id, next_id + count)))
        next_id += count
    return _Structure(len(adj), n_items, next_id, items_of, adj)


def _name_owners(st: _Structure) -> None:
    """Each instance's place and item (what its name is made of); only draws past the first op(G) bound need them."""
    for place, mask in enumerate(st.adj):
        st.inst_place += [place] * _POPCOUNT[mask]
        st.inst_item += _BITS[mask]


def _draw_necessary_1(rng: Random, st: _Structure, n: int, m: int) -> _Subgraph:
    """drawNecessary1: whole places (a total and its instances) while their operations stay <= n, then loose
    instances until the subgraph holds m - 1 more parameters."""
    rand = rng.random
    remaining = list(range(st.n_places))
    places: list[int] = []
    instances: list[int] = []
    member = bytearray(st.n_params)
    place_ops = 0
    while remaining:
        place = remaining.pop(int(rand() * len(remaining)))
        items = st.items_of[place]
        count = len(items)
        if place_ops + count > n:
            break
        places.append(place)
        member[place] = 1
        if count:
            member[items[0] : items[-1] + 1] = _ONES[count]
        instances += items
        place_ops += count
    if m - place_ops > 1:
        left = [k for k in range(st.n_places, st.n_params) if not member[k]]
        for _ in range(1, m - place_ops):
            if left:
                k = left.pop(int(rand() * len(left)))
                member[k] = 1
                instances.append(k)
    return _Subgraph(places, instances, member, place_ops, remaining)


def _draw_necessary_2(
    rng: Random,
    st: _Structure,
    sub: _Subgraph,
    parents: list[list[int]],
    name_of: Callable[[int], str] | None,
) -> tuple[list[int], int, bytearray] | None:
    """drawNecessary2: the topological order, grown from the question backwards, adding edges on the way.

    Returns (topo, edges added, in_topo) or None ("param0 is abstract"). ``name_of`` is given in reverse
    mode, where the official generator asks about the first ready total it finds.
    """
    rand = rng.random
    n_places, member, inst_place = st.n_places, sub.member, st.inst_place
    pending = bytearray(st.n_params)  # children inside the graph that are not yet in topo
    for k in sub.instances:
        if member[inst_place[k - n_places]]:
            pending[k] = 1
    has_child = bytearray(st.n_params)  # has a child already in topo ("Next1")
    in_topo = bytearray(st.n_params)
    # "Next2" (not in topo, all children in topo) is `ready` minus topo, plus the instances freed when their
    # total enters topo; those are always in `inter` too, so it is only rebuilt when `inter` is empty.
    ready = sub.places + [x for x in sub.instances if not pending[x]]  # totals never wait on a child
    n_ready_places = len(sub.places)
    plain = list(sub.instances)  # not in topo, weight-1 candidates of the biased draw (instances without a child)
    heavy = list(sub.places)  # not in topo, the others (totals, and instances with a child)
    x0 = -1
    if name_of is not None:
        x0 = next((x for x in ready if "total" in name_of(x)), -1)
    if x0 < 0:
        x0 = ready[int(rand() * len(ready))]
    backwards: list[int] = []
    left_nodes = len(sub.places) + len(sub.instances)
    edges = 0
    inter: list[int] = []  # ready nodes with a child in topo ("Next1 ∩ Next2"): the next insertion
    while True:
        if x0 < n_places or has_child[x0]:
            heavy.remove(x0)
            if has_child[x0]:
                inter.remove(x0)
        else:
            plain.remove(x0)
        backwards.append(x0)
        in_topo[x0] = 1
        left_nodes -= 1
        if x0 < n_places:  # only a total has parents when it enters topo: its instances, now ready
            for q in parents[x0]:
                if not has_child[q]:
                    has_child[q] = 1
                    plain.remove(q)
                    heavy.append(q)
                inter.append(q)
                pending[q] = 0
        if not left_nodes:
            break
        if not inter:
            if x0 < n_places:
                return None  # "param0 is abstract"
            ready_instances = [x for x in ready[n_ready_places:] if not in_topo[x]]
            ready_places = [x for x in ready[:n_ready_places] if not in_topo[x]]
            p1 = _biased(rng, ready_instances, ready_places, n_places, has_child)
        elif x0 >= n_places and rand() < 0.5:  # official: p0 = U(0,1); add the edge if U(0,1) < p0
            p1 = _biased(rng, plain, heavy, n_places, has_child)
        else:
            x0 = inter[int(rand() * len(inter))]
            continue
        parents[x0].append(p1)
        edges += 1
        if not has_child[p1]:
            has_child[p1] = 1
            if p1 >= n_places:
                plain.remove(p1)
                heavy.append(p1)
            if not pending[p1]:
                inter.append(p1)
        x0 = inter[int(rand() * len(inter))]
    return backwards[::-1], edges, in_topo


def _add_parameter(
    rng: Random, st: _Structure, sub: _Subgraph, parents: list[list[int]], topo: list[int], in_topo: bytearray
) -> int:
    """addingparameter: half the time a two-step problem gets one more step (before or after); edges added."""
    if len(topo) != 2 or rng.random() >= 0.5:
        return 0
    added = next((k for k in range(st.n_places, st.n_params) if not in_topo[k]), -1)
    if added < 0:
        return 0
    if rng.random() < 0.5:
        parents[topo[0]].append(added)
        topo.insert(0, added)
    else:
        parents[added].append(topo[1])
        topo.append(added)
    sub.member[added] = in_topo[added] = 1
    sub.instances.append(added)
    return 1


def _spread_operations(
    rng: Random, instances: list[int], parents: list[list[int]], position: list[int], n_params: int, extra: int
) -> list[int] | None:
    """drawNecessary3, first half: each instance's operation count (cur_op), starting from its edges so far,
    plus ``extra`` single operations on random instances below their cap; None when no instance has room."""
    rand = rng.random
    cur_op = [0] * n_params
    room = []
    for k in instances:
        c = cur_op[k] = len(parents[k])
        if c < _MAX_CUR_OP[position[k]]:
            room.append(k)
    for _ in range(extra):
        if not room:
            return None
        j = int(rand() * len(room))
        k = room[j]
        cur_op[k] += 1
        if cur_op[k] == _MAX_CUR_OP[position[k]]:
            room.pop(j)
    return cur_op


def _op_range(sub: _Subgraph, parents: list[list[int]], position: list[int], cur_op: list[int]) -> tuple[int, int]:
    """The fewest and most operations op(G) can have once dependencies are wired: exact per instance unless its
    cur_op is 1 or it has a parent already."""
    fewest = most = sub.place_ops
    for k in sub.instances:
        c, cap = cur_op[k], position[k] + 1  # cap: RNG + the parameters before k in topo
        top = c + 1 if c < cap else cap
        most += top
        fewest += (c or 1) if c == 1 or parents[k] else top
    return fewest, most


def _wire_dependencies(
    rng: Random, instances: list[int], parents: list[list[int]], topo: list[int], position: list[int],
    cur_op: list[int],
) -> int | None:
    """drawNecessary3, second half: each instance's operands among RNG and the parameters before it in topo.
    Returns the operations of the instances (their incoming edges), or None (the official's failed draw)."""
    rand = rng.random
    total = 0
    for k in instances:
        i = position[k]
        pool = [RNG, *topo[:i]] if i else [RNG]
        c = cur_op[k]
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
        total += len(par)
    return total


def _choose_unknown(topo: list[int], parents: list[list[int]], n_places: int) -> int | None:
    """Reverse mode: the unknown is the last necessary instance defined by a constant alone."""
    for x in reversed(topo):
        if x >= n_places and (not parents[x] or parents[x] == [RNG]):
            return x
    return None


def _values_allowed(values: dict[int, int], topo: list[int], max_value: int, name_of: Callable[[int], str]) -> bool:
    """The official value rules: 0..max_value, and 0 only in a parameter named average/total/all."""
    for x in topo:
        v = values[x]
        if v < 0 or v > max_value:
            return False
        if v == 0 and not any(w in name_of(x) for w in _ZERO_OK_WORDS):
            return False
    return True


def _draw_unnecessary(
    rng: Random, st: _Structure, sub: _Subgraph, parents: list[list[int]], in_topo: bytearray
) -> list[int]:
    """drawUnnecessary: every other instance parameter becomes a distractor with operands among earlier
    distractors or the subgraph (a total it uses joins, with its instances); returns the distractors."""
    rand = rng.random
    n_places, member, items_of = st.n_places, sub.member, st.items_of
    rest = [k for k in range(n_places, st.n_params) if not member[k]]
    independent: list[int] = []
    while rest:
        known = sub.places + sub.instances + [a for a in sub.unused_places if any(member[k] for k in items_of[a])]
        sel = rest.pop(int(rand() * len(rest)))
        sub.instances.append(sel)
        member[sel] = 1
        if rand() < 0.5:
            pool = independent + [RNG]
            independent.append(sel)
        else:
            pool = known + [RNG]
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
            if 0 <= b < n_places and not member[b]:  # a new total brings its instances along (as constants)
                sub.places.append(b)
                member[b] = 1
                for k in items_of[b]:
                    if not member[k]:
                        member[k] = 1
                        sub.instances.append(k)
            if b not in par:
                par.append(b)
        if any(member[k] for k in rest):
            rest = [k for k in rest if not member[k]]
    return [k for k in sub.instances if not in_topo[k]]


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


def compute_values(
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

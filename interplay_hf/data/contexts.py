"""Contexts (the official "templates"): the surface story a problem graph is told in.

A context is data, not code: two layers of entity names (layer 0 = places, layer 1 = items, each
split into subcategories; a problem draws all its names of a layer from one subcategory) and the
name of the per-place total. The three official contexts are registered here (docs/data-format.md §2); users
add their own with :func:`register_context`. Every function accepts the short name (``zoo``) and
the official template name (``crazy_zootopia``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from interplay_hf.errors import ConfigError

# The widest structure layer the iGSM sampler draws (widths t0, t1 ∈ 1..5).
MAX_LAYER_WIDTH = 5


@dataclass(frozen=True)
class Context:
    """One story world. ``name`` is the short name, ``template`` the official template name."""

    name: str = field(metadata={"help": "Short name used in recipes, e.g. 'zoo'."})
    template: str = field(metadata={"help": "Official template name written to rows, e.g. 'crazy_zootopia'."})
    places: dict[str, tuple[str, ...]] = field(
        metadata={"help": "Layer 0: subcategory -> at least 5 place names (one subcategory per problem)."}
    )
    items: dict[str, tuple[str, ...]] = field(
        metadata={"help": "Layer 1: subcategory -> at least 5 item names (one subcategory per problem)."}
    )
    total_name: str = field(
        metadata={"help": "Per-place total, rendered '{total_name} in {place}'; should start with 'total'."}
    )
    aliases: tuple[str, ...] = field(default=(), metadata={"help": "Extra accepted spellings."})

    def __post_init__(self) -> None:
        for layer, groups in (("places", self.places), ("items", self.items)):
            if not groups:
                raise ConfigError(f"context {self.name!r}: `{layer}` needs at least one subcategory")
            for sub, names in groups.items():
                if len(set(names)) < MAX_LAYER_WIDTH:
                    raise ConfigError(
                        f"context {self.name!r}: `{layer}.{sub}` needs at least {MAX_LAYER_WIDTH} distinct names "
                        f"(a structure layer can be {MAX_LAYER_WIDTH} wide), got {len(set(names))}"
                    )
                for n in names:
                    if " in " in f" {n} " or "." in n or ";" in n or not n.strip():
                        raise ConfigError(
                            f"context {self.name!r}: name {n!r} in `{layer}.{sub}` must be non-empty and contain "
                            "no ' in ', '.' or ';' (they delimit names in the problem and solution text)"
                        )


CONTEXTS: dict[str, Context] = {}
_ALIASES: dict[str, str] = {}


def register_context(context: Context, *, overwrite: bool = False) -> Context:
    """Add a context to the registry under its short name, template name and aliases."""
    keys = {context.name, context.template, *context.aliases}
    for key in keys:
        owner = _ALIASES.get(key)
        if owner is not None and owner != context.name and not overwrite:
            raise ConfigError(f"context name {key!r} is already used by context {owner!r}; pick another name")
    if context.name in CONTEXTS and not overwrite:
        raise ConfigError(f"context {context.name!r} is already registered; pass overwrite=True to replace it")
    CONTEXTS[context.name] = context
    for key in keys:
        _ALIASES[key] = context.name
    return context


def get_context(name: str) -> Context:
    """Look a context up by short name, template name or alias."""
    if isinstance(name, Context):
        return name
    key = _ALIASES.get(str(name).strip())
    if key is None:
        raise ConfigError(f"unknown context {name!r}; allowed: {', '.join(context_names())}")
    return CONTEXTS[key]


def context_names() -> list[str]:
    """All accepted spellings, short names first."""
    return sorted(CONTEXTS) + sorted(c.template for c in CONTEXTS.values() if c.template not in CONTEXTS)


register_context(
    Context(
        name="zoo",
        template="crazy_zootopia",
        places={
            "Wild place": ("Beverly Forest", "Cedar Valley", "Oakridge Riverside", "Pine Ridge", "Maple Creek"),
            "Human place": ("South Zoo", "Jefferson Circus", "Mayer Aquarium", "Bundle Ranch", "Hamilton Farm"),
        },
        items={
            "Mammal": ("adult bear", "adult wolf", "adult deer", "adult fox", "adult racoon"),
            "Bird": ("adult eagle", "adult parrot", "adult owl", "adult blue jay", "adult crow"),
        },
        total_name="total number of adult animals",
    )
)
register_context(
    Context(
        name="teacher",
        template="teachers_in_school",
        places={
            "Names without water": ("Evervale City", "Hawkesbury", "Glenfield City", "Westhaven City", "Brightford"),
            "Names with water": ("Riverton City", "Clearwater Bay", "Shoreline City", "Oakbridge City", "Ruby Bay"),
        },
        items={
            "Common": (
                "elementary school",
                "private middle school",
                "public highschool",
                "regional medical school",
                "culinarian school",
            )
        },
        total_name="total number of schools",
        aliases=("teachers",),
    )
)
register_context(
    Context(
        name="movie",
        template="movie_festival_awards",
        places={
            "Random": (
                "Taylor Movie Festival",
                "Verdi Movie Festival",
                "West Sahara Movie Festival",
                "Northwood Movie Festival",
                "Golden Banana Movie Festival",
            ),
            "French": (
                "Festival Lumière de Valmont",
                "Rêves de Belleville",
                "Cinéma de Montreval",
                "Festival de Clairmont",
                "Festival de Saint-Rivage",
            ),
        },
        items={
            "Common": (
                "upbeat metropolis comedy",
                "solemn period drama",
                "futuristic sci-fi movie",
                "calm road movie",
                "intense detective thriller",
            )
        },
        total_name="total number of movies",
        aliases=("movies",),
    )
)

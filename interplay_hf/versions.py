"""The library versions a result depends on, recorded beside every trained model and evaluation.

A new TRL or transformers release can change what the same recipe trains or how the same model samples, so
``recipe.yaml`` of a training stage and ``results.json`` of an evaluation carry these versions, and a pipeline
hashes TRL's major.minor into its training stages: after an upgrade they run again instead of being reused.
Versions come from the installed distributions' metadata, so nothing heavy is imported.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from interplay_hf import __version__

RECORDED_PACKAGES = ("torch", "transformers", "trl", "accelerate", "datasets", "peft")


def library_versions() -> dict[str, str | None]:
    """``{package: version}`` for interplay-hf and :data:`RECORDED_PACKAGES` (None when not installed)."""
    versions: dict[str, str | None] = {"interplay-hf": __version__}
    for name in RECORDED_PACKAGES:
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = None
    return versions


def major_minor(package: str) -> str | None:
    """``"1.16"`` for an installed ``1.16.0`` (None when not installed): what a pipeline stage hash keeps."""
    try:
        return ".".join(version(package).split(".")[:2])
    except PackageNotFoundError:
        return None


def versions_comment() -> str:
    """One line for the header of a saved recipe: ``versions: torch 2.13.0, transformers 5.25.0, ...``."""
    return "versions: " + ", ".join(f"{name} {value or 'not installed'}" for name, value in library_versions().items())

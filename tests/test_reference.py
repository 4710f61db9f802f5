"""The configuration reference in README.md and config.example.yaml match the settings model."""

from __future__ import annotations

from pathlib import Path

import yaml

from gitops_lifecycle import reference
from gitops_lifecycle.settings import Settings, load

ROOT = Path(__file__).resolve().parent.parent
REGENERATE = "run `python -m gitops_lifecycle.reference` to regenerate"


def test_example_config_is_the_generated_one() -> None:
    expected = reference.HEADER + reference.example_yaml() + "\n"
    assert (ROOT / "config.example.yaml").read_text() == expected, REGENERATE


def test_readme_reference_is_the_generated_one() -> None:
    readme = (ROOT / "README.md").read_text()
    assert reference.readme_with_reference(readme) == readme, REGENERATE


def test_example_config_loads_to_the_defaults() -> None:
    assert load(ROOT / "config.example.yaml") == Settings()


def test_every_setting_is_described() -> None:
    undocumented = [key for key, _, text in reference.entries() if not text.strip()]
    assert undocumented == []


def test_every_setting_appears_in_the_example() -> None:
    example = yaml.safe_load((ROOT / "config.example.yaml").read_text())
    for key, _, _ in reference.entries():
        node = example
        for part in key.split("."):
            assert part in node, key
            node = node[part]

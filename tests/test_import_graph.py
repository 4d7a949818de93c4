"""The house: no import circles in memgym/, and evaluation never reaches up to the trainers."""

from __future__ import annotations

import importlib.util

from conftest import ROOT

spec = importlib.util.spec_from_file_location("import_graph", ROOT / "tools" / "import_graph.py")
import_graph = importlib.util.module_from_spec(spec)
spec.loader.exec_module(import_graph)


def test_no_import_circles() -> None:
    edges = import_graph.graph()
    assert "memgym.agents.evaluate" in edges  # the graph is read, not empty
    assert import_graph.circles(edges) == []


def test_circles_are_found_when_there_are_some() -> None:
    assert import_graph.circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_lower_floors_never_import_loading_training_or_the_cli() -> None:
    """Imports inside functions count too (ast, not the import system)."""
    upper = ("memgym.training", "memgym.loading", "memgym.cli", "memgym.data_cli", "memgym.serve",
             "memgym.adapters")
    lower = ("memgym.episode", "memgym.facts", "memgym.rewards", "memgym.envs",
             "memgym.agents", "memgym.llm")
    edges = import_graph.graph()
    bad = sorted(f"{a} -> {b}" for a, targets in edges.items() for b in targets
                 if a.startswith(lower) and b.startswith(upper))
    assert bad == []


def test_import_memgym_loads_registration_tables_not_env_classes_baselines_or_recipes() -> None:
    import subprocess
    import sys

    code = ("import sys, memgym; print(' '.join(sorted(m for m in sys.modules "
            "if m.startswith('memgym.'))))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True).stdout.split()
    assert "memgym.envs.registration" in loaded and "memgym.recipes.ids" in loaded
    recipe_classes = [m for m in loaded if m.startswith("memgym.recipes.") and m != "memgym.recipes.ids"]
    assert recipe_classes == [], "recipe ids are a table; their env classes load on gym.make"
    heavy = [m for m in loaded if m.startswith(("memgym.agents",
                                                 "memgym.rewards", "memgym.envs.structured",
                                                 "memgym.envs.core"))]
    assert heavy == []


def test_baselines_are_a_table_of_paths_loaded_on_first_use() -> None:
    from memgym.agents.baselines import BASELINES, BaselineTable

    assert BASELINES["fifo_write"].__module__ == "memgym.recipes.trim_kv"  # no import needed
    assert all(BASELINES[name].name == name for name in BASELINES)  # every path resolves
    table = BaselineTable({})
    table["mine"] = "memgym.agents.baselines:FIFOAgent"
    assert table["mine"] is BASELINES["fifo"] and list(table) == ["mine"]

"""The project's modules import one way only: no import cycle, counting imports inside functions, and
``search_space`` stays pure PyTorch."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = {"search_space": "layernas.search_space", "trainer": "layernas.trainer"}


def module_names(root: Path = ROOT) -> dict[str, Path]:
    """Every module of the installed packages by its import name (``layernas.trainer.search.plan``)."""
    out = {}
    for folder, name in PACKAGES.items():
        for path in sorted((root / folder).rglob("*.py")):
            parts = path.relative_to(root / folder).with_suffix("").parts
            parts = parts[:-1] if parts[-1] == "__init__" else parts
            out[".".join((name, *parts))] = path
    return out


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """The project modules that ``name`` imports anywhere in its file (functions included). The packages
    around a module are left out: Python runs them before the module itself, whatever it imports."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join([*parts[: len(parts) - node.level + 1], *([base] if base else [])])
            for a in node.names:  # `from pkg import module` imports the module; `from module import name` the module
                found.add(f"{base}.{a.name}" if f"{base}.{a.name}" in known else base)
    ancestors = {name.rsplit(".", i)[0] for i in range(1, name.count(".") + 1)}
    return {m for m in found if m in known and m != name and m not in ancestors}


def import_graph(root: Path = ROOT) -> dict[str, set[str]]:
    names = module_names(root)
    return {name: imports_of(name, path, set(names)) for name, path in names.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), each a cycle's members."""
    index, low, stack, on_stack, out, counter = {}, {}, [], set(), [], [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_the_cycle_finder_finds_a_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_relative_and_function_level_imports_are_seen(tmp_path):
    pkg = tmp_path / "trainer"
    (pkg / "search").mkdir(parents=True)
    (tmp_path / "search_space").mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "search" / "__init__.py").write_text("")
    (pkg / "cli.py").write_text("def main():\n    from .search.loop import run\n")
    (pkg / "search" / "loop.py").write_text("from ..cli import main\n")
    graph = import_graph(tmp_path)
    assert "layernas.trainer.search.loop" in graph["layernas.trainer.cli"]
    assert cycles(graph) == [["layernas.trainer.cli", "layernas.trainer.search.loop"]]


def test_no_import_cycle_anywhere_in_the_project():
    graph = import_graph()
    assert len(graph) > 40  # every module was found
    assert cycles(graph) == []


def test_search_space_imports_no_training_library():
    for name, path in module_names().items():
        if name.startswith("layernas.search_space"):
            tree = ast.parse(path.read_text())
            roots = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
            roots |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module
                      and not n.level}
            assert not roots & {"lightning", "pytorch_lightning", "hydra", "omegaconf", "wandb", "optuna"}, name


def test_the_wheel_lists_every_package_and_config_folder():
    """setuptools installs only the packages pyproject.toml lists: a folder left out would be missing
    from a wheel (an editable install would not notice)."""
    import tomllib

    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    folders = {"search_space": "layernas.search_space", "trainer": "layernas.trainer", "conf": "layernas.conf"}
    wanted = set()
    for folder, name in folders.items():
        for path in [ROOT / folder, *sorted(p for p in (ROOT / folder).rglob("*") if p.is_dir())]:
            if path.name == "__pycache__" or not any(path.glob("*.py")) and not any(path.glob("*.yaml")):
                continue
            wanted.add(".".join((name, *path.relative_to(ROOT / folder).parts)))
    assert wanted - listed == set(), "add these to [tool.setuptools] packages"


def package_of(module: str) -> str | None:
    """The subpackage of ``layernas.trainer`` a module belongs to (``search`` for
    ``layernas.trainer.search.loop`` and for the package itself); ``cli`` for the command line at the top."""
    parts = module.split(".")
    if parts[:2] != ["layernas", "trainer"] or len(parts) < 3:
        return None
    return parts[2]


def package_graph(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    """Which of trainer's subpackages import which others (imports inside functions included)."""
    out: dict[str, set[str]] = {}
    for module, imported in graph.items():
        a = package_of(module)
        for other in imported:
            b = package_of(other)
            if a and b and a != b:
                out.setdefault(a, set()).add(b)
    return out


def two_way(packages: dict[str, set[str]]) -> list[tuple[str, str]]:
    return sorted({tuple(sorted((a, b))) for a, bs in packages.items() for b in bs if a in packages.get(b, set())})


def test_the_package_check_finds_a_two_way_dependency():
    graph = {"layernas.trainer.search.loop": {"layernas.trainer.supernet.train"},
             "layernas.trainer.supernet.train": {"layernas.trainer.search.slots"},
             "layernas.trainer.search.slots": set()}
    assert two_way(package_graph(graph)) == [("search", "supernet")]
    assert two_way(package_graph({"layernas.trainer.search.loop": {"layernas.trainer.supernet.train"}})) == []


def test_the_packages_of_trainer_depend_one_way():
    packages = package_graph(import_graph())
    named = set(packages).union(*packages.values())
    assert {"plumbing", "plan", "core", "results", "search", "supernet", "apps"} <= named
    assert two_way(packages) == []

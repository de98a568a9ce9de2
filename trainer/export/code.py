"""The modeling code an exported network carries: the project's own sources of the ops it uses, copied into
one flat folder with their imports rewritten to it, and the op families pruned to those ops.

transformers' dynamic-module loader copies, with a module, the files it imports as ``from .name import ...``
from the same folder (no subfolders), so ``search_space/ops/attention.py`` becomes ``layernas_attention.py``,
``from ..positional import Rotary`` becomes ``from .layernas_positional import Rotary``, and the package
``search_space.ops`` becomes a generated ``layernas_ops.py`` that imports the used families (which register
their ops) and re-exports the registry. In a family file, the registrations of the ops the network does not
use are dropped, and so are the classes and functions only they needed: the folder holds the code of exactly
the ops the network uses, and the registry only them.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

PREFIX = "layernas_"
OPS_MODULE = f"{PREFIX}ops"  # stands in for the package search_space.ops
ROOTS = ("model", "heads", "spec", "config")  # what the HF classes import; the rest follows from their imports


@dataclass(frozen=True)
class Source:
    """One module of search_space: its dotted name inside the package (``ops.attention``) and its text."""

    name: str
    text: str

    @property
    def flat(self) -> str:
        return OPS_MODULE if self.name == "ops" else PREFIX + self.name.rsplit(".", 1)[-1]


def package_dir() -> Path:
    from layernas import search_space

    return Path(search_space.__file__).parent


def read(name: str) -> Source:
    """``ops.attention`` -> search_space/ops/attention.py (``ops`` -> its __init__)."""
    path = package_dir().joinpath(*name.split("."))
    path = path / "__init__.py" if path.is_dir() else path.with_suffix(".py")
    return Source(name, path.read_text(encoding="utf-8"))


def resolve(importer: str, node: ast.ImportFrom, alias: str | None = None) -> str:
    """The package-relative module a relative import names: in ``ops.lvconv``, ``from .convolution import x``
    -> ``ops.convolution``, ``from . import convolution`` (alias) -> ``ops.convolution``, ``from ..positional``
    -> ``positional``."""
    parts = importer.split(".")[: -node.level]  # the importer's package, up node.level - 1 levels
    if node.module:
        parts += node.module.split(".")
    if alias is not None:
        parts.append(alias)
    return ".".join(parts)


def imported_modules(source: Source) -> list[str]:
    """The package modules ``source`` imports relatively (``from . import x`` gives module x)."""
    found = []
    for node in ast.walk(ast.parse(source.text)):
        if isinstance(node, ast.ImportFrom) and node.level:
            if node.module is None:
                found += [resolve(source.name, node, a.name) for a in node.names]
            else:
                found.append(resolve(source.name, node))
    return found


def family_of(op_name: str) -> str:
    """The module defining an op's class, package-relative (``ops.attention``)."""
    from layernas.search_space import get_op

    return get_op(op_name).build.__module__.split(".search_space.", 1)[1]


def modules_for(ops: set[str]) -> dict[str, Source]:
    """Every module the HF classes need for ``ops``: the roots and the used families, and what they import
    (the package ``ops`` itself, whose __init__ imports every family, is replaced by the generated one)."""
    wanted = [*ROOTS, *sorted({family_of(op) for op in ops})]
    found: dict[str, Source] = {}
    while wanted:
        name = wanted.pop()
        if name in found or name == "ops":
            continue
        found[name] = read(name)
        wanted += imported_modules(found[name])
    return found


def families() -> set[str]:
    """Modules that register ops (their registrations are pruned to the used ops)."""
    from layernas.search_space import OPS

    return {family_of(name) for name in OPS}


def registered_op(stmt: ast.stmt) -> str | None:
    """The op a top-level ``register(OpDef(name="sa", ...))`` statement registers, else None."""
    call = stmt.value if isinstance(stmt, ast.Expr) else None
    if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id == "register"):
        return None
    opdef = call.args[0] if call.args else None
    for keyword in getattr(opdef, "keywords", []):
        if keyword.arg == "name" and isinstance(keyword.value, ast.Constant):
            return keyword.value.value
    return None


def names_in(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def defined_name(stmt: ast.stmt) -> str | None:
    return stmt.name if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) else None


def imported_from(modules: dict[str, Source]) -> dict[str, set[str]]:
    """For each module, the names the other modules take from it: ``from .m import a`` gives a, and
    ``from . import m`` then ``m.b`` gives b."""
    wanted: dict[str, set[str]] = {name: set() for name in modules}
    for source in modules.values():
        tree = ast.parse(source.text)
        aliases: dict[str, str] = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level:
                if node.module is None:
                    aliases.update({a.asname or a.name: resolve(source.name, node, a.name) for a in node.names})
                else:
                    wanted.setdefault(resolve(source.name, node), set()).update(a.name for a in node.names)
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in aliases:
                wanted.setdefault(aliases[node.value.id], set()).add(node.attr)
    return wanted


def dropped_statements(tree: ast.Module, ops: set[str], needed: set[str]) -> list[ast.stmt]:
    """A family's top-level statements to drop: registrations of other ops, and the classes and functions
    that neither the kept statements nor the other modules (``needed``) use."""
    kept_defs: set[str] = set()
    others = [s for s in tree.body if defined_name(s) is None and registered_op(s) not in (ops | {None})]
    plain = [s for s in tree.body if defined_name(s) is None and s not in others]
    wanted = set(needed).union(*(names_in(s) for s in plain))
    defs = {defined_name(s): s for s in tree.body if defined_name(s) is not None}
    while wanted & (defs.keys() - kept_defs):
        for name in wanted & (defs.keys() - kept_defs):
            kept_defs.add(name)
            wanted |= names_in(defs[name])
    return others + [s for name, s in defs.items() if name not in kept_defs]


def rewritten(source: Source, ops: set[str], needed: set[str]) -> str:
    """``source`` with its relative imports pointed at the flat folder and, for a family, pruned to ``ops``."""
    tree = ast.parse(source.text)
    edits: dict[int, tuple[int, str]] = {}  # first line -> (last line, replacement)
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.level:
            edits[node.lineno] = (node.end_lineno, flat_import(source.name, node))
    if source.name in families():
        for stmt in dropped_statements(tree, ops, needed):
            first = min([stmt.lineno, *(d.lineno for d in getattr(stmt, "decorator_list", []))])
            edits[first] = (stmt.end_lineno, "")
    lines, out, skip_to = source.text.splitlines(), [], 0
    for number, line in enumerate(lines, start=1):
        if number <= skip_to:
            continue
        if number in edits:
            skip_to, text = edits[number]
            out += text.splitlines()
            continue
        out.append(line)
    return tidy("\n".join(out)) + "\n"


def flat_import(importer: str, node: ast.ImportFrom) -> str:
    """``from .convolution import a`` -> ``from .layernas_convolution import a``; ``from . import m`` ->
    ``from . import layernas_m as m``."""
    if node.module is None:
        return "\n".join(f"from . import {Source(resolve(importer, node, a.name), '').flat} as {a.asname or a.name}"
                         for a in node.names)
    names = ", ".join(a.name if a.asname is None else f"{a.name} as {a.asname}" for a in node.names)
    return f"from .{Source(resolve(importer, node), '').flat} import {names}"


def tidy(text: str) -> str:
    """At most two blank lines in a row (dropped statements leave gaps)."""
    while "\n\n\n\n" in text:
        text = text.replace("\n\n\n\n", "\n\n\n")
    return text.rstrip()


def ops_module(ops: set[str], wanted: set[str]) -> str:
    """The generated stand-in for the package ``search_space.ops``: imports the used families (each import
    registers its ops) and re-exports what the other modules take from the package."""
    from layernas.search_space import get_op

    lines = ['"""The ops of this network, written by ``layernas export``: importing their families registers them',
             'in the registry, which holds exactly these."""', "", "from __future__ import annotations", ""]
    for op in sorted(ops, key=lambda o: (family_of(o), o)):
        build = get_op(op).build
        lines.append(f"from .{Source(family_of(op), '').flat} import {build.__name__}  # noqa: F401  (registers {op})")
    lines.append(f"from .{PREFIX}registry import {', '.join(sorted(wanted))}")
    lines += ["", f"__all__ = {sorted(wanted)!r}"]
    return "\n".join(lines) + "\n"


def modeling_sources(ops: set[str]) -> dict[str, str]:
    """File name -> text of every module the exported folder needs for a network made of ``ops``."""
    modules = modules_for(ops)
    needed = imported_from(modules)
    files = {f"{s.flat}.py": rewritten(s, ops, needed.get(s.name, set())) for s in modules.values()}
    files[f"{OPS_MODULE}.py"] = ops_module(ops, needed.get("ops", set()))
    if len(files) != len(modules) + 1:  # two modules of search_space with one file name: the flat folder cannot
        raise ValueError(f"modules {sorted(modules)} do not have distinct file names")  # hold both
    return files

"""The installed package's import graph has no cycle: every module of nnpy is parsed with
`ast`, its imports of nnpy modules collected (relative `from . import x` / `from .x import y`
and absolute `nnpy.` ones, also those inside functions), and any cycle fails the test, named.

Imports under `if TYPE_CHECKING:` are left out: they never run (annotations only)."""
import ast
import os

import nnpy

EXTENSIONS = (".py", ".so", ".pyd", ".pyi")


def modules(root, package="nnpy"):
    """{module name: its .py file, or None for a compiled module} under the folder `root`."""
    found = {}
    for folder, _, files in os.walk(root):
        for file in files:
            if not file.endswith(EXTENSIONS) or file.startswith("."):
                continue
            parts = os.path.relpath(os.path.join(folder, file.split(".")[0]), root).split(os.sep)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            name = ".".join([package] + [p for p in parts if p != "."])
            if file.endswith(".py"):
                found[name] = os.path.join(folder, file)
            else:
                found.setdefault(name, None)
    return found


def _type_checking(test):
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or \
        (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _nodes(node):
    """Every node under `node`, but not the bodies of `if TYPE_CHECKING:`."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and _type_checking(child.test):
            for other in child.orelse:
                yield other
                yield from _nodes(other)
            continue
        yield child
        yield from _nodes(child)


def imports(name, path, known, package="nnpy"):
    """The modules of `known` that module `name` (its source at `path`) imports."""
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read(), path)
    here = name if os.path.basename(path) == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in _nodes(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                parts = here.split(".")[:len(here.split(".")) - node.level + 1]
                base = ".".join(parts + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                found.add(sub if sub in known else base)   # a module, or a name in `base`
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {m for m in found if m in known and m != name and
            (m == package or m.startswith(package + "."))}


def graph(root, package="nnpy"):
    known = modules(root, package)
    return {name: sorted(imports(name, path, known, package)) if path else []
            for name, path in known.items()}


def cycles(edges):
    """The strongly connected components of more than one module (Tarjan), each as a cycle
    through it: [a, b, ..., a]."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.add(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(_cycle_in(component, edges))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def _cycle_in(component, edges):
    """A path from the component's first module back to itself, within the component."""
    start = min(component)
    paths, seen = [[start]], {start}
    while paths:
        path = paths.pop(0)
        for w in edges[path[-1]]:
            if w == start:
                return path + [start]
            if w in component and w not in seen:
                seen.add(w)
                paths.append(path + [w])
    raise AssertionError("a component without a cycle")


def test_the_package_imports_without_a_cycle():
    edges = graph(os.path.dirname(nnpy.__file__))
    # the parser sees the imports that matter (inside functions too)
    assert "nnpy.network" in edges["nnpy"] and "nnpy._netfile" in edges["nnpy.network"]
    assert "nnpy._safefile" in edges["nnpy.fann"]     # imported inside from_fann
    assert "nnpy._post" in edges["nnpy.post"]          # a compiled module, by name
    found = cycles(edges)
    assert not found, "import cycles: " + "; ".join(" -> ".join(c) for c in found)


def test_a_cycle_is_found_and_named(tmp_path):
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("from .a import f\n")
    (package / "a.py").write_text("from . import b\n\ndef f():\n    pass\n")
    (package / "b.py").write_text("def g():\n    from .c import h\n")
    (package / "c.py").write_text("from typing import TYPE_CHECKING\nimport pkg.a\n"
                                  "if TYPE_CHECKING:\n    from . import d\n")
    (package / "d.py").write_text("from .c import x\n")
    edges = graph(str(package), "pkg")
    assert edges["pkg.c"] == ["pkg.a"]     # the TYPE_CHECKING import left out
    assert cycles(edges) == [["pkg.a", "pkg.b", "pkg.c", "pkg.a"]]

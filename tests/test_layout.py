"""The package's shape: one home per topic, small modules, imports that flow one way.

These read the source (every import, including those inside functions), so a change that
breaks the layout CONTRIBUTING.md describes fails here, not in a reviewer's head.
"""

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "lnbook"
MAX_LINES = 600

# The one-way flow, bottom to top: a module may import its own floor and the floors below.
# Topics (lnbook.topics.*) sit on floor 5 and the benchmarks on 6; the build glue
# (lnbook.book) stands apart (see test_build_glue_knows_nothing_of_layer_norm).
FLOORS = {
    "lnbook": 0,
    "lnbook._optional": 0,
    "lnbook._validate": 0,
    "lnbook._results": 0,
    "lnbook._deadline": 0,
    "lnbook.data": 1,
    "lnbook.process_group": 1,
    "lnbook.numpy_ln": 2,
    "lnbook.torch_ln": 2,
    "lnbook.triton_ln": 3,
    "lnbook.models": 3,
    "lnbook.stacked": 3,
    "lnbook.recurrent": 3,
    "lnbook.attention": 3,
    "lnbook.conditioning": 3,
    "lnbook.distributed": 3,
    "lnbook.fusion": 3,
    "lnbook.folding": 3,
    "lnbook.training": 4,
    "lnbook.plotting": 4,
    "lnbook.live": 4,
    "lnbook.checking": 4,
    "lnbook.bench": 6,
    "lnbook.latency": 6,
    "lnbook.bench_devices": 6,
}
TOPIC_FLOOR = 5
# Inside a topic: experiments compute, figures draw (from results, never by computing),
# widgets wire controls to both, checks judge answers. What each may import of its topic:
WITHIN_TOPIC = {
    "experiments": set(),
    "figures": set(),
    "widgets": {"experiments", "figures"},
    "checks": set(),
}


def _name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _imports(name: str) -> set[str]:
    """The lnbook modules that module ``name`` imports, anywhere in its code."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            found.add(module)
            # `from . import x` and `from .topics.t import figures` import modules too
            found |= {f"{module}.{a.name}" for a in node.names}
    return {m for m in found if m in MODULES and m != name}


GRAPH = {name: _imports(name) for name in MODULES}


def _floor(name: str) -> int | None:
    if name.startswith("lnbook.topics"):
        return TOPIC_FLOOR
    return FLOORS.get(name)


def _topic_order() -> list[str]:
    """The topics in the order of the chapters that first import them (a chapter may draw
    on several: chapter 15 on precision and folding, and on chapter 8's performance)."""
    order = []
    for chapter in sorted((ROOT / "book").glob("[0-9][0-9]_*.md")):
        text = chapter.read_text(encoding="utf-8")
        topics = re.findall(r"^from lnbook\.topics\.(\w+) import ", text, re.M)
        assert topics, f"{chapter.name} imports no topic of lnbook.topics"
        order += [t for t in dict.fromkeys(topics) if t not in order]
    return order


def test_no_module_is_over_600_lines():
    sizes = {name: len(p.read_text(encoding="utf-8").splitlines()) for name, p in MODULES.items()}
    assert max(sizes.values()) > 100  # the sizes are read
    assert not {n: s for n, s in sizes.items() if s > MAX_LINES}


def test_no_script_or_stylesheet_is_over_600_lines():
    # The site's own JavaScript and CSS keep to the modules' rule (plotly.js is built, not kept).
    files = [p for p in PACKAGE.rglob("*") if p.suffix in (".js", ".css")]
    assert any(p.name == "plotly-init.js" for p in files)  # the files are found
    sizes = {
        str(p.relative_to(PACKAGE)): len(p.read_text(encoding="utf-8").splitlines()) for p in files
    }
    assert not {n: s for n, s in sizes.items() if s > MAX_LINES}


def test_the_graph_sees_imports_inside_functions_and_relative_ones():
    # Guards for the tests below: what they judge is really read.
    assert "lnbook.book.execution" in GRAPH["lnbook.book.editions"]
    assert "lnbook.models" in GRAPH["lnbook.training"]  # imported inside a function
    assert "lnbook.topics.statistics.figures" in GRAPH["lnbook.topics.statistics.widgets"]
    assert "lnbook.plotting" in GRAPH["lnbook.topics.statistics.figures"]


def test_no_import_circle():
    circles = []

    def visit(name, path):
        for nxt in GRAPH[name]:
            if nxt in path:
                circles.append(path[path.index(nxt) :] + [nxt])
            elif nxt not in done:
                visit(nxt, path + [nxt])
        done.add(name)

    done: set[str] = set()
    for name in MODULES:
        if name not in done:
            visit(name, [name])
    assert not circles


def test_every_module_has_a_home():
    homeless = [
        n
        for n in MODULES
        if _floor(n) is None and not n.startswith("lnbook.book") and n != "lnbook.topics"
    ]
    assert not homeless, "add these to FLOORS (and to the tree in CONTRIBUTING.md)"


def test_imports_flow_one_way():
    upward = [
        (name, other)
        for name in MODULES
        if _floor(name) is not None
        for other in GRAPH[name]
        if not other.startswith("lnbook.book")
        and _floor(other) is not None
        and _floor(other) > _floor(name)
    ]
    assert not upward
    # Nothing but the build glue itself imports the build glue.
    into_book = [
        (n, o)
        for n in MODULES
        if not n.startswith("lnbook.book")
        for o in GRAPH[n]
        if o.startswith("lnbook.book")
    ]
    assert not into_book


def test_a_topic_imports_earlier_topics_only_and_keeps_its_four_roles_apart():
    order = _topic_order()
    assert sorted(order) == sorted(
        p.name for p in (PACKAGE / "topics").iterdir() if (p / "__init__.py").exists()
    ), "every topic serves a chapter, and every chapter's topic exists"
    wrong = []
    for name in MODULES:
        if not name.startswith("lnbook.topics.") or name.count(".") != 3:
            continue
        _, _, topic, role = name.split(".")
        for other in GRAPH[name]:
            if not other.startswith("lnbook.topics.") or other.count(".") != 3:
                continue
            _, _, other_topic, other_role = other.split(".")
            if other_topic == topic and other_role not in WITHIN_TOPIC[role]:
                wrong.append((name, other))
            if other_topic != topic and order.index(other_topic) > order.index(topic):
                wrong.append((name, other))  # a later chapter's topic
    assert not wrong


def test_the_benchmarks_import_no_widget():
    assert not {o for o in GRAPH["lnbook.bench"] if "topics" in o or o == "lnbook.live"}


def test_build_glue_knows_nothing_of_layer_norm():
    # lnbook.book builds, executes and hands out the book; it imports of the rest only the
    # package's version, the verdict words of the checker harness (to tell an attempted
    # exercise from a stub) and the data module (the digits packed into the browser's wheel).
    allowed = {"lnbook", "lnbook.checking", "lnbook.data"}
    outside = {
        (n, o)
        for n in MODULES
        if n.startswith("lnbook.book")
        for o in GRAPH[n]
        if not o.startswith("lnbook.book") and o not in allowed
    }
    assert not outside


@pytest.mark.parametrize("path", sorted((ROOT / "book").glob("*.md")), ids=lambda p: p.stem)
def test_every_literalinclude_names_code_that_exists(path):
    text = path.read_text(encoding="utf-8")
    for m in re.finditer(r"```\{literalinclude\}\s+(\S+)\n((?::[\w-]+:.*\n)*)", text):
        target = (path.parent / m[1]).resolve()
        assert target.is_file(), f"{path.name}: {m[1]} does not exist"
        obj = re.search(r":pyobject:\s*(\S+)", m[2])
        if obj:
            tree = ast.parse(target.read_text(encoding="utf-8"))
            node = tree
            for part in obj[1].split("."):
                node = next(
                    (n for n in ast.iter_child_nodes(node) if getattr(n, "name", None) == part),
                    None,
                )
                assert node is not None, f"{path.name}: no {obj[1]} in {m[1]}"

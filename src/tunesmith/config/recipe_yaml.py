"""Read recipe YAML (a file or a `--set` value): safe tags only, no key given twice, no
nesting deeper than any recipe needs, and YAML 1.2's booleans.

Plain `yaml.safe_load` keeps the last of two equal keys without a word, and recurses once per
nesting level, so a few thousand `[` are a RecursionError instead of an error line.
"""

from __future__ import annotations

import re
from typing import Any

import yaml
from yaml.composer import ComposerError

# The deepest shipped recipe is about 8 levels; this leaves room and stays far from Python's
# recursion limit in everything that walks the result (construction, deepcopy, validation).
MAX_DEPTH = 100
# Values after alias expansion: a few short aliases can stand for a billion values ("billion
# laughs"), which validation would then walk one by one. The biggest real recipe has hundreds.
MAX_VALUES = 100_000
BOOL_TAG = "tag:yaml.org,2002:bool"
# YAML 1.2's booleans. PyYAML follows YAML 1.1, where yes/no/on/off (any case) are booleans too:
# `labels: [yes, no]` named the classes 'true' and 'false', and a label, stop string or field
# value `no` became false. Those words now stay text; a bool key still reads them as meant.
YAML12_BOOL = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")


def read_yaml(text: str) -> tuple[Any, yaml.Node | None]:
    """The YAML document in `text` and its node tree (for line numbers; None when empty).

    Raises `yaml.MarkedYAMLError` (with `problem` and `problem_mark`) for every refusal."""
    loader = _RecipeLoader(text)
    try:
        root = loader.get_single_node()
        return (loader.construct_document(root) if root is not None else None), root
    finally:
        loader.dispose()


class _RecipeLoader(yaml.SafeLoader):
    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._path: list[Any] = []  # the keys and indices leading to the node being read
        self._heights: dict[int, int] = {}  # levels below each node read so far
        self._sizes: dict[int, int] = {}  # values in each node read so far, aliases expanded

    def compose_node(self, parent, index):
        mark = self.peek_event().start_mark
        if len(self._path) > MAX_DEPTH:  # checked before descending: the composer recurses
            raise self._too_deep(mark)
        self._path.append(_name(index))
        try:
            node = super().compose_node(parent, index)
        finally:
            self._path.pop()
        # An alias brings its anchor's whole depth to where it is used.
        height = self._heights.setdefault(id(node), self._height(node))
        if len(self._path) + height > MAX_DEPTH:
            raise self._too_deep(mark)
        if self._sizes.setdefault(id(node), self._size(node)) > MAX_VALUES:
            where = self._where(_name(index))
            problem = f"{where}: more than {MAX_VALUES:,} values once aliases expand"
            raise ComposerError(None, None, problem, mark)
        return node

    def compose_mapping_node(self, anchor):
        node = super().compose_mapping_node(anchor)
        first_line: dict[str, int] = {}
        for key, _ in node.value:
            if not isinstance(key, yaml.ScalarNode):
                continue
            if key.value in first_line:
                where = _dotted([*self._path, key.value])
                first = first_line[key.value]
                problem = f"{where}: duplicate key '{key.value}' (first at line {first})"
                raise ComposerError(None, None, problem, key.start_mark)
            first_line[key.value] = key.start_mark.line + 1
        return node

    def _height(self, node: yaml.Node) -> int:
        if isinstance(node, yaml.ScalarNode):
            return 0
        children = node.value if isinstance(node, yaml.SequenceNode) else sum(node.value, ())
        return 1 + max((self._heights[id(child)] for child in children), default=0)

    def _size(self, node: yaml.Node) -> int:
        if isinstance(node, yaml.ScalarNode):
            return 1
        children = node.value if isinstance(node, yaml.SequenceNode) else sum(node.value, ())
        return 1 + sum(self._sizes[id(child)] for child in children)

    def _too_deep(self, mark) -> ComposerError:
        problem = f"{self._where()}: nested more than {MAX_DEPTH} levels deep"
        return ComposerError(None, None, problem, mark)

    def _where(self, last=None) -> str:
        named = [p for p in [*self._path, last] if p is not None]
        return _dotted(named[:4]) + ("..." if len(named) > 4 else "")


_RecipeLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != BOOL_TAG]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_RecipeLoader.add_implicit_resolver(BOOL_TAG, YAML12_BOOL, list("tTfF"))


def _name(index) -> str | int | None:
    """A node's place in its parent: a mapping key, a list index, or None (the root, a key)."""
    if isinstance(index, yaml.ScalarNode):
        return index.value
    return index if isinstance(index, int) else None


def _dotted(path: list[Any]) -> str:
    return ".".join(str(p) for p in path if p is not None) or "(top level)"

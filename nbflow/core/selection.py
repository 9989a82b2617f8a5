"""Selection: parse a selection string (``orders+ and not group:raw``) and pick assets from a graph.

Grammar, loosest binding first::

    selection := either ("," either)*            comma: union
    either    := both ("or" both)*
    both      := negated ("and" negated)*
    negated   := "not" negated | lineage
    lineage   := [DEPTH] ["+"] atom ["+" [DEPTH]]  +name: upstream, name+: downstream, 2+name: 2 hops
    atom      := NAME | PATTERN | "*" | key:NAME | group:VALUE | tag:KEY[=VALUE] | kind:VALUE
               | owner:VALUE | ("sinks" | "roots") "(" selection ")" | "(" selection ")"

NAME is an asset name; a name holding ``*`` or ``?`` is a glob PATTERN (``raw_*``). ``key:`` takes
a name, a pattern or a quoted name (``key:"my asset"``). Selector values are bare words or quoted
strings (``tag:team="data eng"``) and may be globs. ``and``/``or``/``not`` may also be written
``AND``/``OR``/``NOT``. ``sinks(s)`` keeps the assets of ``s`` with nothing downstream in ``s``,
``roots(s)`` those with nothing upstream in ``s``. Positions in errors are 1-based columns of the
selection text; a selection nesting deeper than ``MAX_DEPTH`` parentheses or calls is refused.
"""

from __future__ import annotations

import contextvars
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from fnmatch import translate

from nbflow.core.graph import Graph, closest
from nbflow.errors import SelectionError

__all__ = ["MAX_DEPTH", "All", "And", "Group", "Kind", "Lineage", "Name", "Node", "Not", "Or",
           "Owner", "Pattern", "Roots", "Sinks", "Status", "Tag", "parse", "select"]

_STATUS_OF: contextvars.ContextVar[Mapping[str, Iterable[str]]] = contextvars.ContextVar(
    "nbflow_selection_statuses")

MAX_DEPTH = 50
"""The deepest nesting of parentheses and ``sinks(...)``/``roots(...)`` calls a selection may have."""

_GLOB = frozenset("*?")
_KEYWORDS = {"and": "and", "or": "or", "not": "not", "AND": "and", "OR": "or", "NOT": "not"}
_SELECTORS = ("key", "group", "tag", "kind", "owner", "status")
_STATUSES = ("fresh", "stale", "missing", "failed")
_FUNCTIONS = ("sinks", "roots")
_DAGSTER_ONLY = frozenset({  # Dagster selectors nbflow has no data for
    "key_substring", "is", "column", "table_name", "column_tag", "code_location",
    "changed_in_branch", "partitions", "automation_type", "sensor", "schedule", "job",
    "not_materialized_in_hours"})
_STOP = frozenset(",()+'\"")  # ends a bare selector value
_HINTS = {"&": "write 'and' instead of '&'", "|": "write 'or' instead of '|'",
          "!": "write 'not' instead of '!'", "~": "write 'not' instead of '~'",
          "-": "asset names have no '-'; write 'and not NAME' to leave assets out"}
_LISTED = 12  # at most this many names in an error message
_DIGITS = 9  # a depth with more digits than this walks every hop (no graph is that deep)


# -- the tree ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Name:
    """One asset by its exact name (``orders`` or ``key:orders``)."""

    name: str
    position: int = field(default=0, compare=False)

    def __str__(self) -> str:
        return self.name if _is_bare(self.name) else f"key:{_quote(self.name)}"


@dataclass(frozen=True)
class Pattern:
    """Every asset whose name matches a glob (``raw_*``)."""

    pattern: str
    position: int = field(default=0, compare=False)

    def __str__(self) -> str:
        return self.pattern if _is_bare(self.pattern) else f"key:{_quote(self.pattern)}"


@dataclass(frozen=True)
class All:
    """Every asset (``*``)."""

    def __str__(self) -> str:
        return "*"


@dataclass(frozen=True)
class Group:
    """Every asset of a group (the group name may be a glob)."""

    group: str

    def __str__(self) -> str:
        return f"group:{_quote(self.group)}"


@dataclass(frozen=True)
class Tag:
    """Every asset with tag ``key`` (set to ``value`` unless it is None); both may be globs."""

    key: str
    value: str | None = None

    def __str__(self) -> str:
        return f"tag:{_quote(self.key)}" + ("" if self.value is None else f"={_quote(self.value)}")


@dataclass(frozen=True)
class Kind:
    """Every asset with this kind among its ``kinds`` (may be a glob)."""

    kind: str

    def __str__(self) -> str:
        return f"kind:{_quote(self.kind)}"


@dataclass(frozen=True)
class Owner:
    """Every asset with this owner among its ``owners`` (may be a glob)."""

    owner: str

    def __str__(self) -> str:
        return f"owner:{_quote(self.owner)}"


@dataclass(frozen=True)
class Lineage:
    """``target`` plus its upstream and downstream assets.

    ``upstream``/``downstream`` count hops: 0 adds none, None adds all of them.
    """

    target: Node
    upstream: int | None = 0
    downstream: int | None = 0

    def __str__(self) -> str:
        up = "" if self.upstream == 0 else "+" if self.upstream is None else f"{self.upstream}+"
        down = "" if self.downstream == 0 else "+" if self.downstream is None else f"+{self.downstream}"
        return f"{up}{_wrap(self.target, 3)}{down}"


@dataclass(frozen=True)
class Sinks:
    """The assets of ``operand`` with no asset of ``operand`` downstream of them."""

    operand: Node

    def __str__(self) -> str:
        return f"sinks({self.operand})"


@dataclass(frozen=True)
class Roots:
    """The assets of ``operand`` with no asset of ``operand`` upstream of them."""

    operand: Node

    def __str__(self) -> str:
        return f"roots({self.operand})"


@dataclass(frozen=True)
class Not:
    """Every asset not in ``operand``."""

    operand: Node

    def __str__(self) -> str:
        return f"not {_wrap(self.operand, 1)}"


@dataclass(frozen=True)
class And:
    """Assets in every one of ``operands``."""

    operands: tuple[Node, ...]

    def __str__(self) -> str:
        return " and ".join(_wrap(o, 1) for o in self.operands)


@dataclass(frozen=True)
class Or:
    """Assets in any of ``operands`` (``or`` and ``,`` both make one)."""

    operands: tuple[Node, ...]

    def __str__(self) -> str:
        return " or ".join(_wrap(o, 0) for o in self.operands)


@dataclass(frozen=True)
class Status:
    """Assets that (or any of whose partitions) have a verdict: ``status:stale``."""

    status: str

    def __str__(self) -> str:
        return f"status:{self.status}"


Node = Name | Pattern | All | Group | Tag | Kind | Owner | Status | Lineage | Sinks | Roots | Not | And | Or
_BINDING = {Or: 0, And: 1, Not: 2, Lineage: 3}  # atoms bind tightest (4)


def _wrap(node: Node, tighter_than: int) -> str:
    """``str(node)``, parenthesised unless it binds more tightly than its context."""
    return str(node) if _BINDING.get(type(node), 4) > tighter_than else f"({node})"


def _quote(text: str) -> str:
    if text and not any(c.isspace() or c in _STOP or c in "=:" for c in text):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _is_bare(name: str) -> bool:
    """Whether ``name`` reads back as itself when written without ``key:``."""
    return (bool(name) and all(_is_word(c) for c in name) and name not in _KEYWORDS
            and not (name.isascii() and name.isdigit()) and name != "*")


def _negate(node: Node) -> Node:
    """``not node``; ``not not x`` is ``x`` (so a long chain of ``not`` builds no deep tree)."""
    return node.operand if isinstance(node, Not) else Not(node)


# -- tokens --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Token:
    kind: str  # word, number, and, or, not, key, group, tag, kind, owner, + , ( ) end
    text: str
    position: int  # 0-based offset into the selection
    value: tuple[str | None, ...] = ()
    value_at: int = 0  # 0-based offset of a selector's value (inside its quotes)


class _Syntax(Exception):
    def __init__(self, offset: int, detail: str) -> None:
        self.offset, self.detail = offset, detail


def _tokens(text: str) -> Iterator[_Token]:
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
        elif c in ",()+":
            yield _Token(c, c, i)
            i += 1
        elif _is_word(c):
            start = i
            while i < n and _is_word(text[i]):
                i += 1
            word = text[start:i]
            if i < n and text[i] == ":":
                tok = _selector(text, start, word, i + 1)
                i = start + len(tok.text)
                yield tok
            elif word in _KEYWORDS:
                yield _Token(_KEYWORDS[word], word, start)
            elif word.isascii() and word.isdigit():
                yield _Token("number", word, start)
            else:
                yield _Token("word", word, start)
        else:
            hint = _HINTS.get(c, "")
            raise _Syntax(i, f"unexpected character {c!r}" + (f"; {hint}" if hint else ""))
    yield _Token("end", "", n)


def _is_word(c: str) -> bool:
    return c.isalnum() or c == "_" or c in _GLOB


def _selector(text: str, start: int, word: str, i: int) -> _Token:
    """Scan ``key:NAME``, ``group:VALUE``, ``tag:KEY[=VALUE]``, ...; ``i`` is just after the colon."""
    if word not in _SELECTORS:
        known = "'key:', 'group:', 'tag:', 'kind:', 'owner:' or 'status:'"
        hint = closest(word, _SELECTORS)
        if word in _DAGSTER_ONLY:
            did = f"; that is Dagster's, nbflow selects with {known}"
        elif hint:
            did = f"; did you mean '{hint}:'?"
        else:
            did = f"; use {known}"
        raise _Syntax(start, f"unknown selector '{word}:'{did}")
    at = i + 1 if i < len(text) and text[i] in "'\"" else i
    if word in ("tag", "kind", "owner") and text.startswith("<null>", i):
        raise _Syntax(i, f"'<null>' is Dagster's; write 'not {word}:*' for the assets without any {word}")
    if word != "tag":
        what = {"key": "an asset name", "group": "a group name", "kind": "a kind",
                "status": "a status"}.get(word, "an owner")
        value, i = _value(text, i, stop="", what=f"{what} after '{word}:'")
        if word == "status" and value not in _STATUSES:
            raise _Syntax(at, f"'status:{value}' is not a status; use "
                              + ", ".join(f"'status:{s}'" for s in _STATUSES))
        return _Token(word, text[start:i], start, (value, None), at)
    key, i = _value(text, i, stop="=", what="a tag key after 'tag:'")
    tag_value: str | None = None
    if i < len(text) and text[i] == "=":
        tag_value, i = _value(text, i + 1, stop="", what="a tag value after '='")
    return _Token(word, text[start:i], start, (key, tag_value), at)


def _value(text: str, i: int, *, stop: str, what: str) -> tuple[str, int]:
    """A quoted string or a bare word at ``i``; returns it and the offset after it."""
    n = len(text)
    if i < n and text[i] in "'\"":
        quote, out, j = text[i], [], i + 1
        while j < n and text[j] != quote:
            if text[j] == "\\" and j + 1 < n:
                j += 1
            out.append(text[j])
            j += 1
        if j >= n:
            raise _Syntax(i, f"the quote opened here is never closed; add a closing {quote}")
        return "".join(out), j + 1
    j = i
    while j < n and not text[j].isspace() and text[j] not in _STOP and text[j] not in stop:
        j += 1
    if j == i:
        raise _Syntax(i, f"expected {what}")
    return text[i:j], j


# -- parsing -------------------------------------------------------------------------------------

class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = list(_tokens(text))
        self.at = 0
        self.depth = 0  # parentheses and calls open around the current token

    @property
    def peek(self) -> _Token:
        return self.tokens[self.at]

    def take(self) -> _Token:
        tok = self.tokens[self.at]
        self.at += 1
        return tok

    def accept(self, kind: str) -> _Token | None:
        return self.take() if self.peek.kind == kind else None

    def selection(self) -> Node:
        items = [self.either()]
        while self.accept(","):
            items.append(self.either())
        return items[0] if len(items) == 1 else Or(tuple(_flatten(Or, items)))

    def either(self) -> Node:
        items = [self.both()]
        while self.accept("or"):
            items.append(self.both())
        return items[0] if len(items) == 1 else Or(tuple(_flatten(Or, items)))

    def both(self) -> Node:
        items = [self.negated()]
        while self.accept("and"):
            items.append(self.negated())
        return items[0] if len(items) == 1 else And(tuple(_flatten(And, items)))

    def negated(self) -> Node:
        count = 0  # counted in a loop, not by recursion: a thousand 'not's must still parse
        while self.accept("not"):
            count += 1
        node = self.lineage()
        return _negate(node) if count % 2 else node

    def lineage(self) -> Node:
        up: int | None = 0  # hops; None means all of them
        depth = self.accept("number")
        if depth is not None:
            if not self.accept("+"):
                raise _Syntax(self.peek.position, f"expected '+' after the depth {depth.text}"
                              f" (write {depth.text}+NAME for {depth.text} hops upstream)")
            up = _hops(depth.text)
        elif self.accept("+"):
            up = None
        target = self.atom()
        down: int | None = 0
        if self.accept("+"):
            hops = self.accept("number")
            down = None if hops is None else _hops(hops.text)
        # 0+name walks no hops: it is just name
        return target if up == 0 and down == 0 else Lineage(target, up, down)

    def atom(self) -> Node:
        tok = self.peek
        if tok.kind == "(":
            return self.nested(tok, lambda inner: inner)
        if tok.kind == "word" and tok.text in _FUNCTIONS and self.tokens[self.at + 1].kind == "(":
            self.take()
            return self.nested(self.peek, Sinks if tok.text == "sinks" else Roots, tok)
        if tok.kind == "word":
            self.take()
            return _name(tok.text, tok.position)
        if tok.kind in _SELECTORS:
            self.take()
            value = tok.value[0] or ""
            if tok.kind == "key":
                return _name(value, tok.value_at)
            if tok.kind == "tag":
                return Tag(value, tok.value[1])
            if tok.kind == "status":
                return Status(value)
            return Group(value) if tok.kind == "group" else Kind(value) if tok.kind == "kind" else Owner(value)
        found = "the end of the selection" if tok.kind == "end" else repr(tok.text)
        raise _Syntax(tok.position, "expected an asset name, '*', a selector such as 'group:', "
                                    f"'not', 'sinks(', 'roots(' or '(' but found {found}")

    def nested(self, paren: _Token, make: Callable[[Node], Node], call: _Token | None = None) -> Node:
        """``( selection )`` at ``paren``, wrapped by ``make``; ``call`` is the function name."""
        opened = call or paren
        if self.depth >= MAX_DEPTH:
            raise _Syntax(opened.position, f"the selection nests more than {MAX_DEPTH} parentheses or "
                                           "calls deep; remove some (a chain of 'and', 'or' or ',' "
                                           "needs none)")
        self.take()
        self.depth += 1
        inner = self.selection()
        self.depth -= 1
        if not self.accept(")"):
            after = f" to close the '(' of {call.text}(" if call else ""
            raise _Syntax(self.peek.position, f"expected ')'{after}")
        return make(inner)


def _name(text: str, position: int) -> Node:
    """``*``, a glob pattern or an exact name; ``position`` is 0-based."""
    if text == "*":
        return All()
    if _GLOB & set(text):
        return Pattern(text, position + 1)
    return Name(text, position + 1)


def _hops(digits: str) -> int | None:
    return int(digits) if len(digits) <= _DIGITS else None


def _flatten(kind: type, items: list[Node]) -> Iterator[Node]:
    for item in items:
        if isinstance(item, kind):
            yield from item.operands  # type: ignore[union-attr]
        else:
            yield item


def parse(text: str) -> Node:
    """Parse a selection string into its tree; raises ``SelectionError`` on a syntax error."""
    if not text.strip():
        raise _syntax_error(text, len(text), "the selection is empty; write '*' for every asset")
    try:
        parser = _Parser(text)
        node = parser.selection()
        tok = parser.peek
        if tok.kind != "end":
            raise _trailing(tok, parser.tokens[parser.at - 1])
    except _Syntax as e:
        raise _syntax_error(text, e.offset, e.detail) from None
    except RecursionError:  # only when the caller's own stack is already nearly full
        raise _too_deep(text) from None
    return node


def _trailing(tok: _Token, before: _Token) -> _Syntax:
    """The error for ``tok`` left over after a whole selection (``before`` precedes it)."""
    for word in (before, tok):  # "orders And x" or "Not orders": a keyword in mixed case
        lower = word.text.lower()
        if word.kind == "word" and lower in _KEYWORDS:
            return _Syntax(word.position, f"{word.text!r} is not a keyword; keywords are all lower "
                                          f"or all upper case: write {lower!r} or {lower.upper()!r}")
    detail = f"expected ',', 'and', 'or' or the end of the selection but found {tok.text!r}"
    if tok.kind in ("word", "number", "+", "(", *_SELECTORS):
        detail += " (join two selections with ',')"
    return _Syntax(tok.position, detail)


def _syntax_error(text: str, offset: int, detail: str) -> SelectionError:
    line = text.replace("\n", " ").replace("\t", " ")
    return SelectionError(
        f"Selection {text!r} has a syntax error at position {offset + 1}: {detail}"
        f"{'' if detail.endswith('?') else '.'}\n"
        f"  {line}\n  {' ' * offset}^", selection=text, position=offset + 1)


def _too_deep(text: str) -> SelectionError:
    return SelectionError(f"Selection {text!r} nests too deeply to evaluate here; write it with "
                          "fewer parentheses.", selection=text, position=1)


# -- evaluation ----------------------------------------------------------------------------------

def select(graph: Graph, text: str,
           statuses: Mapping[str, Iterable[str]] | None = None) -> list[str]:
    """The assets ``text`` selects from ``graph``, in topological order.

    ``statuses`` (asset -> the verdicts it or its partitions have) answers ``status:``
    selectors; without it they select nothing.

    Raises ``SelectionError`` on a syntax error, a name that no asset has, or a selection
    that matches nothing (``*`` on an empty graph selects nothing without error).
    """
    node = parse(text)
    try:
        token = _STATUS_OF.set(statuses or {})
        try:
            chosen = _evaluate(node, graph, text)
        finally:
            _STATUS_OF.reset(token)
    except RecursionError:
        raise _too_deep(text) from None
    if not chosen and not (isinstance(node, All) and not graph.specs) \
            and not any(isinstance(n, Status) for n in _walk(node)):
        raise _nothing_error(graph, node, text)
    return graph.sorted(chosen)


def _evaluate(node: Node, graph: Graph, text: str) -> set[str]:
    specs = graph.specs
    if isinstance(node, Name):
        if node.name not in specs:
            raise _unknown_error(graph, node, text)
        return {node.name}
    if isinstance(node, Pattern):
        match = _matcher(node.pattern)
        return {n for n in specs if match(n)}
    if isinstance(node, All):
        return set(specs)
    if isinstance(node, Group):
        match = _matcher(node.group)
        return {n for n, s in specs.items() if match(s.group)}
    if isinstance(node, Tag):
        has = _has_tag(node.key, node.value)
        return {n for n, s in specs.items() if has(s.tags)}
    if isinstance(node, Kind):
        match = _matcher(node.kind)
        return {n for n, s in specs.items() if any(match(k) for k in s.kinds)}
    if isinstance(node, Owner):
        match = _matcher(node.owner)
        return {n for n, s in specs.items() if any(match(o) for o in s.owners)}
    if isinstance(node, Status):
        return {n for n, present in _STATUS_OF.get().items() if n in specs and node.status in present}
    if isinstance(node, Lineage):
        base = _evaluate(node.target, graph, text)
        out = set(base)
        if node.upstream != 0:
            out |= graph.upstream_of(base, node.upstream)
        if node.downstream != 0:
            out |= graph.downstream_of(base, node.downstream)
        return out
    if isinstance(node, Sinks):
        base = _evaluate(node.operand, graph, text)
        return base - _reaching(base, graph.downstream, reversed(graph.order))
    if isinstance(node, Roots):
        base = _evaluate(node.operand, graph, text)
        return base - _reaching(base, graph.upstream, graph.order)
    if isinstance(node, Not):
        return set(specs) - _evaluate(node.operand, graph, text)
    if isinstance(node, And):
        parts = [_evaluate(o, graph, text) for o in node.operands]
        return set.intersection(*parts)
    if isinstance(node, Or):
        return set().union(*(_evaluate(o, graph, text) for o in node.operands))
    raise TypeError(f"not a selection node: {node!r}")


def _reaching(base: set[str], adjacent: Mapping[str, tuple[str, ...]], order: Iterable[str]) -> set[str]:
    """The assets from which a walk along ``adjacent`` meets an asset of ``base``.

    ``order`` lists every asset after all of its ``adjacent`` ones, so one pass suffices.
    """
    reach: set[str] = set()
    for name in order:
        if any(other in base or other in reach for other in adjacent.get(name, ())):
            reach.add(name)
    return reach


def _has_tag(key: str, value: str | None) -> Callable[[Mapping[str, str]], bool]:
    if value is None and not _GLOB & set(key):
        return lambda tags: key in tags
    key_ok, value_ok = _matcher(key), _matcher(value if value is not None else "*")
    return lambda tags: any(key_ok(k) and value_ok(v) for k, v in tags.items())


def _matcher(pattern: str) -> Callable[[str], bool]:
    """Equality for plain text, a compiled glob for text with ``*`` or ``?``."""
    if not _GLOB & set(pattern):
        return lambda text: text == pattern
    glob = re.compile(translate(pattern))
    return lambda text: glob.match(text) is not None


def _unknown_error(graph: Graph, node: Name, text: str) -> SelectionError:
    specs = graph.specs.values()
    hint = closest(node.name, graph.specs)
    if hint:
        tail = f" Did you mean {hint!r}?"
    elif node.name in {s.group for s in specs}:
        tail = f" Did you mean the group, 'group:{node.name}'?"
    elif node.name in {k for s in specs for k in s.tags}:
        tail = f" Did you mean the tag, 'tag:{node.name}'?"
    elif node.name in {k for s in specs for k in s.kinds}:
        tail = f" Did you mean the kind, 'kind:{node.name}'?"
    elif node.name in _FUNCTIONS:
        tail = f" Did you mean the function, '{node.name}(*)'?"
    elif node.name.lower() in _KEYWORDS:
        tail = f" Did you mean {node.name.lower()!r}? Keywords are all lower or all upper case."
    elif graph.specs:
        tail = f" The assets are {_listing(graph.order)}."
    else:
        tail = " No assets are defined yet; define one with @asset or %%asset."
    return SelectionError(f"Selection {text!r} names no asset {node.name!r}.{tail}",
                          selection=text, position=node.position)


def _nothing_error(graph: Graph, node: Node, text: str) -> SelectionError:
    if not graph.specs:
        return SelectionError(f"Selection {text!r} matches no asset: no assets are defined yet; "
                              "define one with @asset or %%asset.", selection=text)
    groups = sorted({s.group for s in graph.specs.values()})
    tags = sorted({f"{k}={v}" for s in graph.specs.values() for k, v in s.tags.items()})
    hints = [h for h in (_did_you_mean(graph, n, groups) for n in _walk(node)) if h]
    message = (f"Selection {text!r} matches no asset.{''.join(' ' + h for h in hints[:1])} "
               f"Groups that exist: {_listing(groups)}; tags that exist: {_listing(tags) if tags else 'none'}.")
    return SelectionError(message, selection=text)


def _did_you_mean(graph: Graph, node: Node, groups: list[str]) -> str | None:
    """A hint for a group, tag key, kind or owner that no asset has."""
    specs = graph.specs.values()
    if isinstance(node, Group) and not _GLOB & set(node.group) and node.group not in groups:
        hint = closest(node.group, groups)
        return f"No asset is in group {node.group!r}" + (f"; did you mean 'group:{hint}'?" if hint else ".")
    if isinstance(node, Tag) and not _GLOB & set(node.key):
        keys = sorted({k for s in specs for k in s.tags})
        if node.key not in keys:
            hint = closest(node.key, keys)
            return f"No asset has the tag {node.key!r}" + (f"; did you mean 'tag:{hint}'?" if hint else ".")
    if isinstance(node, (Kind, Owner)):
        word, value = ("kind", node.kind) if isinstance(node, Kind) else ("owner", node.owner)
        have = sorted({v for s in specs for v in (s.kinds if word == "kind" else s.owners)})
        if not _GLOB & set(value) and value not in have:
            hint = closest(value, have)
            rest = (f"; did you mean '{word}:{_quote(hint)}'?" if hint else
                    f"; the {word}s are {_listing(have)}." if have else f"; no asset has {word}s.")
            return f"No asset has the {word} {value!r}{rest}"
    return None


def _walk(node: Node) -> Iterator[Node]:
    yield node
    if isinstance(node, Lineage):
        yield from _walk(node.target)
    elif isinstance(node, (Not, Sinks, Roots)):
        yield from _walk(node.operand)
    elif isinstance(node, (And, Or)):
        for o in node.operands:
            yield from _walk(o)


def _listing(names: list[str] | tuple[str, ...]) -> str:
    shown = ", ".join(names[:_LISTED])
    return shown + (f" and {len(names) - _LISTED} more" if len(names) > _LISTED else "")

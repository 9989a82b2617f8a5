"""Cell analysis: the names a cell reads before assigning them, and the cell compiled into a function.

A ``%%asset`` cell becomes ``def <name>(<upstream>...): <body>; return <last expression>`` so
the engine can pass upstream values as arguments. The analysis is a plain function over the
cell's AST (no IPython needed) so it is tested with a table of cases.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from nbflow.errors import DefinitionError

_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef,
           ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)


class _Reads(ast.NodeVisitor):
    """Walk statements in evaluation order: a name loaded while not yet bound is a read."""

    def __init__(self) -> None:
        self.bound: set[str] = set()
        self.reads: dict[str, None] = {}     # ordered set
        self.nested_free: dict[str, None] = {}

    # -- names
    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, ast.Load):
            if node.id not in self.bound:
                self.reads.setdefault(node.id)
        else:
            self.bound.add(node.id)

    # -- statements whose value is evaluated before their target
    def visit_Assign(self, node: ast.Assign) -> None:
        self.visit(node.value)
        for t in node.targets:
            self.visit(t)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        if node.value is not None:
            self.visit(node.value)
        self.visit(node.target)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        if isinstance(node.target, ast.Name):
            if node.target.id not in self.bound:
                self.reads.setdefault(node.target.id)
        else:
            self.visit(node.target)
        self.visit(node.value)
        if isinstance(node.target, ast.Name):
            self.bound.add(node.target.id)

    def visit_NamedExpr(self, node: ast.NamedExpr) -> None:
        self.visit(node.value)
        self.visit(node.target)

    def visit_For(self, node: ast.For | ast.AsyncFor) -> None:
        self.visit(node.iter)
        self.visit(node.target)
        for stmt in (*node.body, *node.orelse):
            self.visit(stmt)

    visit_AsyncFor = visit_For

    def visit_Import(self, node: ast.Import | ast.ImportFrom) -> None:
        for alias in node.names:
            if alias.name != "*":
                self.bound.add(alias.asname or alias.name.split(".")[0])

    visit_ImportFrom = visit_Import

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> None:
        if node.type is not None:
            self.visit(node.type)
        if node.name:
            self.bound.add(node.name)
        for stmt in node.body:
            self.visit(stmt)

    def visit_Global(self, node: ast.Global | ast.Nonlocal) -> None:
        return None

    visit_Nonlocal = visit_Global

    # -- nested scopes: what they read from outside counts once the whole cell is known
    def _nested(self, node: ast.AST, own: Iterable[str], body: Iterable[ast.AST]) -> None:
        inner = _Reads()
        inner.bound.update(own)
        for part in body:
            inner.visit(part)
        for name in (*inner.reads, *inner.nested_free):
            self.nested_free.setdefault(name)

    def _args(self, args: ast.arguments) -> list[str]:
        for d in (*args.defaults, *[d for d in args.kw_defaults if d is not None]):
            self.visit(d)
        every = [*args.posonlyargs, *args.args, *args.kwonlyargs]
        every += [a for a in (args.vararg, args.kwarg) if a is not None]
        return [a.arg for a in every]

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        for d in node.decorator_list:
            self.visit(d)
        own = self._args(node.args)
        self.bound.add(node.name)
        self._nested(node, [*own, node.name], node.body)

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Lambda(self, node: ast.Lambda) -> None:
        own = self._args(node.args)
        self._nested(node, own, [node.body])

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        for part in (*node.decorator_list, *node.bases, *[k.value for k in node.keywords]):
            self.visit(part)
        self.bound.add(node.name)
        self._nested(node, [node.name], node.body)

    def _comprehension(self, node: ast.ListComp | ast.SetComp | ast.DictComp | ast.GeneratorExp,
                       results: list[ast.AST]) -> None:
        # The first iterable is evaluated in the enclosing scope; the rest inside.
        first, *rest = node.generators
        self.visit(first.iter)
        inner = _Reads()
        inner.visit(first.target)
        for cond in first.ifs:
            inner.visit(cond)
        for gen in rest:
            inner.visit(gen.iter)
            inner.visit(gen.target)
            for cond in gen.ifs:
                inner.visit(cond)
        for r in results:
            inner.visit(r)
        for name in (*inner.reads, *inner.nested_free):
            if name not in self.bound:
                self.reads.setdefault(name)

    def visit_ListComp(self, node: ast.ListComp) -> None:
        self._comprehension(node, [node.elt])

    def visit_SetComp(self, node: ast.SetComp) -> None:
        self._comprehension(node, [node.elt])

    def visit_GeneratorExp(self, node: ast.GeneratorExp) -> None:
        self._comprehension(node, [node.elt])

    def visit_DictComp(self, node: ast.DictComp) -> None:
        self._comprehension(node, [node.key, node.value])


def parse_cell(source: str) -> ast.Module:
    """Parse plain Python cell text; a syntax error names the line."""
    try:
        return ast.parse(source)
    except SyntaxError as exc:
        raise DefinitionError(f"The cell has a syntax error on line {exc.lineno}: {exc.msg}. "
                              "Fix the cell and run it again.") from None


def names_read(source: str | ast.Module) -> list[str]:
    """Names the cell loads before it assigns them, in order of first use.

    Names a nested function, lambda or class reads count unless the cell binds them anywhere
    (then they refer to the cell's own variable when called).
    """
    tree = parse_cell(source) if isinstance(source, str) else source
    walker = _Reads()
    for stmt in tree.body:
        walker.visit(stmt)
    out = dict(walker.reads)
    for name in walker.nested_free:
        if name not in walker.bound:
            out.setdefault(name)
    return list(out)


def names_assigned(tree: ast.Module) -> set[str]:
    """Every name the cell binds at its top level (assignments, imports, defs, loop targets)."""
    walker = _Reads()
    for stmt in tree.body:
        walker.visit(stmt)
    return walker.bound


@dataclass(frozen=True)
class CellFunction:
    """A cell compiled into a function: its parameters are the upstream asset names."""

    fn: Callable[..., Any]
    params: tuple[str, ...]
    reads: tuple[str, ...]


def compile_cell(source: str, *, name: str, params: Iterable[str], namespace: dict[str, Any],
                 var: str | None = None, filename: str = "<cell>",
                 require_value: bool = True) -> CellFunction:
    """Compile ``source`` into ``def name(*params): body; return value``.

    The value is the last expression, or ``var`` when given (``require_value=False``: ``None``
    when the cell ends with a statement). Globals are ``namespace`` (the
    notebook's), so helpers and constants defined in other cells work. Line numbers and
    ``filename`` stay the cell's so a traceback shows the user's own lines. Names the cell
    reads before reassigning them that are not parameters become parameters with the
    current notebook value as default (Python would otherwise call them unbound locals).
    """
    tree = parse_cell(source)
    params = tuple(params)
    body: list[ast.stmt] = list(tree.body)
    if var is not None:
        if not var.isidentifier():
            raise DefinitionError(f"--var {var!r} is not a Python name; pass the variable that "
                                  "holds the value, e.g. --var df.")
        body.append(ast.Return(value=ast.Name(id=var, ctx=ast.Load())))
    elif body and isinstance(body[-1], ast.Expr):
        last = body[-1]
        assert isinstance(last, ast.Expr)
        body[-1] = ast.Return(value=last.value)
    elif not require_value:
        body.append(ast.Return(value=ast.Constant(value=None)))
    else:
        raise DefinitionError(f"The cell of asset {name!r} does not end with an expression, so "
                              "it has no value; end it with the value (e.g. `df`) or pass --var NAME.")
    for node in ast.walk(tree):
        if isinstance(node, (ast.Yield, ast.YieldFrom, ast.Await)) and not _inside_def(tree, node):
            raise DefinitionError(f"The cell of asset {name!r} uses yield or await at its top level; "
                                  "an asset cell must compute its value directly.")
    reads = names_read(tree)
    assigned = names_assigned(tree)
    shadowed = [n for n in reads if n in assigned and n not in params and n in namespace]
    missing = [n for n in reads if n in assigned and n not in params and n not in namespace]
    if missing:
        raise DefinitionError(f"The cell of asset {name!r} reads {missing[0]!r} before it assigns "
                              "it; assign it first or define it in an earlier cell.")
    args = ast.arguments(posonlyargs=[], args=[ast.arg(arg=p) for p in (*params, *shadowed)],
                         vararg=None, kwonlyargs=[], kw_defaults=[], kwarg=None,
                         defaults=[ast.Name(id=f"__nbflow_default_{n}", ctx=ast.Load())
                                   for n in shadowed])
    extra: dict[str, Any] = {"type_params": []} if sys.version_info >= (3, 12) else {}
    fndef = ast.FunctionDef(name=name, args=args, body=body or [ast.Pass()], decorator_list=[],
                            returns=None, **extra)
    module = ast.Module(body=[fndef], type_ignores=[])
    ast.copy_location(fndef, tree.body[0] if tree.body else fndef)
    ast.fix_missing_locations(module)
    code = compile(module, filename, "exec")
    scratch = dict(namespace)   # defaults are evaluated here; the function's globals stay live
    scratch.update({f"__nbflow_default_{n}": namespace[n] for n in shadowed})
    exec(code, scratch)  # noqa: S102 - defines the function compiled from the user's cell
    made = scratch[name]
    fn = type(made)(made.__code__, namespace, name, made.__defaults__, made.__closure__)
    fn.__qualname__ = name
    return CellFunction(fn=fn, params=params, reads=tuple(reads))


def _inside_def(tree: ast.Module, target: ast.AST) -> bool:
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)) and any(
                child is target for child in ast.walk(node)):
            return True
    return False


__all__ = ["CellFunction", "compile_cell", "names_assigned", "names_read", "parse_cell"]

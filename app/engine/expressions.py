"""The restricted evaluator through which every expression of a pathway goes.

Structure administrators write gateway conditions, timer values and service-task parameters;
SpiffWorkflow's own engine would run them with `eval` (DESIGN §6), so nothing of theirs ever
reaches Python's compiler. An expression is parsed with `ast` in "eval" mode, checked against
allow-lists (node kinds, functions, read-only methods, no name or attribute starting with "_"),
then interpreted node by node by simpleeval. Two layers on purpose: the static check gives the
designer a French message at deploy time, and simpleeval's own checks (`allowed_attrs` per type,
DISALLOW_METHODS, comprehension limit) still hold if the static check ever misses something.

    compile_check('evaluation_multidimensionnelle["gir"] <= 2')   # -> None (valid)
    evaluate('evaluation_multidimensionnelle["gir"] <= 2',
             {"evaluation_multidimensionnelle": {"gir": 2}})        # -> True
"""

import ast
import copy
import functools
import operator

import simpleeval

MAX_LENGTH = 2000  # characters of source
MAX_DEPTH = 50  # nesting of the syntax tree: keeps ast/simpleeval far from the recursion limit
MAX_EXPONENT = 100
MAX_POWER_BASE = 10**100
MAX_SEQUENCE = 10_000  # longest string/list that one operator may build
MAX_BUDGET = 100_000  # items all sequence-building operations of one evaluation may create

# Methods that only read. simpleeval's default list allows dict.clear/update/pop, which would
# let a condition empty the task data (names are copies anyway, see `evaluate`).
_SEQUENCE_READERS = frozenset({"count", "index"})
# fmt: off
READ_ONLY_ATTRS = {
    dict: frozenset({"get", "keys", "values", "items"}),
    list: _SEQUENCE_READERS,
    tuple: _SEQUENCE_READERS,
    str: _SEQUENCE_READERS
    | frozenset(
        {
            "lower", "upper", "casefold", "capitalize", "title", "strip", "lstrip", "rstrip",
            "startswith", "endswith", "find", "rfind", "split", "rsplit", "splitlines",
            "isdigit", "isdecimal", "isnumeric", "isalpha", "isalnum", "isspace", "islower",
            "isupper",
        }
    ),
}
# fmt: on
ALLOWED_ATTRIBUTES = frozenset().union(*READ_ONLY_ATTRS.values())
_SCALARS = (str, int, float, bool, type(None))


class ExpressionError(Exception):
    """An expression was refused or failed; `message` is French, for the pathway designer."""

    def __init__(self, message):
        super().__init__(message)
        self.message = message


class _Refused(Exception):
    """Raised by our operators and functions; its text is already French."""


def _to_str(value):
    # str() of a container could build gigabytes from a few shared references
    if not isinstance(value, _SCALARS):
        raise _Refused("str() n'accepte qu'une valeur simple (texte, nombre, booléen)")
    return str(value)


def _sum(values, start=0):
    # sum(lists, []) concatenates quadratically: numbers only
    if not isinstance(start, int | float):
        raise _Refused("sum() additionne des nombres uniquement")
    return sum(values, start)


FUNCTIONS = {
    "len": len, "min": min, "max": max, "abs": abs, "round": round, "int": int,
    "float": float, "str": _to_str, "bool": bool, "any": any, "all": all, "sum": _sum,
    "sorted": sorted,
}  # fmt: skip


def _power(a, b):
    if abs(b) > MAX_EXPONENT or abs(a) > MAX_POWER_BASE:
        raise _Refused(f"Puissance trop grande (exposant maximum {MAX_EXPONENT})")
    return a**b


def _modulo(a, b):
    # "%*d" % (10**9, 1) would build a gigabyte: no printf-style formatting
    if isinstance(a, str | bytes):
        raise _Refused("Le formatage de texte avec % n'est pas autorisé")
    return a % b


# Add and Mult are replaced by the budgeted methods of _Evaluator; no bitwise operators
_OPERATORS = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
    ast.Div: operator.truediv, ast.FloorDiv: operator.floordiv, ast.Mod: _modulo,
    ast.Pow: _power, ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt,
    ast.LtE: operator.le, ast.Gt: operator.gt, ast.GtE: operator.ge,
    ast.In: lambda x, y: x in y, ast.NotIn: lambda x, y: x not in y,
    ast.Is: lambda x, y: x is y, ast.IsNot: lambda x, y: x is not y,
    ast.Not: operator.not_, ast.USub: operator.neg, ast.UAdd: operator.pos,
}  # fmt: skip


def _too_long():
    return _Refused(f"Résultat trop long (maximum {MAX_SEQUENCE} éléments)")


class _Evaluator(simpleeval.EvalWithCompoundTypes):
    """simpleeval with our allow-lists, and a budget: every string, list or tuple that an
    operator or a call builds is charged, so that neither a comprehension over large data
    nor chained concatenations can make one evaluation allocate without bound."""

    def __init__(self, names):
        super().__init__(names=names, allowed_attrs=READ_ONLY_ATTRS)
        self.operators = {**_OPERATORS, ast.Add: self._add, ast.Mult: self._multiply}
        self.functions = dict(FUNCTIONS)  # the base class adds list/dict/set/tuple
        self.budget = MAX_BUDGET

    def _charge(self, result):
        if isinstance(result, str | list | tuple):
            if len(result) > MAX_SEQUENCE:
                raise _too_long()
            self.budget -= len(result)
            if self.budget < 0:
                raise _Refused("Expression trop coûteuse à évaluer")
        return result

    def _eval_call(self, node):
        return self._charge(super()._eval_call(node))

    def _add(self, a, b):
        return self._charge(a + b)

    def _multiply(self, a, b):
        if isinstance(a, list | tuple) or isinstance(b, list | tuple):
            raise _Refused("La répétition de listes n'est pas autorisée")
        if isinstance(a, str) or isinstance(b, str):
            text, times = (a, b) if isinstance(a, str) else (b, a)
            if isinstance(times, int) and len(text) * times > MAX_SEQUENCE:
                raise _too_long()
        return self._charge(a * b)


_OPERATOR_NODES = frozenset(_OPERATORS)
_ALLOWED_NODES = _OPERATOR_NODES | {
    ast.Expression, ast.BoolOp, ast.And, ast.Or, ast.BinOp, ast.UnaryOp, ast.Compare,
    ast.IfExp, ast.Call, ast.keyword, ast.Subscript, ast.Slice, ast.Attribute, ast.Name,
    ast.Load, ast.Store, ast.Constant, ast.Dict, ast.List, ast.Tuple, ast.ListComp,
    ast.DictComp, ast.GeneratorExp, ast.comprehension,
}  # fmt: skip
# French names of the constructions designers are most likely to try
_LABELS = {
    ast.Lambda: "fonction lambda",
    ast.JoinedStr: 'chaîne formatée f"…"',
    ast.FormattedValue: 'chaîne formatée f"…"',
    ast.NamedExpr: "affectation « := »",
    ast.Starred: "dépaquetage « * »",
    ast.Set: "ensemble { }",
    ast.SetComp: "ensemble en compréhension",
    ast.Await: "await",
    ast.Yield: "yield",
    ast.YieldFrom: "yield",
    ast.BitAnd: "opérateur « & »",
    ast.BitOr: "opérateur « | »",
    ast.BitXor: "opérateur « ^ »",
    ast.Invert: "opérateur « ~ »",
    ast.LShift: "opérateur « << »",
    ast.RShift: "opérateur « >> »",
    ast.MatMult: "opérateur « @ »",
}


def _check_node(node):
    """The French reason why `node` is not allowed, or None."""
    kind = type(node)
    if kind not in _ALLOWED_NODES:
        return f"Construction interdite : {_LABELS.get(kind, kind.__name__)}"
    if kind is ast.Name and node.id.startswith("_"):
        return f"Nom interdit : {node.id}"
    if kind is ast.Attribute:
        if node.attr.startswith("_"):
            return f"Nom interdit : {node.attr}"
        if node.attr not in ALLOWED_ATTRIBUTES:
            return f"Attribut interdit : {node.attr}"
    if kind is ast.Call:
        if isinstance(node.func, ast.Name):
            if node.func.id not in FUNCTIONS:
                return f"Fonction interdite : {node.func.id}"
        elif not isinstance(node.func, ast.Attribute):
            return "Appel interdit : seules les fonctions autorisées peuvent être appelées"
    if (kind is ast.keyword and node.arg is None) or (kind is ast.Dict and None in node.keys):
        return "Construction interdite : dépaquetage « ** »"
    if kind is ast.Constant and not isinstance(node.value, _SCALARS):
        return f"Constante interdite : {node.value!r}"
    return None


@functools.lru_cache(maxsize=2048)
def _compile(source):
    """(tree, error, loaded names, comprehension variables); cached because the same
    conditions are evaluated at every step of every instance."""
    try:
        tree = ast.parse(source, mode="eval")
    except SyntaxError as err:
        where = f" (colonne {err.offset})" if err.offset else ""
        return None, f"Expression invalide : syntaxe incorrecte{where}", frozenset(), frozenset()
    except (ValueError, RecursionError, MemoryError):
        return None, "Expression invalide", frozenset(), frozenset()
    loaded, bound = set(), set()
    stack = [(tree, 0)]
    while stack:  # iterative walk: a deep tree must not exhaust our own stack
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            return None, "Expression trop imbriquée", frozenset(), frozenset()
        error = _check_node(node)
        if error:
            return None, error, frozenset(), frozenset()
        if isinstance(node, ast.Name):
            (loaded if isinstance(node.ctx, ast.Load) else bound).add(node.id)
        # reversed: the first problem reported is the leftmost one
        stack.extend((child, depth + 1) for child in reversed(list(ast.iter_child_nodes(node))))
    error = _constant_error(tree.body)
    if error:
        return None, error, frozenset(), frozenset()
    return tree.body, None, frozenset(loaded - FUNCTIONS.keys()), frozenset(bound)


def _constant_error(root):
    """Evaluate the parts that read no data ("a" * 10**9, 9**9**9, 1 / 0) once, at check
    time, so that an expression bound to fail is refused when the pathway is deployed."""
    stack = [root]
    while stack:
        node = stack.pop()
        operation = ast.BinOp | ast.UnaryOp | ast.BoolOp | ast.Compare | ast.Call | ast.Subscript
        reads_data = any(
            isinstance(sub, ast.Name) and sub.id not in FUNCTIONS for sub in ast.walk(node)
        )
        if isinstance(node, operation) and not reads_data:
            try:
                _Evaluator({}).eval("", previously_parsed=node)
            except Exception as err:  # the same failures as in evaluate()
                return _explain(err, ast.unparse(node))
            continue
        stack.extend(ast.iter_child_nodes(node))
    return None


def _compiled(expression):
    if not isinstance(expression, str):
        raise ExpressionError("Expression invalide : du texte est attendu")
    source = expression.strip()
    if len(source) > MAX_LENGTH:
        raise ExpressionError(
            f"Expression trop longue ({len(source)} caractères, maximum {MAX_LENGTH})"
        )
    if not source:
        raise ExpressionError("Expression vide")
    tree, error, loaded, bound = _compile(source)
    if error:
        raise ExpressionError(error)
    return source, tree, loaded, bound


def compile_check(expression):
    """None if `expression` is valid and uses only what is allowed, else a French message.

    Static only: names are not resolved (see `references` for that)."""
    try:
        _compiled(expression)
    except ExpressionError as err:
        return err.message
    return None


def references(expression):
    """(free names, {(name, key)}) that a valid expression reads: the names it expects in
    its data (comprehension variables and functions excluded) and the constant keys it reads
    from them as `name["key"]` or `name.get("key")`. Lets the parser check form keys and
    fields at deploy time. Raises ExpressionError if the expression is not valid."""
    _, tree, loaded, bound = _compiled(expression)
    keys = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Subscript):
            target, key = node.value, node.slice
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "get"
            and node.args
        ):
            target, key = node.func.value, node.args[0]
        else:
            continue
        if (
            isinstance(target, ast.Name)
            and target.id not in bound
            and isinstance(key, ast.Constant)
            and isinstance(key.value, str)
        ):
            keys.add((target.id, key.value))
    return loaded - bound, keys


def evaluate(expression, names):
    """Evaluate `expression` against the mapping `names` (e.g. form key -> submitted data).

    Only the names the expression reads are deep-copied into its scope, so nothing it does can
    reach the caller's data (task data in the engine). Any failure raises ExpressionError
    with a French message; nothing else escapes. The message never quotes a value the
    expression read: it may be shown to people who may not see the data (issue 17)."""
    source, tree, loaded, _ = _compiled(expression)
    try:
        scope = {name: copy.deepcopy(names[name]) for name in loaded if name in names}
    except Exception:
        raise ExpressionError("Données illisibles pour l'expression") from None
    evaluator = _Evaluator(scope)
    try:
        return evaluator.eval(source, previously_parsed=tree)
    except Exception as err:  # every failure of a designer's expression becomes French
        raise ExpressionError(_explain(err, source)) from None


def _explain(err, source=""):
    """A French message for an exception raised while evaluating `source`: the kind of
    problem and the exception's type, never its text (Python quotes the values it met:
    "invalid literal for int() with base 10: 'what was typed'"). Names, attributes and
    keys are quoted only when they are written in `source`, the designer's own text."""
    kind = f" ({type(err).__name__})"
    if isinstance(err, _Refused):
        return str(err)  # ours: never a value
    if isinstance(err, simpleeval.NameNotDefined):
        return f"Nom inconnu : {err.name}"  # a name of the expression's syntax tree
    if isinstance(err, simpleeval.FunctionNotDefined):
        return f"Fonction interdite : {err.func_name}"
    if isinstance(err, simpleeval.AttributeDoesNotExist):
        return f"Attribut inconnu : {err.attr}"
    if isinstance(err, simpleeval.FeatureNotAvailable):
        return "Opération interdite" + kind
    if isinstance(err, simpleeval.NumberTooHigh | simpleeval.IterableTooLong | OverflowError):
        return "Résultat trop grand"
    if isinstance(err, KeyError):
        key = err.args[0] if err.args else None
        written = isinstance(key, str) and (repr(key) in source or f'"{key}"' in source)
        return f"Clé absente : {key!r}" if written else "Clé absente" + kind
    if isinstance(err, IndexError):
        return "Indice hors limites"
    if isinstance(err, ZeroDivisionError):
        return "Division par zéro"
    if isinstance(err, TypeError):
        return "Types de valeurs incompatibles" + kind
    if isinstance(err, ValueError):
        return "Valeur invalide" + kind
    if isinstance(err, RecursionError | MemoryError):
        return "Expression trop coûteuse à évaluer"
    return "Erreur d'évaluation" + kind

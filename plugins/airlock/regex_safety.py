"""Refuse regular expressions that can backtrack catastrophically (ReDoS), before they ever run.

Python's `re` backtracks: a pattern such as `(a+)+$` takes exponential time on `"a" * 30 + "!"`. The
log scan runs the spec's `logs.error_patterns` over thousands of log lines and the run's `version`
goes through `version_pattern`, so both are checked once, at load, on the parsed pattern
(`re._parser`, formerly sre_parse):

1. star height > 1: a repeated group (unbounded, or more than 2 times) that itself contains an
   unbounded repeat (or one of more than 8): `(a+)+`, `(a*)*`, `(\\w+\\s?)*`, `(x+y?){1,50}` - unless
   the group starts or ends with a delimiter no repeat inside it can match: `(-[a-z]+)*` is fine,
   `(-[a-z-]+)*` is not;
2. under such a repeat, an alternation whose branches can start with the same text: `(a|a)*`,
   `(\\d+|\\d)+`, `(-a|-a)*` - judged on the leading characters (up to 4 single-character atoms, else
   the first character), so `(POST|PUT)+` passes and `(ab|a.)+` is refused.

Possessive repeats (`a*+`) and atomic groups (`(?>...)`) never backtrack and are not counted. Bounded
small repeats such as `(\\.\\d+){0,2}` are fine. This is a static filter, not a proof: it refuses some
harmless patterns (rewrite them, e.g. with a possessive quantifier) and accepts patterns whose cost is
polynomial.
"""

from __future__ import annotations

import re
from re import _constants as sre_constants  # type: ignore[attr-defined]
from re import _parser as sre_parse  # type: ignore[attr-defined]
from typing import Any

_MAXREPEAT = sre_constants.MAXREPEAT
_REPEATS = {sre_constants.MAX_REPEAT, sre_constants.MIN_REPEAT}
_OUTER_MAX = 2  # a group repeated at most this often cannot blow up
_INNER_MAX = 8  # an inner repeat of at most this many is treated as bounded
# The characters the overlap test tries: ASCII and a few beyond it.
_UNIVERSE = [chr(c) for c in range(128)] + ["é", "ß", "Ā", "я", "中", "\u00a0", "\u2028"]


class UnsafeRegex(ValueError):
    """The pattern is valid but can take exponential time on some inputs."""


def check_regex(pattern: str, what: str = "pattern") -> re.Pattern[str]:
    """Compile `pattern`; ValueError (re.error's message) if invalid, UnsafeRegex if it can blow up."""
    if not isinstance(pattern, str):
        raise ValueError(f"{what} {pattern!r} is not a string")
    try:
        compiled = re.compile(pattern)
        tree = sre_parse.parse(pattern)
    except re.error as exc:
        raise ValueError(f"{what} {pattern!r} is not a valid regular expression: {exc}") from None
    except RecursionError:
        raise UnsafeRegex(f"{what} is nested too deeply to be checked") from None
    problem = _find_problem(list(tree), tree.state.flags, inside_repeat=False)
    if problem:
        raise UnsafeRegex(
            f"{what} {pattern!r} can backtrack catastrophically ({problem}); rewrite it without a repeated "
            "group that contains a repeat (or an alternation whose branches start alike), e.g. "
            "'(a+)+' -> 'a+', or use a possessive quantifier / atomic group"
        )
    return compiled


def _is_big(max_count: int, limit: int) -> bool:
    return bool(max_count == _MAXREPEAT or max_count > limit)


def _find_problem(
    items: list[Any], flags: int, inside_repeat: bool, nested: bool | None = None
) -> str | None:
    """`inside_repeat`: under a repeat of more than 2 (alternations must not overlap); `nested`: under
    such a repeat that is not delimited (inner repeats are refused)."""
    nested = inside_repeat if nested is None else nested
    for op, av in items:
        if op in _REPEATS:
            _min, max_count, body = av
            body_items = list(body)
            if nested and _is_big(max_count, _INNER_MAX):
                return "a repeat inside a repeated group (nested quantifiers)"
            big = _is_big(max_count, _OUTER_MAX)
            found = _find_problem(
                body_items, flags, inside_repeat or big, nested or (big and not _delimited(body_items, flags))
            )
            if found:
                return found
        elif op == sre_constants.SUBPATTERN:
            _group, add_flags, del_flags, body = av
            found = _find_problem(list(body), (flags | add_flags) & ~del_flags, inside_repeat, nested)
            if found:
                return found
        elif op == sre_constants.BRANCH:
            branches = [list(b) for b in av[1]]
            if inside_repeat and _branches_overlap(branches, flags):
                return "an alternation whose branches can match the same text, inside a repeat"
            for branch in branches:
                found = _find_problem(branch, flags, inside_repeat, nested)
                if found:
                    return found
        elif op in (sre_constants.ASSERT, sre_constants.ASSERT_NOT):
            found = _find_problem(list(av[1]), flags, inside_repeat, nested)
            if found:
                return found
        elif op == sre_constants.GROUPREF_EXISTS:
            for body in av[1:]:
                if body is not None:
                    found = _find_problem(list(body), flags, inside_repeat, nested)
                    if found:
                        return found
        # ATOMIC_GROUP and POSSESSIVE_REPEAT never backtrack into their body: not inspected.
    return None


def _delimited(body: list[Any], flags: int) -> bool:
    """`(-[a-z]+)*`, `([a-z]+,)*`: each iteration starts (or ends) with a character no repeat inside the
    group can match, so there is one way only to split a text into iterations."""
    while len(body) == 1 and body[0][0] == sre_constants.SUBPATTERN:
        _group, add_flags, del_flags, inner = body[0][1]
        body, flags = list(inner), (flags | add_flags) & ~del_flags
    if len(body) < 2:
        return False
    repeated = _repeated_chars(body, flags, inside=False)
    for op, av in (body[0], body[-1]):
        if op in (sre_constants.LITERAL, sre_constants.NOT_LITERAL, sre_constants.IN):
            if not {c for c in _UNIVERSE if _matches_char(op, av, c, flags)} & repeated:
                return True
    return False


def _repeated_chars(items: list[Any], flags: int, inside: bool) -> set[str]:
    """Every character some repeat (with max > 1) in `items` can consume."""
    out: set[str] = set()
    for op, av in items:
        if op in _REPEATS or op == sre_constants.POSSESSIVE_REPEAT:
            out |= _repeated_chars(list(av[2]), flags, inside or av[1] > 1)
        elif op == sre_constants.SUBPATTERN:
            out |= _repeated_chars(list(av[3]), (flags | av[1]) & ~av[2], inside)
        elif op == sre_constants.BRANCH:
            for branch in av[1]:
                out |= _repeated_chars(list(branch), flags, inside)
        elif op == sre_constants.ATOMIC_GROUP:
            out |= _repeated_chars(list(av), flags, inside)
        elif inside and op in (
            sre_constants.LITERAL,
            sre_constants.NOT_LITERAL,
            sre_constants.ANY,
            sre_constants.IN,
        ):
            out |= {c for c in _UNIVERSE if _matches_char(op, av, c, flags)}
        elif inside and op not in (sre_constants.AT, sre_constants.ASSERT, sre_constants.ASSERT_NOT):
            out |= set(_UNIVERSE)  # back references and the like: assume anything
    return out


def _branches_overlap(branches: list[list[Any]], flags: int) -> bool:
    """Can two branches match the same text? Approximated by their leading characters: `(POST|PUT)`
    differ at the second one, `(\\d+|\\d)` and `(x|x)` do not; two branches matching "" overlap."""
    leads = [(_prefix(branch, flags), *_first_chars(branch, flags)) for branch in branches]
    for i, (prefix_a, first_a, empty_a) in enumerate(leads):
        for prefix_b, first_b, empty_b in leads[:i]:
            if empty_a and empty_b:
                return True
            if prefix_a and prefix_b:
                if all(a & b for a, b in zip(prefix_a, prefix_b, strict=False)):
                    return True
            elif first_a & first_b:
                return True
    return False


def _prefix(items: list[Any], flags: int, limit: int = 4) -> list[set[str]]:
    """The character sets of the leading single-character atoms (at most `limit`)."""
    out: list[set[str]] = []
    for op, av in items[:limit]:
        if op not in (sre_constants.LITERAL, sre_constants.NOT_LITERAL, sre_constants.ANY, sre_constants.IN):
            break
        out.append({c for c in _UNIVERSE if _matches_char(op, av, c, flags)})
    return out


def _first_chars(items: list[Any], flags: int) -> tuple[set[str], bool]:
    """The characters a sequence can start with, and whether it can match the empty string."""
    out: set[str] = set()
    for op, av in items:
        first, nullable = _first_of(op, av, flags)
        out |= first
        if not nullable:
            return out, False
    return out, True


def _first_of(op: Any, av: Any, flags: int) -> tuple[set[str], bool]:
    if op in (sre_constants.AT, sre_constants.ASSERT, sre_constants.ASSERT_NOT):
        return set(), True
    if op in _REPEATS or op == sre_constants.POSSESSIVE_REPEAT:
        first, nullable = _first_chars(list(av[2]), flags)
        return first, nullable or av[0] == 0
    if op == sre_constants.SUBPATTERN:
        return _first_chars(list(av[3]), (flags | av[1]) & ~av[2])
    if op == sre_constants.ATOMIC_GROUP:
        return _first_chars(list(av), flags)
    if op == sre_constants.BRANCH:
        out: set[str] = set()
        any_nullable = False
        for branch in av[1]:
            first, nullable = _first_chars(list(branch), flags)
            out |= first
            any_nullable = any_nullable or nullable
        return out, any_nullable
    if op in (sre_constants.LITERAL, sre_constants.NOT_LITERAL, sre_constants.ANY, sre_constants.IN):
        return {c for c in _UNIVERSE if _matches_char(op, av, c, flags)}, False
    # back references, conditionals, ...: assume they can start with anything
    return set(_UNIVERSE), True


def _matches_char(op: Any, av: Any, char: str, flags: int) -> bool:
    fold = bool(flags & re.IGNORECASE)
    candidates = {c for c in (char, char.lower(), char.upper()) if len(c) == 1} if fold else {char}
    if op == sre_constants.LITERAL:
        return chr(av) in candidates
    if op == sre_constants.NOT_LITERAL:
        return chr(av) not in candidates
    if op == sre_constants.ANY:
        return bool(flags & re.DOTALL) or char != "\n"
    return any(_in_set(av, c) for c in candidates)


_CATEGORIES: dict[Any, str] = {
    sre_constants.CATEGORY_DIGIT: r"\d",
    sre_constants.CATEGORY_NOT_DIGIT: r"\D",
    sre_constants.CATEGORY_SPACE: r"\s",
    sre_constants.CATEGORY_NOT_SPACE: r"\S",
    sre_constants.CATEGORY_WORD: r"\w",
    sre_constants.CATEGORY_NOT_WORD: r"\W",
}


def _in_set(items: list[Any], char: str) -> bool:
    negate = False
    hit = False
    for op, av in items:
        if op == sre_constants.NEGATE:
            negate = True
        elif op == sre_constants.LITERAL:
            hit = hit or chr(av) == char
        elif op == sre_constants.RANGE:
            hit = hit or av[0] <= ord(char) <= av[1]
        elif op == sre_constants.CATEGORY:
            pattern = _CATEGORIES.get(av)
            hit = hit or (pattern is None or re.fullmatch(pattern, char) is not None)
    return hit != negate

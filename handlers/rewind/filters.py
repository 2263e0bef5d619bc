"""`--where`: which changed keys a rewind touches, in a small language over a change's images.

    NewImage.updatedBy = "orders-svc@2.3.1"
    OldImage.total = 12.50 and begins_with(Keys.pk, "tenant#42")
    exists(NewImage.flag) and not exists(OldImage.flag)
    NewImage.updatedBy = "svc@2.3.1" or not exists(NewImage.updatedBy)   (its deletes too)
    NewImage.address.city = "Berlin"                 (a member of a map)
    NewImage.`order-status` = "PAID"                  (a name with other characters)

Grammar (keywords and image names case-sensitive, whitespace free):

    filter  := all ("or" all)*
    all     := term ("and" term)*
    term    := "not" term | "(" filter ")" | exists | begins | compare
    exists  := "exists" "(" path ")"
    begins  := "begins_with" "(" path "," STRING ")"
    compare := path "=" literal | path "!=" literal
    path    := ("NewImage" | "OldImage" | "Keys") ("." NAME)+
    literal := STRING | NUMBER | "true" | "false" | "null"

A comparison is typed as DynamoDB types it: `"5"` matches only a string, `5` only a number
(compared by value: `12.50` equals `12.5`), `true`/`false` a boolean, `null` a NULL. A path into
an image that does not exist (no NewImage for an item deleted in the window) or to an attribute
that is not there matches nothing, and `!=` is `not (... = ...)`. `FilterError` names the
position of a syntax error. A hand-written recursive-descent parser: the Lambda package carries
no parser library, and nothing here is ever evaluated as Python.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from handlers.exports.incremental import Change

IMAGES = ("NewImage", "OldImage", "Keys")

Predicate = Callable[[Change], bool]


class FilterError(ValueError):
    """A `--where` filter that does not parse; `position` is the 0-based offset of the problem."""

    def __init__(self, text: str, position: int, reason: str) -> None:
        super().__init__(f"--where, at position {position + 1}: {reason}\n  {text}\n  {' ' * position}^")
        self.text = text
        self.position = position
        self.reason = reason


_TOKEN = re.compile(
    r"""\s*(?:
      (?P<string>"(?:[^"\\]|\\.)*")
    | (?P<number>-?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)
    | (?P<quoted>`[^`]*`)
    | (?P<word>[A-Za-z_][A-Za-z0-9_\-]*)
    | (?P<op>!=|=|\(|\)|,|\.)
    )""",
    re.VERBOSE,
)


@dataclass(frozen=True)
class _Token:
    kind: str  # string, number, quoted, word, op, end
    text: str
    position: int


def _tokens(text: str) -> list[_Token]:
    out: list[_Token] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            start = len(text) - len(text[pos:].lstrip())
            if text[start] == '"':
                raise FilterError(text, start, 'unterminated string (a closing " is missing)')
            if text[start] == "`":
                raise FilterError(text, start, "unterminated `name` (a closing ` is missing)")
            raise FilterError(text, start, f"unexpected character {text[start]!r}")
        kind = match.lastgroup or "op"
        start = match.start(kind)
        out.append(_Token(kind, match.group(kind), start))
        pos = match.end()
    out.append(_Token("end", "", len(text)))
    return out


def _unescape(token: _Token, text: str) -> str:
    body = token.text[1:-1]
    out, i = [], 0
    while i < len(body):
        ch = body[i]
        if ch == "\\":
            nxt = body[i + 1] if i + 1 < len(body) else ""
            if nxt not in ('"', "\\"):
                raise FilterError(text, token.position + 1 + i, 'only \\" and \\\\ are escapes in a string')
            out.append(nxt)
            i += 2
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def _number(text: str) -> Decimal | None:
    try:
        return Decimal(text)
    except InvalidOperation:
        return None


def _lookup(change: Change, image: str, names: tuple[str, ...]) -> Any:
    """The attribute value at `image.names...` (low-level, `{"S": ...}`), or None."""
    item = change.new_image if image == "NewImage" else change.old_image if image == "OldImage" else change.keys
    if item is None:
        return None
    value: Any = item.get(names[0])
    for name in names[1:]:
        if not isinstance(value, dict) or "M" not in value:
            return None
        value = value["M"].get(name)
    return value


def _equals(value: Any, literal: tuple[str, Any]) -> bool:
    if not isinstance(value, dict) or len(value) != 1:
        return False
    kind, expected = literal
    ((actual_kind, actual),) = value.items()
    if actual_kind != kind:
        return False
    if kind == "N":
        number = _number(actual)
        return number is not None and number == expected
    return bool(actual == expected)


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokens(text)
        self.i = 0

    @property
    def tok(self) -> _Token:
        return self.tokens[self.i]

    def error(self, reason: str, token: _Token | None = None) -> FilterError:
        token = token or self.tok
        return FilterError(self.text, token.position, reason)

    def take(self, kind: str, text: str | None = None, what: str | None = None) -> _Token:
        tok = self.tok
        if tok.kind != kind or (text is not None and tok.text != text):
            found = "the end of the filter" if tok.kind == "end" else repr(tok.text)
            raise self.error(f"expected {what or repr(text)}, found {found}")
        self.i += 1
        return tok

    def at(self, kind: str, text: str | None = None) -> bool:
        return self.tok.kind == kind and (text is None or self.tok.text == text)

    def parse(self) -> Predicate:
        if self.at("end"):
            raise self.error("the filter is empty")
        pred = self.filter()
        if not self.at("end"):
            raise self.error(f"expected 'and', 'or' or the end of the filter, found {self.tok.text!r}")
        return pred

    def filter(self) -> Predicate:
        alternatives = [self.conjunction()]
        while self.at("word", "or"):
            self.i += 1
            alternatives.append(self.conjunction())
        if len(alternatives) == 1:
            return alternatives[0]
        return lambda change: any(a(change) for a in alternatives)

    def conjunction(self) -> Predicate:
        terms = [self.term()]
        while self.at("word", "and"):
            self.i += 1
            terms.append(self.term())
        if len(terms) == 1:
            return terms[0]
        return lambda change: all(t(change) for t in terms)

    def term(self) -> Predicate:
        if self.at("word", "not"):
            self.i += 1
            inner = self.term()
            return lambda change: not inner(change)
        if self.at("op", "("):
            self.i += 1
            inner = self.filter()
            self.take("op", ")")
            return inner
        if self.at("word", "exists"):
            self.i += 1
            self.take("op", "(")
            image, names = self.path()
            self.take("op", ")")
            return lambda change: _lookup(change, image, names) is not None
        if self.at("word", "begins_with"):
            return self.begins_with()
        return self.compare()

    def begins_with(self) -> Predicate:
        self.i += 1
        self.take("op", "(")
        image, names = self.path()
        self.take("op", ",")
        prefix = _unescape(self.take("string", what="a string in double quotes"), self.text)
        self.take("op", ")")

        def pred(change: Change) -> bool:
            value = _lookup(change, image, names)
            return isinstance(value, dict) and isinstance(value.get("S"), str) and value["S"].startswith(prefix)

        return pred

    def compare(self) -> Predicate:
        image, names = self.path()
        if not (self.at("op", "=") or self.at("op", "!=")):
            raise self.error("expected '=' or '!=' after the attribute path")
        negate = self.tok.text == "!="
        self.i += 1
        literal = self.literal()
        if negate:
            return lambda change: not _equals(_lookup(change, image, names), literal)
        return lambda change: _equals(_lookup(change, image, names), literal)

    def path(self) -> tuple[str, tuple[str, ...]]:
        start = self.tok
        if not (start.kind == "word" and start.text in IMAGES):
            raise self.error(f"expected an attribute path starting with {', '.join(IMAGES)} (e.g. NewImage.status)")
        self.i += 1
        names: list[str] = []
        while self.at("op", "."):
            self.i += 1
            tok = self.tok
            if tok.kind == "word":
                names.append(tok.text)
            elif tok.kind == "quoted" and len(tok.text) > 2:
                names.append(tok.text[1:-1])
            else:
                raise self.error("expected an attribute name after '.' (write `odd-name` in backquotes)")
            self.i += 1
        if not names:
            raise self.error(f"expected '.' and an attribute name after {start.text}")
        return start.text, tuple(names)

    def literal(self) -> tuple[str, Any]:
        tok = self.tok
        self.i += 1
        if tok.kind == "string":
            return "S", _unescape(tok, self.text)
        if tok.kind == "number":
            number = _number(tok.text)
            if number is None:  # the token pattern only lets numbers through; kept for safety
                raise self.error(f"{tok.text!r} is not a number", tok)
            return "N", number
        if tok.kind == "word" and tok.text in ("true", "false"):
            return "BOOL", tok.text == "true"
        if tok.kind == "word" and tok.text == "null":
            return "NULL", True
        found = "the end of the filter" if tok.kind == "end" else repr(tok.text)
        raise self.error(f'expected a value ("text", a number, true, false or null), found {found}', tok)


@dataclass(frozen=True)
class Filter:
    """A parsed `--where`: `matches(change)` says whether the rewind touches the change's key."""

    text: str
    matches: Predicate

    def __call__(self, change: Change) -> bool:
        return self.matches(change)


def parse_filter(text: str) -> Filter:
    """Parse a `--where` filter; FilterError names the position of the first problem."""
    return Filter(text=text.strip(), matches=_Parser(text).parse())

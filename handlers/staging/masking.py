"""Masking of personal data in DynamoDB items (low-level attribute format), before staging.

Pure: no AWS calls here except `mask_export`, which reads an export and writes the masked copy
through `handlers.exports`. Rules name an attribute path per table (the rule language,
`conventions.masking`, is shared with the stack config) and one action:

    drop     remove the attribute (or list element)
    redact   replace with a fixed value of the same type (default "REDACTED")
    hash     keyed HMAC-SHA256, type-preserving: S -> 64 hex chars, N -> a number (<= 38 digits),
             B -> 32 bytes, sets element-wise, maps/lists leaf-wise. Stable for one key, so the
             same value hashes the same in every table and every run and joins still work.
    fake     a deterministic fake of the same type (an e-mail stays an e-mail-looking string,
             digits stay digits of the same length, a Title Case name stays Title Case).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from conventions.masking import WILDCARD, MaskingError, MaskRule, Segment, parse_path, validate_rules

Item = dict[str, Any]
DEFAULT_REDACTION = "REDACTED"
# DynamoDB's item size limit (attribute names plus values).
MAX_ITEM_BYTES = 400 * 1024


# -- value transforms -------------------------------------------------------------------------


@dataclass(frozen=True)
class _Keyed:
    key: bytes

    def digest(self, tag: str, data: bytes) -> bytes:
        # The type tag separates domains: S "1" and N "1" are different values.
        return hmac.new(self.key, tag.encode() + b"\x00" + data, hashlib.sha256).digest()


def _canonical_number(n: str) -> str:
    """DynamoDB compares numbers by value: 1, 1.0 and 1e0 are one number and must hash alike."""
    try:
        d = Decimal(n).normalize()
    except InvalidOperation:
        raise MaskingError(f"not a DynamoDB number: {n!r}") from None
    return "0" if d.is_zero() else format(d, "f")


def _b_raw(value: bytes | str) -> bytes:
    # Exports carry binary as base64 text; boto3's low-level client as bytes. Both are accepted
    # and the representation is kept.
    return base64.b64decode(value) if isinstance(value, str) else bytes(value)


def _b_like(original: bytes | str, raw: bytes) -> bytes | str:
    return base64.b64encode(raw).decode("ascii") if isinstance(original, str) else raw


def _digest_number(d: bytes) -> str:
    # 38 significant digits is DynamoDB's number precision.
    return str(int.from_bytes(d, "big") % 10**38)


def hash_value(av: Mapping[str, Any], key: bytes) -> dict[str, Any]:  # noqa: PLR0911 (one return per DynamoDB type)
    """HMAC-SHA256 of one attribute value, keeping its type (see module docstring)."""
    k = _Keyed(key)
    ((typ, val),) = av.items()
    if typ == "S":
        return {"S": k.digest("S", val.encode()).hex()}
    if typ == "N":
        return {"N": _digest_number(k.digest("N", _canonical_number(val).encode()))}
    if typ == "B":
        return {"B": _b_like(val, k.digest("B", _b_raw(val)))}
    if typ == "SS":
        return {"SS": sorted({k.digest("S", v.encode()).hex() for v in val})}
    if typ == "NS":
        out = {_digest_number(k.digest("N", _canonical_number(v).encode())) for v in val}
        return {"NS": sorted(out)}
    if typ == "BS":
        return {"BS": [_b_like(v, k.digest("B", _b_raw(v))) for v in val]}
    if typ == "M":
        return {"M": {name: hash_value(v, key) for name, v in val.items()}}
    if typ == "L":
        return {"L": [hash_value(v, key) for v in val]}
    # BOOL and NULL carry no personal data worth hashing (two values, one value).
    return dict(av)


def redact_value(av: Mapping[str, Any], replacement: str | None) -> dict[str, Any]:  # noqa: PLR0911 (one return per DynamoDB type)
    """A fixed value of the same type."""
    text = DEFAULT_REDACTION if replacement is None else replacement
    try:
        number = _canonical_number(text)
    except MaskingError:
        number = "0"
    ((typ, _),) = av.items()
    if typ == "S":
        return {"S": text}
    if typ == "N":
        return {"N": number}
    if typ == "B":
        return {"B": _b_like(av["B"], text.encode())}
    if typ == "SS":
        return {"SS": [text]}
    if typ == "NS":
        return {"NS": [number]}
    if typ == "BS":
        return {"BS": [_b_like(av["BS"][0], text.encode())]}
    if typ == "M":
        return {"M": {}}
    if typ == "L":
        return {"L": []}
    if typ == "BOOL":
        return {"BOOL": False}
    return {"NULL": True}


_WORDS = [
    "alder",
    "aspen",
    "birch",
    "cedar",
    "elm",
    "fir",
    "hazel",
    "juniper",
    "larch",
    "linden",
    "maple",
    "oak",
    "olive",
    "pine",
    "poplar",
    "rowan",
    "spruce",
    "willow",
    "yew",
    "acacia",
]


class _Stream:
    """Deterministic pseudo-random stream from an HMAC of the original value."""

    def __init__(self, seed: bytes):
        self.seed = seed
        self.counter = 0
        self.buf = b""

    def take(self, n: int) -> bytes:
        while len(self.buf) < n:
            self.buf += hashlib.sha256(self.seed + self.counter.to_bytes(8, "big")).digest()
            self.counter += 1
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def below(self, n: int) -> int:
        return int.from_bytes(self.take(4), "big") % n


def _fake_string(s: str, r: _Stream) -> str:
    if not s:
        return s
    if "@" in s:
        local = f"{_WORDS[r.below(len(_WORDS))]}.{r.take(4).hex()}"
        return f"{local}@example.com"
    if s.isdigit():
        return "".join(str(r.below(10)) for _ in s)
    words: list[str] = []
    while sum(len(w) + 1 for w in words) < len(s):
        words.append(_WORDS[r.below(len(_WORDS))])
    out = " ".join(words)
    return out.title() if s.istitle() else out


def _fake_number(n: str, r: _Stream) -> str:
    d = Decimal(_canonical_number(n))
    sign = "-" if d < 0 else ""
    int_digits = max(1, len(str(abs(int(d)))))
    digits = "".join(str(r.below(10)) for _ in range(int_digits)).lstrip("0") or "0"
    exp = d.as_tuple().exponent
    frac_len = -exp if isinstance(exp, int) and exp < 0 else 0
    frac = "".join(str(r.below(10)) for _ in range(frac_len))
    return _canonical_number(f"{sign}{digits}" + (f".{frac}" if frac else ""))


def fake_value(av: Mapping[str, Any], key: bytes) -> dict[str, Any]:  # noqa: PLR0911 (one return per DynamoDB type)
    """A deterministic fake of the same type: the same input and key always give the same fake."""
    k = _Keyed(key)
    ((typ, val),) = av.items()

    def stream(tag: str, data: bytes) -> _Stream:
        return _Stream(k.digest("fake-" + tag, data))

    if typ == "S":
        return {"S": _fake_string(val, stream("S", val.encode()))}
    if typ == "N":
        return {"N": _fake_number(val, stream("N", _canonical_number(val).encode()))}
    if typ == "B":
        raw = _b_raw(val)
        return {"B": _b_like(val, stream("B", raw).take(len(raw)))}
    if typ in ("SS", "NS", "BS"):
        one = {"SS": "S", "NS": "N", "BS": "B"}[typ]
        faked = [fake_value({one: v}, key)[one] for v in val]
        distinct = {_set_key(v) for v in faked}
        # A set must stay a set of distinct values; fakes can collide, hashes (practically) cannot.
        return {typ: faked} if len(distinct) == len(faked) else hash_value(av, key)
    if typ == "M":
        return {"M": {name: fake_value(v, key) for name, v in val.items()}}
    if typ == "L":
        return {"L": [fake_value(v, key) for v in val]}
    if typ == "BOOL":
        return {"BOOL": bool(stream("BOOL", str(val).encode()).below(2))}
    return dict(av)


def _set_key(v: Any) -> Any:
    return _b_raw(v) if isinstance(v, bytes) else v


# -- items ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Compiled:
    segments: tuple[Segment, ...]
    transform: Callable[[Mapping[str, Any]], dict[str, Any]] | None  # None = drop


class Masker:
    """Compiled rules of one table; `mask(item)` returns a new, masked item."""

    def __init__(self, rules: Iterable[MaskRule], key: bytes, key_attributes: Mapping[str, str] | None = None):
        rules = list(rules)
        problems = validate_rules(rules, key_attributes or {})
        if problems:
            raise MaskingError("; ".join(problems))
        if any(r.action in ("hash", "fake") for r in rules) and not key:
            raise MaskingError("hash and fake need a masking key (Pulumi secret safetynet:maskingKey)")
        self.key_attributes = dict(key_attributes or {})
        self._rules: list[_Compiled] = []
        for r in rules:
            transform: Callable[[Mapping[str, Any]], dict[str, Any]] | None
            if r.action == "drop":
                transform = None
            elif r.action == "redact":
                transform = _bind_redact(r.value)
            elif r.action == "hash":
                transform = _bind(hash_value, key)
            else:
                transform = _bind(fake_value, key)
            self._rules.append(_Compiled(parse_path(r.path), transform))

    @property
    def empty(self) -> bool:
        """No rules: items pass through unchanged."""
        return not self._rules

    def mask(self, item: Mapping[str, Any]) -> Item:
        """The masked copy of one item (the input is not modified)."""
        out = _deep_copy(item)
        for rule in self._rules:
            _apply(out, rule.segments, rule.transform, is_map=True)
        for name, typ in self.key_attributes.items():
            av = out.get(name)
            if av is not None and typ not in av:
                raise MaskingError(f"masking changed the type of key attribute '{name}' (must stay {typ})")
        size = item_size(out)
        if size > MAX_ITEM_BYTES:
            raise MaskingError(
                f"a masked item is {size} bytes, above DynamoDB's 400 KB limit; "
                "use redact or drop for its largest masked attributes"
            )
        return out

    def mask_all(self, items: Iterable[Mapping[str, Any]]) -> Iterator[Item]:
        """Mask a stream of items lazily."""
        for it in items:
            yield self.mask(it)


def _bind(fn: Callable[[Mapping[str, Any], bytes], dict[str, Any]], key: bytes) -> Callable[..., dict[str, Any]]:
    return lambda av: fn(av, key)


def _bind_redact(value: str | None) -> Callable[..., dict[str, Any]]:
    return lambda av: redact_value(av, value)


def _deep_copy(v: Any) -> Any:
    if isinstance(v, dict):
        return {k: _deep_copy(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_deep_copy(x) for x in v]
    return v


def _apply(  # noqa: PLR0912 (maps, lists, wildcards: one walk)
    container: Any,
    segments: tuple[Segment, ...],
    transform: Callable[[Mapping[str, Any]], dict[str, Any]] | None,
    *,
    is_map: bool,
) -> None:
    """Walk `segments` inside a map (item or M value) or a list (L value); a path that does not
    exist in this item is left alone (items of one table differ)."""
    seg, rest = segments[0], segments[1:]
    if is_map:
        if not isinstance(seg, str) or seg == WILDCARD or seg not in container:
            return
        targets: list[Any] = [seg]
    elif seg == WILDCARD:
        targets = list(range(len(container)))
    elif isinstance(seg, int) and seg < len(container):
        targets = [seg]
    else:
        return
    if not rest:
        if transform is None:
            for t in sorted(targets, key=lambda x: x if isinstance(x, int) else 0, reverse=True):
                del container[t]
        else:
            for t in targets:
                container[t] = transform(container[t])
        return
    for t in targets:
        av = container[t]
        if isinstance(rest[0], str) and rest[0] != WILDCARD and "M" in av:
            _apply(av["M"], rest, transform, is_map=True)
        elif (not isinstance(rest[0], str) or rest[0] == WILDCARD) and "L" in av:
            _apply(av["L"], rest, transform, is_map=False)


def _value_size(av: Mapping[str, Any]) -> int:  # noqa: PLR0911 (one return per DynamoDB type)
    ((typ, val),) = av.items()
    if typ == "S":
        return len(val.encode())
    if typ == "N":
        return len(val.lstrip("-").replace(".", "")) // 2 + 2
    if typ == "B":
        return len(_b_raw(val))
    if typ == "SS":
        return sum(len(v.encode()) for v in val)
    if typ == "NS":
        return sum(len(v) // 2 + 2 for v in val)
    if typ == "BS":
        return sum(len(_b_raw(v)) for v in val)
    if typ == "M":
        return 3 + sum(len(k.encode()) + _value_size(v) + 1 for k, v in val.items())
    if typ == "L":
        return 3 + sum(_value_size(v) + 1 for v in val)
    return 1


def item_size(item: Mapping[str, Any]) -> int:
    """DynamoDB's item size (names plus values), as documented in "Item sizes and formats"."""
    return sum(len(name.encode()) + _value_size(av) for name, av in item.items())


def masking_key(secret: str | bytes) -> bytes:
    """The HMAC key from the `safetynet:maskingKey` secret (any string, at least 16 bytes)."""
    raw = secret.encode() if isinstance(secret, str) else bytes(secret)
    if len(raw) < 16:
        raise MaskingError("safetynet:maskingKey must be at least 16 bytes; generate one with `openssl rand -hex 32`")
    return raw


# -- masked copies of exports -------------------------------------------------------------------
# The masked copy is a new export in the same layout (same ExportId, table ARN and export time),
# so every reader, validator and loader treats it like the original.


def mask_export(
    s3: Any,
    src_ref: Any,
    dst_bucket: str,
    dst_prefix: str,
    rules: Iterable[MaskRule],
    key: bytes,
    *,
    key_attributes: Mapping[str, str] | None = None,
    kms_key_id: str | None = None,
    on_item: Callable[[int], None] | None = None,
) -> Any:
    """Stream `src_ref`'s items through the rules into a new export under
    `s3://dst_bucket/dst_prefix/AWSDynamoDB/<same ExportId>/`; returns its ExportRef.

    Reads and writes one item at a time (bounded memory); a damaged source raises ExportCorrupt
    and publishes nothing (no manifest-summary.json)."""
    from handlers import exports

    masker = Masker(rules, key, key_attributes)
    summary = exports.read_summary(s3, src_ref)
    return exports.write_export(
        s3,
        bucket=dst_bucket,
        prefix=dst_prefix,
        table_arn=summary.table_arn,
        items=masker.mask_all(exports.iter_items(s3, src_ref, check_items=False)),
        export_time=summary.export_time,
        export_id=src_ref.export_id,
        table_id=summary.table_id,
        kms_key_id=kms_key_id,
        on_item=on_item,
    )


def masked_ref(src_ref: Any, dst_bucket: str, dst_prefix: str) -> Any:
    """Where the masked copy of `src_ref` goes (same ExportId)."""
    from handlers.exports import ExportRef

    root = dst_prefix.strip("/")
    return ExportRef(dst_bucket, f"{root + '/' if root else ''}AWSDynamoDB/{src_ref.export_id}/")


def _part_key(dst_ref: Any, data_file_key: str) -> str:
    # Per-file results of the distributed mask live beside the export folder, not in it, so the
    # masked export keeps AWS's exact layout (and ImportTable reads only data/).
    name = data_file_key.rsplit("/", 1)[-1]
    return f"{dst_ref.export_prefix}_safetynet-mask-parts/{dst_ref.export_id}/{name}.json"


def mask_data_file(
    s3: Any,
    src_ref: Any,
    data_file: Any,
    dst_ref: Any,
    masker: Masker,
    *,
    output_format: str | None = None,
    kms_key_id: str | None = None,
) -> Any:
    """One Distributed Map child: mask one data file of `src_ref` into `dst_ref`'s data/ folder
    and record its manifest line; returns the new DataFile."""
    import json

    from handlers import exports

    name = data_file.data_file_s3_key.rsplit("/", 1)[-1].replace(".ion.gz", ".json.gz")
    sse = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": kms_key_id} if kms_key_id else {}
    masked = (
        masker.mask(item)
        for item in exports.iter_file_items(s3, src_ref, data_file, output_format=output_format, check_items=False)
    )
    # write_data_file checks every masked item again before it is written: a second lock.
    out = exports.write_data_file(s3, dst_ref, masked, name=name, kms_key_id=kms_key_id)
    s3.put_object(
        Bucket=dst_ref.bucket,
        Key=_part_key(dst_ref, data_file.data_file_s3_key),
        Body=json.dumps(out.to_json()).encode(),
        **sse,
    )
    return out


def publish_masked_export(s3: Any, src_ref: Any, dst_ref: Any, *, kms_key_id: str | None = None) -> Any:
    """After every `mask_data_file` child: write the masked export's manifests (summary last),
    from the per-file records, in the source's file order. Returns dst_ref."""
    import json
    from datetime import UTC, datetime

    from handlers import exports

    summary = exports.read_summary(s3, src_ref)
    files = []
    for src_file in exports.read_data_files(s3, src_ref, summary):
        key = _part_key(dst_ref, src_file.data_file_s3_key)
        body = s3.get_object(Bucket=dst_ref.bucket, Key=key)["Body"].read()
        files.append(exports.DataFile.from_json(json.loads(body)))
    exports.publish_export(
        s3,
        dst_ref,
        files,
        table_arn=summary.table_arn,
        export_time=summary.export_time,
        start_time=summary.start_time or datetime.now(UTC),
        table_id=summary.table_id,
        kms_key_id=kms_key_id,
    )
    return dst_ref

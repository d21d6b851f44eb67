#!/usr/bin/env python3
"""nook contract suite: compares the structure of a JSON answer with the contract samples.

The samples (tests/contract/samples, serialised by the upstream crate) and their enums.md
are normative. This module reads enums.md for the enum spellings and for how each field is
written (left out when empty/None, null when None, always present, typed id or plain
string), and compares recursively:

    compare(sample, actual, path="", typ=None) -> [Difference]

With a type (the answer type of a call, from ANSWER_TYPES, or "AgentError") the comparison
follows the field rules of enums.md, the sample serving only as an example of nested data;
without one it is purely structural (same keys, same JSON types, enum spellings and tags
looked up by the sample's own values). Python 3 standard library only.
"""
import json
import os
import re

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_SAMPLES = os.path.join(HERE, "samples")

# Keys nook may add to an answer (the ext fields of docs/protocol.md). Nothing else: the
# crate ignores unknown fields, but they are not part of the contract, so an extra key is a
# difference unless it is listed here.
EXT_KEYS = {
    "*": frozenset({"nook"}),                                    # any object of an answer
    "IsolationCapabilityReport": frozenset({"findings"}),        # the probes, for `nook caps`
    "ProcessIoFrame": frozenset({"data", "encoding", "eof", "exit_code"}),
    "ProcessStartResult": frozenset({"limits"}),                 # how each limit is enforced
}

# The types of the fields of answers and errors that enums.md marks neither `id` nor
# `string` (enums.md lists each struct's fields and how they are written, not the type of a
# field that holds another struct or an enum). From the crate's types, as the samples show
# them. A type is "id", "string", "bool", an integer ("u16", "u32", "u64", "i32"),
# ("enum", Name), ("struct", Name) or ("list", type).
def _e(name):
    return ("enum", name)


def _s(name):
    return ("struct", name)


def _l(t):
    return ("list", t)


FIELD_TYPES = {
    "IsolationCapabilityReport": {
        "adapter_kind": _e("IsolationRuntimeKind"), "health": _e("IsolationRuntimeHealth"),
        "supported_classes": _l(_e("IsolationClass")), "platform": _s("PlatformReport"),
        "capabilities": _s("IsolationCapabilitySet"), "trust": _s("IsolationTrustRequirement"),
        "log_retention": _e("RetentionClass"),
    },
    "PlatformReport": {"emulation_supported": "bool"},
    "IsolationCapabilitySet": {"capabilities": _l(_e("IsolationCapability"))},
    "IsolationTrustRequirement": {
        "locality": _e("LocalityRequirement"), "tenancy": _e("TenantBoundaryRequirement"),
        "auditability": _e("AuditabilityRequirement"), "cleanup": _e("CleanupGuaranteeRequirement"),
        "data_residency": _e("DataResidencyRequirement"),
        "secret_isolation": _e("SecretIsolationRequirement"),
    },
    "ImageResolution": {},
    "MountPlan": {},
    "SecretMaterializationPlan": {"teardown_required": "bool"},
    "ProcessStartResult": {"terminal_status": _e("EffectTerminalStatus"), "io_frames": _l(_s("ProcessIoFrame"))},
    "ProcessIoFrame": {
        "stream": _e("ProcessIoStream"), "cursor": "u64", "byte_count": "u64",
        "raw_content_present": "bool", "truncated": "bool",
    },
    "ProcessSignalResult": {"signal": _e("ProcessSignal"), "delivered": "bool"},
    "ProcessStatsSnapshot": {
        "cpu_millis": "u64", "memory_bytes": "u64", "process_count": "u32",
        "filesystem_bytes": "u64", "network_bytes": "u64", "exit_code": "i32",
    },
    "CleanupResult": {"status": _e("CleanupStatus")},
    "DetachTransferResult": {},
    "ReclaimResult": {"status": _e("CleanupStatus")},
    "ErrorContext": {
        "policy_refs": _l(_s("PolicyRef")), "source": _s("SourceRef"),
        "destination": _s("DestinationRef"), "subject": _s("EntityRef"), "privacy": _e("PrivacyClass"),
    },
    "CausalIds": {"related": _l(_s("EntityRef"))},
    "PolicyRef": {"kind": _e("PolicyKind")},
    "SourceRef": {
        "kind": _e("SourceKind"), "trust": _e("TrustClass"), "privacy": _e("PrivacyClass"),
        "correlation": _l(_s("CorrelationEntry")),
    },
    "DestinationRef": {
        "kind": _e("DestinationKind"), "privacy": _e("PrivacyClass"), "retention": _e("RetentionClass"),
        "correlation": _l(_s("CorrelationEntry")),
    },
    "EntityRef": {"kind": _e("EntityKind"), "source": _s("SourceRef"), "privacy": _e("PrivacyClass")},
    "CorrelationEntry": {},
    # AgentError's variants (enums.md gives them as one enum; their fields are all required)
    "AgentError.MissingRequiredField": {"field": "string"},
    "AgentError.ContractViolation": {"message": "string"},
    "AgentError.HostConfigurationNeeded": {"message": "string"},
    "AgentError.Classified": {
        "kind": _e("AgentErrorKind"), "retry": _e("RetryClassification"),
        "context": _s("ErrorContext"), "causal_ids": _s("CausalIds"),
    },
}
# Variant payloads with a struct type; other variants' data is compared structurally with
# the sample (or with the example enums.md gives for that variant).
VARIANT_TYPES = {("AgentError", tag): _s("AgentError." + tag)
                 for tag in ("MissingRequiredField", "ContractViolation", "HostConfigurationNeeded", "Classified")}

# What each call answers (enums.md "Answers"; five calls answer a bare typed id).
ANSWER_TYPES = {
    "runtime_ref": "id",
    "capability_report": _s("IsolationCapabilityReport"),
    "prepare_session": "id",
    "resolve_image": _s("ImageResolution"),
    "prepare_rootfs": "id",
    "resolve_mounts": _s("MountPlan"),
    "configure_network": "id",
    "prepare_secrets": _s("SecretMaterializationPlan"),
    "prepare_environment": "id",
    "start_process": _s("ProcessStartResult"),
    "stream_io": _s("ProcessIoFrame"),
    "signal_process": _s("ProcessSignalResult"),
    "collect_stats": _s("ProcessStatsSnapshot"),
    "cleanup": _s("CleanupResult"),
    "detach": _s("DetachTransferResult"),
    "reclaim": _s("ReclaimResult"),
}
AGENT_ERROR = _e("AgentError")

INT_RANGES = {
    "u16": (0, 2**16 - 1), "u32": (0, 2**32 - 1), "u64": (0, 2**64 - 1), "i32": (-2**31, 2**31 - 1),
}

MISSING = object()   # "the sample has no value here"


class Difference:
    """One structural difference: where (a JSON pointer into nook's answer) and what."""

    def __init__(self, path, message):
        self.path = path
        self.message = message

    def __str__(self):
        return f"{self.path or '/'}: {self.message}"

    __repr__ = __str__


# ---- enums.md ------------------------------------------------------------------------

class Enum:
    def __init__(self, name):
        self.name = name
        self.units = []          # unit variants: bare strings
        self.tags = {}           # variants with data: tag -> example payload

    def spellings(self):
        return self.units + list(self.tags)


class Field:
    def __init__(self, name, optional, notes):
        self.name = name
        self.optional = optional            # `?`: may be absent on input
        self.kind = None                    # "id", "id[]", "string", "string[]" or None
        self.omit = None                    # "empty" / "none": the crate leaves the key out then
        self.null_when_none = False         # the crate writes null
        for n in notes:
            if n in ("id", "id[]", "string", "string[]"):
                self.kind = n
            elif n == "omitted when empty":
                self.omit = "empty"
            elif n == "omitted when None":
                self.omit = "none"
            elif n in ("null when None", "nullable"):
                self.null_when_none = n == "null when None"
                if n == "nullable":
                    self.omit = "none"
            else:
                raise ValueError(f"enums.md: unknown field note '{n}' of {name}")


class Spec:
    """The enum spellings and the field rules read from enums.md."""

    def __init__(self, enums, structs):
        self.enums = enums              # name -> Enum
        self.structs = structs          # name -> {field name -> Field} (declaration order)
        self.by_spelling = {}           # unit spelling -> [Enum]
        self.by_tag = {}                # tag -> [Enum]
        for e in enums.values():
            for u in e.units:
                self.by_spelling.setdefault(u, []).append(e)
            for t in e.tags:
                self.by_tag.setdefault(t, []).append(e)
        # For the structural comparison, which knows keys but not types: the keys that every
        # struct declaring them leaves out when empty/None, and those it writes as null.
        decl = {}
        for fields in structs.values():
            for f in fields.values():
                decl.setdefault(f.name, []).append(f)
        self.omitted_keys = frozenset(k for k, fs in decl.items() if all(f.omit for f in fs))
        self.nullable_keys = frozenset(k for k, fs in decl.items() if all(f.null_when_none for f in fs))
        for name in FIELD_TYPES:
            if name.startswith("AgentError."):
                structs[name] = {f: Field(f, False, []) for f in FIELD_TYPES[name]}

    def field_type(self, struct, field):
        f = self.structs[struct][field]
        if f.kind == "id" or f.kind == "string":
            return f.kind
        if f.kind in ("id[]", "string[]"):
            return ("list", f.kind[:-2])
        return FIELD_TYPES.get(struct, {}).get(field)


def parse_enums_md(text):
    enums, structs = {}, {}
    section = None
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("## "):
            section = line[3:].strip()
        elif section == "Enums":
            m = re.match(r"^- `(\w+)` \(.*\):\s*$", line)
            if m:
                e = Enum(m.group(1))
                j = i + 1
                while j < len(lines) and lines[j].startswith("  "):
                    for alt in re.findall(r"`([^`]*)`", lines[j]):
                        v = json.loads(alt)
                        if isinstance(v, str):
                            e.units.append(v)
                        elif isinstance(v, dict) and len(v) == 1:
                            (tag, payload), = v.items()
                            e.tags[tag] = payload
                        else:
                            raise ValueError(f"enums.md: variant of {e.name} neither a string nor a one-key object: {alt}")
                    j += 1
                enums[e.name] = e
                i = j
                continue
        elif section and section.startswith("Fields"):
            m = re.match(r"^- `(\w+)`: (.*)$", line)
            if m:
                fields = {}
                for fm in re.finditer(r"(\w+)(\?)?(?: \[((?:[^\[\]]|\[\])*)\])?(?:, |$)", m.group(2)):
                    notes = [n.strip() for n in fm.group(3).split(",")] if fm.group(3) else []
                    fields[fm.group(1)] = Field(fm.group(1), bool(fm.group(2)), notes)
                structs[m.group(1)] = fields
        i += 1
    if not enums or not structs:
        raise ValueError("enums.md: no enum or no field list found")
    return Spec(enums, structs)


_SPEC = {}


def load_spec(samples_dir=DEFAULT_SAMPLES):
    if samples_dir not in _SPEC:
        with open(os.path.join(samples_dir, "enums.md"), encoding="utf-8") as f:
            _SPEC[samples_dir] = parse_enums_md(f.read())
    return _SPEC[samples_dir]


# ---- the identifier rule (enums.md, last section) -------------------------------------

def id_problem(v):
    """None when v is a valid typed id, else what the crate would say."""
    if not isinstance(v, str):
        return f"an identifier must be a string, got {describe(v)}"
    if v == "":
        return "identifier is empty"
    n = len(v.encode("utf-8"))
    if n > 512:
        return f"identifier length {n} exceeds max 512"
    off = 0
    for ch in v:
        c = ord(ch)
        if c <= 0x1F or 0x7F <= c <= 0x9F:
            return f"identifier contains control character at byte {off}"
        off += len(ch.encode("utf-8"))
    return None


# ---- comparison ------------------------------------------------------------------------

def json_type(v):
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, int):
        return "integer"
    if isinstance(v, float):
        return "float"
    if isinstance(v, str):
        return "string"
    if isinstance(v, dict):
        return "object"
    if isinstance(v, list):
        return "array"
    return type(v).__name__


def describe(v, limit=90):
    s = json.dumps(v, ensure_ascii=False)
    if len(s) > limit:
        s = s[:limit - 3] + "..."
    return f"{json_type(v)} {s}"


def _ptr(path, key):
    return f"{path}/{str(key).replace('~', '~0').replace('/', '~1')}"


def _type_name(t):
    if isinstance(t, str):
        return {"id": "string (a typed id)", "string": "string", "bool": "boolean"}.get(t, f"integer ({t})")
    if t[0] == "list":
        return f"array of {_type_name(t[1])}"
    if t[0] == "struct":
        return f"object {t[1]}"
    return f"{t[1]} (an enum)"


def _spelling_list(e, limit=12):
    sp = [json.dumps(s) for s in e.units] + [json.dumps({t: "…"}, ensure_ascii=False) for t in e.tags]
    return " | ".join(sp[:limit]) + (" | …" if len(sp) > limit else "")


class _Cmp:
    def __init__(self, spec):
        self.spec = spec
        self.out = []

    def diff(self, path, msg):
        self.out.append(Difference(path, msg))

    # -- typed ----------------------------------------------------------------------------
    def typed(self, t, sample, actual, path):
        if t is None:
            self.generic(sample, actual, path)
        elif t == "id":
            if not isinstance(actual, str):
                self.diff(path, f"expected string (a typed id), got {describe(actual)}")
            elif id_problem(actual):
                self.diff(path, f"expected a typed id: {id_problem(actual)}, got {describe(actual, 40)}")
        elif t == "string":
            if not isinstance(actual, str):
                self.diff(path, f"expected string, got {describe(actual)}")
        elif t == "bool":
            if not isinstance(actual, bool):
                self.diff(path, f"expected boolean, got {describe(actual)}")
        elif t in INT_RANGES:
            lo, hi = INT_RANGES[t]
            if isinstance(actual, bool) or not isinstance(actual, int):
                self.diff(path, f"expected integer ({t}), got {describe(actual)}")
            elif not lo <= actual <= hi:
                self.diff(path, f"integer {actual} is outside {t} ({lo}..{hi})")
        elif t[0] == "list":
            if not isinstance(actual, list):
                self.diff(path, f"expected {_type_name(t)}, got {describe(actual)}")
                return
            donor = sample[0] if isinstance(sample, list) and sample else MISSING
            for i, v in enumerate(actual):
                self.typed(t[1], donor, v, _ptr(path, i))
        elif t[0] == "struct":
            self.struct(t[1], sample, actual, path)
        elif t[0] == "enum":
            self.enum(self.spec.enums[t[1]], sample, actual, path)
        else:
            raise ValueError(f"unknown type {t!r}")

    def struct(self, name, sample, actual, path):
        if not isinstance(actual, dict):
            self.diff(path, f"expected object {name}, got {describe(actual)}")
            return
        fields = self.spec.structs[name]
        ext = EXT_KEYS["*"] | EXT_KEYS.get(name, frozenset())
        for k in actual:
            if k not in fields and k not in ext:
                self.diff(_ptr(path, k), f"unexpected key '{k}': {name} has no such field "
                                         f"(fields: {', '.join(fields)}; nook ext keys allowed here: "
                                         f"{', '.join(sorted(ext))})")
        sample = sample if isinstance(sample, dict) else {}
        for fname, f in fields.items():
            p = _ptr(path, fname)
            if fname not in actual:
                if f.omit:
                    continue            # left out when empty/None: allowed
                if f.null_when_none:
                    self.diff(p, f"missing key '{fname}': the crate writes null when there is no value, "
                                 f"never leaves it out")
                else:
                    self.diff(p, f"missing key '{fname}' (required in {name})")
                continue
            v = actual[fname]
            if f.omit == "empty" and (v == [] or v == {}):
                self.diff(p, f"'{fname}' must be left out when empty, not written as {json.dumps(v)}")
                continue
            if v is None:
                if f.omit == "none":
                    self.diff(p, f"'{fname}' must be left out when None, not written as null")
                elif not f.null_when_none:
                    self.diff(p, f"expected {_type_name(self.spec.field_type(name, fname) or 'string')}, got null "
                                 f"('{fname}' is not an Option in {name})")
                continue
            sv = sample.get(fname, MISSING)
            self.typed(self.spec.field_type(name, fname), MISSING if sv is None else sv, v, p)

    def enum(self, e, sample, actual, path):
        if isinstance(actual, str):
            if actual in e.units:
                return
            if actual in e.tags:
                self.diff(path, f"{e.name} variant '{actual}' carries data: expected "
                                f"{json.dumps({actual: e.tags[actual]})}, got a bare string")
            else:
                self.diff(path, f"'{actual}' is not a spelling of {e.name}: expected one of {_spelling_list(e)}")
            return
        if isinstance(actual, dict) and e.tags:
            if len(actual) != 1:
                self.diff(path, f"an externally tagged {e.name} is an object with exactly one key (the tag), "
                                f"got keys {sorted(actual)}")
                return
            (tag, payload), = actual.items()
            if tag not in e.tags:
                self.diff(_ptr(path, tag), f"'{tag}' is not a tag of {e.name}: expected one of {_spelling_list(e)}")
                return
            donor = sample[tag] if isinstance(sample, dict) and tag in sample else e.tags[tag]
            t = VARIANT_TYPES.get((e.name, tag))
            if t:
                self.typed(t, donor, payload, _ptr(path, tag))
            else:
                self.generic(donor, payload, _ptr(path, tag))
            return
        form = "a string or an object with one key (the tag)" if e.tags else "a string"
        self.diff(path, f"expected {e.name} ({form}): one of {_spelling_list(e)}; got {describe(actual)}")

    # -- structural, by the sample's values --------------------------------------------------
    def generic(self, sample, actual, path):
        if sample is MISSING:
            return
        spec = self.spec
        if isinstance(sample, str) and sample in spec.by_spelling:
            enums = spec.by_spelling[sample]
            if isinstance(actual, str):
                if not any(actual in e.units for e in enums):
                    names = "/".join(e.name for e in enums)
                    self.diff(path, f"'{actual}' is not a spelling of {names}: expected one of "
                                    f"{_spelling_list(enums[0])}")
                return
            tagged = [e for e in enums if e.tags]
            if isinstance(actual, dict) and tagged:
                self.enum(tagged[0] if len(tagged) == 1 else _union(tagged), MISSING, actual, path)
                return
        if isinstance(sample, dict) and len(sample) == 1 and next(iter(sample)) in spec.by_tag:
            enums = spec.by_tag[next(iter(sample))]
            if isinstance(actual, (str, dict)):
                self.enum(enums[0] if len(enums) == 1 else _union(enums), sample, actual, path)
                return
        st, at = json_type(sample), json_type(actual)
        if st != at:
            self.diff(path, f"expected {st} (as the sample: {describe(sample, 50)}), got {describe(actual)}")
            return
        if isinstance(sample, dict):
            ext = EXT_KEYS["*"]
            for k in sample:
                if k not in actual and k not in spec.omitted_keys:
                    self.diff(_ptr(path, k), f"missing key '{k}'")
            for k in actual:
                if k in sample or k in ext:
                    continue
                if k in spec.omitted_keys:
                    if actual[k] in ([], {}, None):
                        self.diff(_ptr(path, k), f"'{k}' must be left out when empty or None, "
                                                 f"not written as {json.dumps(actual[k])}")
                else:
                    self.diff(_ptr(path, k), f"unexpected key '{k}' (not in the sample, not a nook ext key)")
            for k in sample:
                if k in actual:
                    if k in spec.nullable_keys and (sample[k] is None or actual[k] is None):
                        continue
                    self.generic(sample[k], actual[k], _ptr(path, k))
        elif isinstance(sample, list) and sample:
            # each element against the sample's elements: the first it matches, else the
            # first one (the samples' lists mix elements with and without optional keys)
            for i, v in enumerate(actual):
                found = None
                for s in sample:
                    c = _Cmp(spec)
                    c.generic(s, v, _ptr(path, i))
                    if not c.out:
                        found = []
                        break
                    if found is None:
                        found = c.out
                self.out += found


def _union(enums):
    u = Enum("/".join(e.name for e in enums))
    for e in enums:
        u.units += [x for x in e.units if x not in u.units]
        for t, p in e.tags.items():
            u.tags.setdefault(t, p)
    return u


def compare(sample, actual, path="", typ=None, spec=None):
    """The differences of nook's `actual` from `sample` (a list, empty when the shapes agree).
    `typ`: the contract type of both (ANSWER_TYPES[method], AGENT_ERROR), or None for a
    purely structural comparison."""
    c = _Cmp(spec or load_spec())
    c.typed(typ, sample, actual, path)
    return c.out


def match_any(samples, actual, typ=None, spec=None):
    """Compares `actual` with each (name, sample); returns (name, differences) of the first
    sample it matches, else of the closest one (the fewest differences)."""
    best = None
    for name, sample in samples:
        d = compare(sample, actual, "", typ, spec)
        if not d:
            return name, []
        if best is None or len(d) < len(best[1]):
            best = (name, d)
    return best if best else (None, [Difference("", "no sample to compare with")])


# ---- the samples on disk --------------------------------------------------------------

def read_json_strict(text):
    """json.loads that refuses duplicate keys (the crate does) and NaN/Infinity."""
    def pairs(kv):
        d = {}
        for k, v in kv:
            if k in d:
                raise ValueError(f"duplicate key '{k}'")
            d[k] = v
        return d

    def const(name):
        raise ValueError(f"{name} is not JSON")
    return json.loads(text, object_pairs_hook=pairs, parse_constant=const)


def load_samples(kind, samples_dir=DEFAULT_SAMPLES):
    """{file name: parsed JSON} of samples/<kind>/ (requests, responses, errors)."""
    d = os.path.join(samples_dir, kind)
    out = {}
    for n in sorted(os.listdir(d)):
        if n.endswith(".json"):
            with open(os.path.join(d, n), encoding="utf-8") as f:
                out[n] = read_json_strict(f.read())
    return out


def method_of(file_name):
    return os.path.basename(file_name).split(".", 1)[0]


def response_samples(method, samples_dir=DEFAULT_SAMPLES):
    """[(name, sample)] of responses/<method>.json and responses/<method>.*.json, the
    un-suffixed one first."""
    r = load_samples("responses", samples_dir)
    names = sorted((n for n in r if method_of(n) == method), key=lambda n: (n != method + ".json", n))
    return [("responses/" + n, r[n]) for n in names]


def error_samples(samples_dir=DEFAULT_SAMPLES):
    e = load_samples("errors", samples_dir)
    return [("errors/" + n, e[n]) for n in sorted(e)]

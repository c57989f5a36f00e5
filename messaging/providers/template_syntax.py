"""How a provider writes template variables, and the mapping to and from our named ones.

Switchboard's templates use named variables (`{{first_name}}`). Each provider package
declares its own syntax (Provider.template_syntax(kind)) as one of these objects;
the templates sync calls `to_provider()` before create/update and `from_provider()` after a
pull, so core code never sees `{{1}}`, `{name}` or `%%CODE%%`.

Positional syntaxes (Meta's `{{1}}`) number each text (header, body, each button URL) on its
own from 1 in order of first appearance, as Meta does; `order` (what we sent, keyed by part)
turns numbers back into our names, so a template we sent comes back unchanged.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

NAMED = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*|[0-9]+)\s*\}\}")


class VariableSyntax:
    """Named {{name}} (the sandbox, and our own syntax): the identity mapping."""

    positional = False
    pattern = NAMED

    def placeholder(self, name: str, index: int) -> str:
        """How the provider writes variable `name` (1-based `index` within its text)."""
        return "{{" + name + "}}"

    def key(self, name: str, index: int) -> str:
        """The key a send call uses for `name` (a dict key, or its position)."""
        return name

    def name_of(self, key: str, part: str, order: list[str]) -> str:
        """Our name for a provider placeholder `key` found in `part`, given what we sent."""
        for name in order:
            if self.key(name, 0).lower() == key.lower():
                return name
        return key.lower() if key.isupper() else key

    # -- texts -----------------------------------------------------------------------------

    def encode(self, text: str) -> tuple[str, list[str]]:
        """Our text → (the provider's text, names in the order it numbers them)."""
        order: list[str] = []

        def swap(match):
            name = match.group(1)
            if name not in order:
                order.append(name)
            return self.placeholder(name, order.index(name) + 1)

        return NAMED.sub(swap, text or ""), order

    def decode(self, text: str, part: str, order: list[str] | None = None) -> str:
        """The provider's text → ours."""
        order = order or []
        return self.pattern.sub(lambda m: "{{" + self.name_of(m.group(1), part, order) + "}}", text or "")

    def values(self, order: list[str], values: dict[str, str]) -> list[str] | dict[str, str]:
        """What OutboundMessage.variables carries for this syntax (in the provider's order)."""
        return {self.key(name, i + 1): str(values.get(name, "")) for i, name in enumerate(order)}


class PositionalSyntax(VariableSyntax):
    """Meta's `{{1}}`, `{{2}}` … (WhatsApp on MyOperator, Spryng, Qlara)."""

    positional = True
    pattern = re.compile(r"\{\{\s*([0-9]+)\s*\}\}")

    def placeholder(self, name, index):
        return "{{" + str(index) + "}}"

    def key(self, name, index):
        return str(index)

    def name_of(self, key, part, order):
        index = int(key) - 1
        if 0 <= index < len(order):
            return order[index]
        prefix = "var" if part == "body" else part.split(":")[0]
        return f"{prefix}_{key}"

    def values(self, order, values):
        return [str(values.get(name, "")) for name in order]


class SingleBraceSyntax(VariableSyntax):
    """`{name}` placeholders (Qlara's RCS templates and SMS sends)."""

    pattern = re.compile(r"(?<!\{)\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}(?!\})")

    def placeholder(self, name, index):
        return "{" + name + "}"


class PercentCodeSyntax(VariableSyntax):
    """`%%CODE%%` custom-field codes (Spoki): upper-case codes of our names."""

    pattern = re.compile(r"%%([A-Za-z0-9_]+)%%")

    def placeholder(self, name, index):
        return f"%%{self.key(name, index)}%%"

    def key(self, name, index):
        return name.upper()


# --- whole templates -----------------------------------------------------------------------


def _parts(record) -> list[tuple[str, str, str]]:
    """(part, attribute path, text) for every text of a RemoteTemplate that may hold variables."""
    parts = [
        ("header", "header.text", str((record.header or {}).get("text") or "")),
        ("body", "body", record.body),
    ]
    for i, button in enumerate(record.buttons or []):
        if isinstance(button, dict) and button.get("url"):
            parts.append((f"button:{i}", f"buttons.{i}.url", str(button["url"])))
    return parts


def _set(record, path: str, value: str) -> None:
    if path == "body":
        record.body = value
    elif path == "header.text":
        record.header = {**record.header, "text": value}
    else:
        _, index, key = path.split(".")
        record.buttons[int(index)] = {**record.buttons[int(index)], key: value}


def to_provider(record, syntax: VariableSyntax) -> tuple[Any, dict[str, list[str]]]:
    """A RemoteTemplate in our names → (a copy in the provider's syntax, the order per part)."""
    out = dataclasses.replace(
        record, header=dict(record.header or {}), buttons=[dict(b) for b in record.buttons or []]
    )
    orders: dict[str, list[str]] = {}
    for part, path, text in _parts(out):
        encoded, order = syntax.encode(text)
        _set(out, path, encoded)
        if order:
            orders[part] = order
    # Sample values keyed as the provider keys the body's variables ("1" or "FIRST_NAME").
    out.examples = {
        syntax.key(name, i + 1): str((record.examples or {}).get(name, ""))
        for i, name in enumerate(orders.get("body", []))
    }
    out.variables = [syntax.key(n, i + 1) for i, n in enumerate(orders.get("body", []))]
    return out, orders


def from_provider(record, syntax: VariableSyntax, orders: dict[str, list[str]] | None = None):
    """A RemoteTemplate in the provider's syntax → a copy in our names."""
    orders = orders or {}
    out = dataclasses.replace(
        record, header=dict(record.header or {}), buttons=[dict(b) for b in record.buttons or []]
    )
    for part, path, text in _parts(out):
        _set(out, path, syntax.decode(text, part, orders.get(part)))
    names: list[str] = []
    for _part, _path, text in _parts(out):
        for name in NAMED.findall(text):
            if name not in names:
                names.append(name)
    out.variables = names
    keys = orders.get("body") or names
    out.examples = {
        name: str((record.examples or {}).get(syntax.key(name, i + 1), ""))
        for i, name in enumerate(keys)
        if (record.examples or {}).get(syntax.key(name, i + 1))
    }
    return out

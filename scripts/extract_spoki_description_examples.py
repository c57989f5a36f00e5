#!/usr/bin/env python
"""Copy the JSON examples Spoki keeps in its request descriptions, once.

Spoki documents V2 webhook bodies, the Meta-style template shape, the messages
listing and the channel objects only inside each request's HTML description
(<code>…</code> blocks), not as saved responses, so extract_seed_examples.py
does not see them. This writes, per request or folder that has any valid JSON
block, tests/fixtures/spoki/descriptions/<slug>.json:

    {"folder": [...], "name", "method", "path", "blocks": [<parsed JSON>, ...]}

    python scripts/extract_spoki_description_examples.py [PATH_TO_001_SEED]
"""

from __future__ import annotations

import html
import json
import re
import sys
from pathlib import Path

SEED = "001_bceb6b7af28bc28c.txt"
OUT = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "spoki" / "descriptions"
CODE = re.compile(r"<code[^>]*>(.*?)</code>", re.S)


def walk(items, folder=()):
    for item in items:
        yield folder, item
        if "item" in item:
            yield from walk(item["item"], (*folder, item.get("name", "")))


def _description(item) -> str:
    request = item.get("request") if isinstance(item.get("request"), dict) else {}
    text = item.get("description") or request.get("description") or ""
    return text.get("content", "") if isinstance(text, dict) else str(text)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")[:80] or "item"


def _path(item) -> tuple[str, str]:
    request = item.get("request") if isinstance(item.get("request"), dict) else {}
    url = request.get("url") or {}
    raw = url if isinstance(url, str) else "/" + "/".join(str(p) for p in url.get("path") or [])
    raw = re.sub(r"^\{\{[^}]+\}\}", "", raw.split("?", 1)[0])
    return request.get("method", ""), raw


def extract(seed: Path) -> None:
    collection = json.loads(seed.read_text(encoding="utf-8"))
    OUT.mkdir(parents=True, exist_ok=True)
    for old in OUT.glob("*.json"):
        old.unlink()
    written, used = 0, set()
    for folder, item in walk(collection["item"]):
        blocks = []
        for block in CODE.findall(_description(item)):
            text = html.unescape(re.sub(r"<[^>]+>", "", block)).strip()
            if not text.startswith(("{", "[")):
                continue
            try:
                blocks.append(json.loads(text))
            except ValueError:
                continue  # prose examples with "…" placeholders are not JSON
        if not blocks:
            continue
        method, path = _path(item)
        stem = _slug("_".join([*folder, item.get("name", "")]))
        while stem in used:
            stem += "_"
        used.add(stem)
        record = {"folder": list(folder), "name": item.get("name", ""), "method": method, "path": path,
                  "blocks": blocks}  # fmt: skip
        (OUT / f"{stem}.json").write_text(json.dumps(record, indent=1, ensure_ascii=False) + "\n")
        written += 1
    print(f"spoki: {written} descriptions with JSON examples → {OUT}")


if __name__ == "__main__":
    default = Path(__file__).resolve().parent.parent.parent / "shared" / "seeds" / SEED
    extract(Path(sys.argv[1]) if len(sys.argv) > 1 else default)

#!/usr/bin/env python
"""Copy MyOperator's webhook example payloads out of its Postman collection, once.

MyOperator documents its webhook bodies inside each request's HTML description
(<code class="language-json">…</code>), not as saved responses, so
extract_seed_examples.py does not see them. This writes each valid JSON block to
tests/fixtures/myoperator/webhooks/<name>_<n>.json for the webhook tests:

    python scripts/extract_myoperator_webhooks.py [PATH_TO_002_SEED]
"""

from __future__ import annotations

import html
import json
import re
import sys
from pathlib import Path

SEED = "002_76455197e9a58a10.txt"
OUT = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "myoperator" / "webhooks"
CODE = re.compile(r'<code class="language-json">(.*?)</code>', re.S)


def walk(items, folder=()):
    for item in items:
        if "item" in item:
            yield from walk(item["item"], (*folder, item.get("name", "")))
        else:
            yield folder, item


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def main(seed: Path) -> None:
    collection = json.loads(seed.read_text(encoding="utf-8"))
    OUT.mkdir(parents=True, exist_ok=True)
    for old in OUT.glob("*.json"):
        old.unlink()
    written = 0
    for folder, item in walk(collection["item"]):
        if not any("hook" in part.lower() for part in folder):
            continue
        description = (item.get("request") or {}).get("description") or ""
        if isinstance(description, dict):
            description = description.get("content", "")
        for n, block in enumerate(CODE.findall(description), start=1):
            try:
                body = json.loads(html.unescape(block))
            except ValueError:
                continue  # prose snippets with comments are not payloads
            name = f"{slug(folder[0])}_{slug(item['name'])}_{n}.json"
            (OUT / name).write_text(json.dumps(body, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
            written += 1
    print(f"wrote {written} webhook examples to {OUT}")


if __name__ == "__main__":
    main(
        Path(sys.argv[1])
        if len(sys.argv) > 1
        else Path(__file__).resolve().parents[2] / "shared" / "seeds" / SEED
    )

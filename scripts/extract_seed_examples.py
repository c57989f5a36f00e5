#!/usr/bin/env python
"""Copy the vendors' saved example exchanges out of their Postman collections, once.

The project must not read ../shared at run or test time, so the examples our
contract tests parse live under tests/fixtures/<provider>/. Run this again only
when a vendor sends new documentation:

    python scripts/extract_seed_examples.py [SEEDS_DIR]

Each request with saved responses becomes one JSON file:
    {"folder": [...], "name", "method", "path", "query", "request_body", "examples": [{"name", "code", "headers", "body"}]}
where `body` is parsed JSON when the vendor's example is valid JSON, else the raw text.
Requests without saved responses are listed in index.json with their method and path
so the fakes can be checked against every documented route.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

COLLECTIONS = {
    "000_14c9cfcab9a23111.txt": "qlara",
    "001_bceb6b7af28bc28c.txt": "spoki",
    "002_76455197e9a58a10.txt": "myoperator",
    "004_534d8b2854b62862.txt": "spryng",
}
OUT = Path(__file__).resolve().parent.parent / "tests" / "fixtures"


def _url_parts(url) -> tuple[str, list[dict]]:
    if isinstance(url, str):
        raw = url
        query = []
    else:
        raw = url.get("raw", "")
        if url.get("path"):
            raw = "/" + "/".join(str(p) for p in url["path"])
        query = url.get("query") or []
    path = raw.split("?", 1)[0]
    path = re.sub(r"^\{\{[^}]+\}\}", "", path)  # drop {{baseUrl}} / {{Base-URL}}
    path = re.sub(r"^https?://[^/]+", "", path)
    if not path.startswith("/"):
        path = "/" + path
    return path, [
        {"key": q.get("key"), "value": q.get("value"), "disabled": q.get("disabled", False)} for q in query
    ]


def _body(text):
    if text is None:
        return None
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        return text


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")[:80] or "request"


def walk(items, folder=()):
    for item in items:
        if "item" in item:
            yield from walk(item["item"], (*folder, item.get("name", "")))
        else:
            yield folder, item


def extract(seeds: Path) -> None:
    for filename, provider in COLLECTIONS.items():
        collection = json.loads((seeds / filename).read_text(encoding="utf-8"))
        target = OUT / provider
        target.mkdir(parents=True, exist_ok=True)
        for old in target.glob("*.json"):
            old.unlink()
        index, used = [], set()
        for folder, item in walk(collection["item"]):
            request = item.get("request") or {}
            path, query = _url_parts(request.get("url", ""))
            body = (request.get("body") or {}).get("raw")
            record = {
                "folder": list(folder),
                "name": item.get("name", ""),
                "method": request.get("method", "GET"),
                "path": path,
                "query": query,
                "headers": [
                    {"key": h.get("key"), "value": h.get("value")} for h in request.get("header") or []
                ],
                "request_body": _body(body),
                "examples": [
                    {
                        "name": r.get("name", ""),
                        "code": r.get("code"),
                        "headers": [
                            {"key": h.get("key"), "value": h.get("value")} for h in r.get("header") or []
                        ],
                        "request_body": _body(
                            ((r.get("originalRequest") or {}).get("body") or {}).get("raw")
                        ),
                        "body": _body(r.get("body")),
                    }
                    for r in item.get("response") or []
                ],
            }
            stem = _slug("_".join([*folder, item.get("name", "")]))
            while stem in used:
                stem += "_"
            used.add(stem)
            (target / f"{stem}.json").write_text(json.dumps(record, indent=1, ensure_ascii=False) + "\n")
            index.append({"file": f"{stem}.json", "method": record["method"], "path": path,
                          "examples": len(record["examples"])})  # fmt: skip
        (target / "index.json").write_text(json.dumps(index, indent=1) + "\n")
        print(f"{provider}: {len(index)} requests, {sum(i['examples'] for i in index)} examples → {target}")


if __name__ == "__main__":
    default = Path(__file__).resolve().parent.parent.parent / "shared" / "seeds"
    extract(Path(sys.argv[1]) if len(sys.argv) > 1 else default)

#!/usr/bin/env python
"""Copy the JSON examples out of Qlara's markdown guide (seed 003), once.

The Postman collection (extracted by extract_seed_examples.py) has no send,
template or webhook examples; the markdown guide does. Its line breaks were
lost, so it is one long line: each ```json block is found with the nearest
heading before it. Output: tests/fixtures/qlara/markdown_examples.json, a list
of {"heading", "section", "body"} in document order.

    python scripts/extract_qlara_markdown_examples.py [SEEDS_DIR]
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

SEED = "003_d8ac67b17ce1228a.txt"
OUT = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "qlara" / "markdown_examples.json"
BLOCK = re.compile(r"```json\s*(.*?)```", re.S)


def headings_before(text: str, position: int) -> tuple[str, str]:
    """(the nearest ### heading, the nearest ## heading) before position."""
    found = list(re.finditer(r"(?:^| )(#{1,4}) ([^#]+?)(?= (?:#|```|\||[A-Z][a-z]+ |`|Response|Example|\{)|$)",
                             text[:position]))  # fmt: skip
    heading = section = ""
    for match in reversed(found):
        level, title = len(match.group(1)), match.group(2).strip()
        if not heading:
            heading = title
        if level <= 2:
            section = title
            break
    return heading, section


def extract(seeds: Path) -> list[dict]:
    text = (seeds / SEED).read_text(encoding="utf-8")
    out = []
    for match in BLOCK.finditer(text):
        raw = match.group(1).strip()
        try:
            body = json.loads(raw)
        except ValueError:
            continue  # placeholders such as `[ ... ]`
        heading, section = headings_before(text, match.start())
        out.append({"heading": heading, "section": section, "body": body})
    return out


if __name__ == "__main__":
    seeds = (
        Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[2] / "shared" / "seeds"
    )
    examples = extract(seeds)
    OUT.write_text(json.dumps(examples, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"{len(examples)} examples → {OUT}")

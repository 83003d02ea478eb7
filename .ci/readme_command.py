"""Print the command of the README's first bash block after the paragraph that starts with argv[1]."""

import re
import sys
from pathlib import Path

readme = Path(__file__).resolve().parent.parent.joinpath("README.md").read_text(encoding="utf-8")
start = readme.find("\n" + sys.argv[1])
match = re.compile(r"```bash\n(.+?)\n```", re.S).search(readme, start) if start >= 0 else None
if match is None:
    sys.exit(f"README.md has no bash block after a paragraph starting with {sys.argv[1]!r}")
print(match.group(1).strip())

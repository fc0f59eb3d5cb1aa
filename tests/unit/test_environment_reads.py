"""No environment variable is read outside the settings table (runtime/settings.py).

Every `.py` file of the tree except tests/ is tokenized; a name token `environ`, `environb`,
`getenv` or `getenvb` (so `os.environ[...]`, `os.environ.get`, `os.getenv`, `from os import
environ`, `os.environ | {...}`) anywhere but runtime/settings.py fails the test, naming the
file and line. Comments and strings do not count: prose may talk about the environment.
"""

from __future__ import annotations

import io
import tokenize
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SETTINGS_MODULE = ROOT / "runtime" / "settings.py"
READS = {"environ", "environb", "getenv", "getenvb"}


def _python_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*.py")
                  if not any(part.startswith(".") or part in ("tests", "__pycache__")
                             for part in p.relative_to(root).parts[:-1]))


def environment_reads(source: str) -> list[int]:
    """Line numbers of the name tokens that read the process environment."""
    tokens = tokenize.generate_tokens(io.StringIO(source).readline)
    return [t.start[0] for t in tokens if t.type == tokenize.NAME and t.string in READS]


def test_the_scanner_sees_each_way_of_reading_the_environment() -> None:
    """The scanner itself: every spelling is found, prose about the environment is not."""
    source = ('import os\nfrom os import environ\nA = os.environ["X"]\nB = os.getenv("X")\n'
              'C = environ.get("X")\nD = os.environ | {}\n# os.environ in a comment\n'
              'E = "os.getenv in a string"\n')
    assert environment_reads(source) == [2, 3, 4, 5, 6]


def test_only_the_settings_table_reads_the_environment() -> None:
    """Outside runtime/settings.py no module reads an environment variable: a new tunable
    is a row of SETTINGS, a child's environment comes from child_environment."""
    files = [p for p in _python_files(ROOT) if p != SETTINGS_MODULE]
    assert len(files) > 100 and SETTINGS_MODULE.exists()
    found = [f"{p.relative_to(ROOT)}:{line}" for p in files
             for line in environment_reads(p.read_text("utf-8"))]
    assert found == []
    assert environment_reads(SETTINGS_MODULE.read_text("utf-8"))  # the one reader

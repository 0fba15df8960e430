"""Every training and benchmark script answers `--help`.

argparse formats help strings with `%` lazily, so a stray `%` (as in "10%") only fails when a user
asks for help; this catches it for every script with a `parse_args(argv)`.
"""

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]

SCRIPTS = sorted(
    str(path.relative_to(REPO_ROOT))
    for folder in ("benchmarks", "training")
    for path in (REPO_ROOT / folder).glob("*.py")
    if "def parse_args(" in path.read_text()
)


def test_scripts_are_found():
    assert len(SCRIPTS) >= 20


@pytest.mark.parametrize("script", SCRIPTS)
def test_help(script, repo_script, capsys):
    module = repo_script(script)
    with pytest.raises(SystemExit) as exit_info:
        module.parse_args(["--help"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.startswith("usage:")

"""The README's command block runs as written, in order, in an empty folder.

The commands are taken verbatim from the block between ``<!-- commands`` and ``<!-- /commands -->``
in ``README.md`` and run in-process through :func:`mbplan.cli.main` (the same entry point as the
``mbplan`` script, without paying for a Python start per command). ``MBPLAN_SMOKE=1`` caps their
budgets (documented in the README), so the whole sequence takes well under a minute.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from mbplan.cli import main

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_commands() -> list[str]:
    """The command lines of the README's command blocks, in the README's order.

    The first block is the main sequence; the feature sections' blocks (also marked
    ``<!-- commands ... -->``) come after it and use what it made (``data/rrc``).
    """
    text = README.read_text(encoding="utf-8")
    blocks = re.findall(r"<!-- commands.*?-->\s*```bash\n(.*?)```\s*<!-- /commands -->", text, re.S)
    assert blocks, "README.md has no <!-- commands --> block"
    lines = [line.strip() for block in blocks for line in block.splitlines()]
    return [line for line in lines if line and not line.startswith("#")]


def test_the_readme_command_block_runs_in_order_in_an_empty_folder(tmp_path, monkeypatch, capsys):
    commands = readme_commands()
    assert len(commands) >= 10 and all(line.startswith("mbplan ") for line in commands)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MBPLAN_SMOKE", "1")
    for line in commands:
        argv = shlex.split(line)[1:]
        code = main(argv)
        captured = capsys.readouterr()
        assert code == 0, f"{line!r} exited with {code}:\n{captured.err[-2000:]}"
    assert (tmp_path / "rrc.gif").stat().st_size > 0
    assert (tmp_path / "runs" / "bb_cmp" / "comparison.md").is_file()
    assert (tmp_path / "mbplan-demo" / "episode.gif").is_file()
    # the feature sections' blocks
    assert (tmp_path / "runs" / "hmm_two" / "emission_report.json").is_file()
    assert (tmp_path / "runs" / "rrc_gru_warm" / "warmup.jsonl").stat().st_size > 0
    assert (tmp_path / "runs" / "rrc_gru_double" / "warmup.jsonl").stat().st_size > 0
    assert (tmp_path / "runs" / "rrc_rig" / "config.json").is_file()
    sweep = (tmp_path / "runs" / "rrc_sweep" / "sweep.md").read_text().splitlines()
    assert len(sweep) == 2 + 2 and sweep[2].startswith("| seed=0 | 0 |")


def test_every_command_of_the_readme_is_in_the_block():
    """Commands quoted elsewhere in the README (`mbplan ...`) are ones the block runs."""
    text = README.read_text(encoding="utf-8")
    block = set(readme_commands())
    quoted = re.findall(r"^mbplan [^\n`]*$", text, re.M)
    for line in quoted:
        assert line.strip() in block, line

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def readme_commands() -> list[str]:
    return re.findall(r"```sh\n(.+?)\n```", (ROOT / "README.md").read_text(encoding="utf-8"))


def test_the_readme_opens_with_the_start_command_then_the_test_command() -> None:
    start, test = readme_commands()[:2]
    assert start.endswith("bot serve")
    assert "pytest" in test and "mypy --strict bot" in test and "ruff check" in test


def test_ci_runs_exactly_the_readme_test_command_with_postgres_required() -> None:
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert readme_commands()[1] in ci.splitlines()
    assert "REQUIRE_POSTGRES=1" in ci


def test_the_readme_and_the_docs_link_only_inside_the_repository() -> None:
    for document in (ROOT / "README.md", ROOT / "docs" / "architecture.md"):
        text = document.read_text(encoding="utf-8")
        assert "../" not in text, f"{document.name} points outside the repository"
        for target in re.findall(r"\]\(([^)#]+)\)", text):
            if not target.startswith(("http://", "https://")):
                assert (document.parent / target).exists(), f"{document.name} links to a missing {target}"

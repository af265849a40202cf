"""`omnigate check-schema`: the committed schema against the last release's. A breaking
change fails unless recorded as intended; a recorded one passes; a record of a break that
no longer happens fails too, so the record stays true."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO_ROOT

from gateway.cli import main

RELEASED = (REPO_ROOT / "schema" / "released.graphql").read_text()
REMOVED_LINE2 = "Field Address.line2 was removed."


@pytest.fixture
def files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory laid out as the repository: the release's schema, the current
    one (the same until a test changes it) and an empty record."""
    (tmp_path / "schema").mkdir()
    (tmp_path / "schema" / "released.graphql").write_text(RELEASED)
    (tmp_path / "schema.graphql").write_text(RELEASED)
    (tmp_path / "schema" / "breaking-changes.yaml").write_text("[]\n")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def change_schema(root: Path, old: str, new: str) -> None:
    sdl = (root / "schema.graphql").read_text()
    assert sdl.count(old) == 1, old
    (root / "schema.graphql").write_text(sdl.replace(old, new))


def record(root: Path, text: str) -> None:
    (root / "schema" / "breaking-changes.yaml").write_text(text)


def check_schema(capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(["check-schema"])
    out, err = capsys.readouterr()
    return code, out, err


def test_the_committed_schema_keeps_the_release_s_contract():
    """What `make lint` runs in CI, from the repository as committed."""
    result = subprocess.run(
        [sys.executable, "-m", "gateway", "check-schema"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_an_unrecorded_breaking_change_fails_naming_it_and_the_entry_to_add(files, capsys):
    change_schema(files, "  line2: String\n", "")

    code, out, err = check_schema(capsys)

    assert code == 1
    assert out == ""
    assert f"  breaking, NOT RECORDED: FIELD_REMOVED: {REMOVED_LINE2}" in err.splitlines()
    # the entry to paste, if the break is intended
    assert f"- change: {REMOVED_LINE2}" in err.splitlines()


def test_a_recorded_breaking_change_passes(files, capsys):
    change_schema(files, "  line2: String\n", "")
    change_schema(files, "  city: String!\n", "  city: String\n")
    record(
        files,
        f'- change: "{REMOVED_LINE2}"\n'
        "  reason: merged into line1\n"
        "- change: Field Address.city changed type from String! to String.\n"
        "  reason: some stores have no city\n",
    )

    code, out, err = check_schema(capsys)

    assert (code, err) == (0, "")
    assert out.splitlines()[1:] == [
        f"  breaking, intended: FIELD_REMOVED: {REMOVED_LINE2}",
        "  breaking, intended: FIELD_CHANGED_KIND: "
        "Field Address.city changed type from String! to String.",
    ]


def test_one_recorded_break_does_not_cover_another(files, capsys):
    change_schema(files, "  line2: String\n", "")
    change_schema(files, "  city: String!\n", "  city: String\n")
    record(files, f'- change: "{REMOVED_LINE2}"\n  reason: merged into line1\n')

    code, _, err = check_schema(capsys)

    assert code == 1
    assert f"  breaking, intended: FIELD_REMOVED: {REMOVED_LINE2}" in err
    assert "NOT RECORDED: FIELD_CHANGED_KIND: Field Address.city" in err


def test_a_record_of_a_break_the_schema_does_not_make_fails(files, capsys):
    record(files, f'- change: "{REMOVED_LINE2}"\n  reason: merged into line1\n')

    code, _, err = check_schema(capsys)

    assert code == 1
    assert (
        f"  recorded in schema/breaking-changes.yaml but no such breaking change: {REMOVED_LINE2}"
    ) in err.splitlines()


def test_additions_pass_and_dangerous_changes_are_listed(files, capsys):
    change_schema(files, "  line2: String\n", "  line2: String\n  line3: String\n")
    change_schema(files, "stores(first: Int! = 10,", "stores(first: Int! = 20,")

    code, out, err = check_schema(capsys)

    assert (code, err) == (0, "")
    assert out.splitlines()[1:] == [
        "  dangerous: ARG_DEFAULT_VALUE_CHANGE: "
        "Availability.stores(first:) has changed defaultValue from 10 to 20."
    ]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("- change: Field Address.line2 was removed.\n",
         "schema/breaking-changes.yaml: entry 1: `reason` must say why the break is intended"),
        ("- change: x\n  reason: y\n  ticket: 12\n",
         "schema/breaking-changes.yaml: entry 1: unknown key ticket (known: change, reason)"),
        ("change: x\n", "schema/breaking-changes.yaml: must be a list of {change, reason} entries"),
        ("- [unclosed\n", "schema/breaking-changes.yaml: not valid YAML: "
         "line 2: expected ',' or ']', but got '<stream end>'"),
    ],
)  # fmt: skip
def test_a_record_that_cannot_be_read_fails_naming_the_file(files, capsys, text, problem):
    record(files, text)
    code, out, err = check_schema(capsys)
    assert (code, out) == (1, "")
    assert err.splitlines() == [problem]


def test_a_schema_that_does_not_parse_fails_naming_file_and_line(files, capsys):
    change_schema(files, "  line2: String\n", "  line2: String(\n")
    code, _, err = check_schema(capsys)
    assert code == 1
    assert err.splitlines() == ["schema.graphql:9: Syntax Error: Expected Name, found '('."]


def test_without_the_release_s_schema_there_is_nothing_to_compare_with(files, capsys):
    (files / "schema" / "released.graphql").unlink()
    code, _, err = check_schema(capsys)
    assert code == 1
    assert err.splitlines() == [
        "schema/released.graphql: cannot be read (No such file or directory)"
    ]

"""The docs say what the code does: every role variable the docs name exists in the roles, every default the docs
quote is the role's default, and every path or job label of the collection the docs name is one the code uses.

Read from the files: the roles' meta/argument_specs.yml and defaults/main.yml, and the text of roles/, playbooks/,
plugins/ (for variables a role sets or registers, and for paths and labels); the docs are README.md, docs/*.md and
roles/*/README.md."""

from __future__ import annotations

import re
import typing as t
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
ROLES = sorted(path.name for path in (ROOT / "roles").iterdir() if (path / "meta" / "argument_specs.yml").exists())
DOCS = sorted([ROOT / "README.md", *(ROOT / "docs").glob("*.md"), *(ROOT / "roles").glob("*/README.md")])
# A role variable: the role's name, one underscore, then the name (a double underscore is a role's internal one).
ROLE_NAMES = "|".join(sorted(ROLES, key=len, reverse=True))
VARIABLE = re.compile(rf"(?<![\w.$/-])(?P<name>(?:{ROLE_NAMES})__?[a-z0-9]+(?:_[a-z0-9]+)*)(?![\w(/-])")
# Paths and launchd/systemd labels that belong to this collection.
OURS = re.compile(r"(?:/[\w.-]+)*/[\w.-]*dockermac-hostbridge[\w./-]*|com\.dockermac\.hostbridge(?:\.[\w-]+)*")
# A default quoted in the docs: a table row "| `name` | `value` |" under a "default" column, "`name` (default
# `value`)" and "`name` defaults to `value`".
QUOTED_DEFAULT = (re.compile(r"`(?P<name>[a-z_]+)` \((?:default|unset means) `(?P<value>[^`]+)`\)"),
                  re.compile(r"`(?P<name>[a-z_]+)` defaults to `(?P<value>[^`]+)`"))


def load(path: Path) -> t.Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def role_options() -> dict[str, dict[str, t.Any]]:
    """Every option of every entry point of every role's argument spec, by name."""
    options: dict[str, dict[str, t.Any]] = {}
    for role in ROLES:
        for entry in load(ROOT / "roles" / role / "meta" / "argument_specs.yml")["argument_specs"].values():
            options.update(entry.get("options") or {})
    return options


def role_defaults() -> dict[str, t.Any]:
    defaults: dict[str, t.Any] = {}
    for role in ROLES:
        path = ROOT / "roles" / role / "defaults" / "main.yml"
        if path.exists():
            defaults.update(load(path) or {})
    return defaults


def code_text() -> str:
    files = [p for folder in ("roles", "playbooks", "plugins") for p in (ROOT / folder).rglob("*")
             if p.is_file() and p.suffix in (".yml", ".yaml", ".j2", ".py", ".sh") and "README" not in p.name]
    return "\n".join(path.read_text(encoding="utf-8") for path in files)


def code_names() -> set[str]:
    """Names that are not role variables though they look like one: modules, playbooks, filters and tests."""
    names = {path.stem for folder in ("modules", "filter", "test") for path in (ROOT / "plugins" / folder).glob("*.py")}
    return names | {path.stem for path in (ROOT / "playbooks").glob("*.yml")}


def mentions(pattern: re.Pattern[str]) -> list[tuple[str, int, str]]:
    """(doc, line number, match) of every match of ``pattern`` in the docs."""
    found = []
    for doc in DOCS:
        for number, line in enumerate(doc.read_text(encoding="utf-8").splitlines(), 1):
            found += [(str(doc.relative_to(ROOT)), number, m.group(0)) for m in pattern.finditer(line)]
    return found


def test_every_role_variable_the_docs_name_exists() -> None:
    options, text, other = role_options(), code_text(), code_names()
    missing = [f"{doc}:{line}: {name}" for doc, line, name in mentions(VARIABLE)
               if name not in options and name not in other
               and not re.search(rf"(?<![\w.]){re.escape(name)}(?!\w)", text)]
    assert not missing, "role variables named in the docs that no role has:\n" + "\n".join(missing)


def test_every_option_the_docs_name_is_documented_in_its_argument_spec() -> None:
    """Public variables (one underscore) the docs name must be options of an argument spec (ansible-doc shows
    them), unless a role sets them as a result (a fact, a registered result)."""
    options, text, other = role_options(), code_text(), code_names()
    results = set(re.findall(r"register: (\w+)", text)) | set(re.findall(r"^\s{4,}(\w+):(?: |$)", text, re.MULTILINE))
    missing = sorted({f"{doc}:{line}: {name}" for doc, line, name in mentions(VARIABLE)
                      if "__" not in name and name not in options and name not in other and name not in results})
    assert not missing, "variables the docs name that no argument spec documents:\n" + "\n".join(missing)


def _default_tables() -> list[tuple[str, str, str]]:
    """(doc, name, value) of each row of a Markdown table whose second column is headed "default"."""
    rows = []
    for doc in DOCS:
        header: list[str] = []
        for line in doc.read_text(encoding="utf-8").splitlines():
            if not line.startswith("|"):
                header = []
                continue
            cells = [cell.strip() for cell in line.strip("|").split("|")]
            if not header:
                header = cells
            elif len(header) > 1 and header[1] == "default" and len(cells) > 1:
                name, value = re.fullmatch(r"`?([^`]*)`?", cells[0]), re.fullmatch(r"`([^`]*)`", cells[1])
                if name and value:
                    rows.append((str(doc.relative_to(ROOT)), name.group(1), value.group(1)))
    return rows


def quoted_defaults() -> list[tuple[str, str, str]]:
    found = _default_tables()
    for doc in DOCS:
        text = doc.read_text(encoding="utf-8").replace("\n", " ")
        for pattern in QUOTED_DEFAULT:
            found += [(str(doc.relative_to(ROOT)), m["name"], m["value"]) for m in pattern.finditer(text)]
    return found


def test_there_are_quoted_defaults_to_check() -> None:
    assert len(quoted_defaults()) >= 8


@pytest.mark.parametrize(("doc", "name", "value"), quoted_defaults())
def test_each_default_quoted_in_the_docs_is_the_roles(doc: str, name: str, value: str) -> None:
    defaults = role_defaults()
    assert name in defaults, f"{doc}: {name} has no default in any role's defaults/main.yml"
    assert yaml.safe_load(value) == defaults[name], f"{doc}: {name} default {value!r}, the role's: {defaults[name]!r}"


def test_every_path_and_label_of_the_collection_in_the_docs_is_the_codes() -> None:
    """A path as the code writes it, or one default path joined to another (pull_checkout_dir/pull_inventory); a
    label with the suffix of its file (.plist, .service, .timer, .log, .conf) as the code writes the label; the
    collection's own tarball (ansible-galaxy names it from galaxy.yml)."""
    text = code_text()
    paths = [value for value in role_defaults().values() if isinstance(value, str) and value]
    joined = {f"{first}/{second}" for first in paths for second in paths}
    # A default directory and a file the code names under it ("{{ routed_state_dir }}/routed.json").
    joined |= {f"{first}/{name}" for first in paths for name in re.findall(r"\}\}/([\w.-]+)", text)}
    # ... or one named after a default value ("{{ tap_bridge_device }}.owner": tap1.owner).
    defaults = role_defaults()
    named = {f"{defaults[var]}.{ext}" for var, ext in re.findall(r"/\{\{ (\w+) \}\}\.(\w+)", text)
             if isinstance(defaults.get(var), str)}
    joined |= {f"{folder}/{name}" for path in paths for folder in (path, path.rpartition("/")[0]) for name in named}
    missing = sorted({f"{doc}:{line}: {path}" for doc, line, path in mentions(OURS)
                      if re.sub(r"\.(plist|service|timer|log|conf)$", "", path.rstrip("./")) not in text
                      and path.rstrip("./") not in joined
                      and not re.search(r"/dockermac-hostbridge-[\d.]+\.tar\.gz$", path)})
    assert not missing, "paths and labels in the docs that the code does not use:\n" + "\n".join(missing)


def test_the_mdm_bootstrap_installs_the_pull_roles_ansible_core() -> None:
    """The enrolment script makes the venv the pull role then keeps: the same pinned ansible-core and paths."""
    script = (ROOT / "docs" / "examples" / "mdm-bootstrap.sh").read_text(encoding="utf-8")
    defaults = role_defaults()
    pin = re.search(r"ANSIBLE_CORE:-ansible-core==([\w.]+)\}", script)
    assert pin, "mdm-bootstrap.sh: no ANSIBLE_CORE pin"
    assert pin[1] == defaults["pull_ansible_core_version"]
    assert f"{defaults['pull_venv']}" == re.search(r"^PREFIX=(\S+)", script, re.MULTILINE)[1] + "/venv"
    assert re.search(r"^CHECKOUT=(\S+)", script, re.MULTILINE)[1] == defaults["pull_checkout_dir"]

"""ansible-pull for real: a laptop pulls the team's configuration repository and applies it.

A local git repository is made from docs/examples/pull-repo (a test service on 198.51.100.x, the hosts file
pointed at a temp file, become by su); the project's own ``ansible-pull`` runs inside a network namespace
(``hb-pull-<random>``, loopback up; a running systemd hidden as in test_lo0_alias_linux.py) with
``-U file:///...``. The aliases land on the namespace's ``lo``, the names in the temp hosts file; the host's
interfaces and /etc/hosts are never touched. The pull role in the repository's local.yml finds no systemd and
installs nothing. The job files of the pull role (LaunchDaemon, systemd units) are rendered by boot_job from
the role's own options and parsed back.
"""

from __future__ import annotations

import json
import os
import plistlib
import re
import secrets
import shlex
import shutil
import subprocess
import sys
import typing as t

import pytest
import yaml

from ansible_collections.dockermac.hostbridge.plugins.module_utils import _bootjob
from ansible_collections.dockermac.hostbridge.tests import ansible_cli

pytestmark = pytest.mark.root

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SAMPLE = os.path.join(ROOT, "docs", "examples", "pull-repo")
RECAP = re.compile(r"^localhost\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)


def sh(*argv: str, cwd: str | None = None) -> str:
    return subprocess.run(argv, check=True, capture_output=True, text=True, cwd=cwd).stdout


def env() -> dict[str, str]:
    # The default callback: these tests read the recap, as a person reading the pull log would.
    return ansible_cli.ansible_env(ANSIBLE_STDOUT_CALLBACK="ansible.builtin.default", GIT_AUTHOR_NAME="hb",
                                   GIT_AUTHOR_EMAIL="hb@example.invalid", GIT_COMMITTER_NAME="hb",
                                   GIT_COMMITTER_EMAIL="hb@example.invalid")


class Laptop:
    """A network namespace standing in for a laptop, a team repository, and ansible-pull runs."""

    def __init__(self, ns: str, tmp: str) -> None:
        self.ns = ns
        self.repo = os.path.join(tmp, "team-config")
        self.checkout = os.path.join(tmp, "checkout")
        self.hosts = os.path.join(tmp, "hosts")
        with open(self.hosts, "w", encoding="utf-8") as handle:
            handle.write("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost\n")

    # --- the team repository -----------------------------------------------------------------------------
    def make_repo(self, services: list[dict[str, t.Any]]) -> None:
        shutil.copytree(SAMPLE, self.repo)
        self.write_vars(services)
        sh("git", "init", "-q", "-b", "main", cwd=self.repo)
        self.commit("Team configuration")

    def write_vars(self, services: list[dict[str, t.Any]]) -> None:
        path = os.path.join(self.repo, "inventory", "group_vars", "all.yml")
        with open(path, encoding="utf-8") as handle:
            data = yaml.safe_load(handle)
        data.update(loopback_services=services, bridge_strategy="loopback", loopback_hosts_path=self.hosts,
                    loopback_persistent=False, loopback_flush_cache=False, pull_repo_url=f"file://{self.repo}",
                    pull_sleep=0, ansible_become_method="ansible.builtin.su")  # no sudo here; root already
        with open(path, "w", encoding="utf-8") as handle:
            yaml.safe_dump(data, handle, sort_keys=False)

    def commit(self, message: str) -> None:
        subprocess.run(["git", "add", "-A"], cwd=self.repo, check=True, env=env())
        subprocess.run(["git", "commit", "-q", "-m", message], cwd=self.repo, check=True, env=env())

    # --- the laptop ----------------------------------------------------------------------------------------
    def pull(self, *extra: str) -> tuple[subprocess.CompletedProcess[str], tuple[int, ...] | None]:
        cmd = ["ip", "netns", "exec", self.ns, ansible_cli.cli("ansible-pull"), "-U", f"file://{self.repo}",
               "-d", self.checkout, "-i", os.path.join(self.checkout, "inventory", "hosts.yml"), *extra, "local.yml"]
        if os.path.isdir("/run/systemd/system"):
            # Hide a running systemd so nothing can be written to the host's /etc/systemd/system.
            cmd = ["unshare", "--mount", "--propagation", "private", "sh", "-c",
                   'mount -t tmpfs tmpfs /run/systemd && exec "$0" "$@"', *cmd]
        proc = ansible_cli.run(cmd, env=env(), timeout=300, cwd="/")
        recaps = RECAP.findall(proc.stdout)
        return proc, tuple(int(n) for n in recaps[-1]) if recaps else None

    def addresses(self) -> list[str]:
        links = json.loads(sh("ip", "-n", self.ns, "-j", "addr", "show", "dev", "lo"))
        return sorted(f"{a['local']}/{a['prefixlen']}" for link in links for a in link.get("addr_info", [])
                      if a["family"] == "inet" and not a["local"].startswith("127."))

    def block(self) -> list[str]:
        with open(self.hosts, encoding="utf-8") as handle:
            lines = handle.read().splitlines()
        begin = next(i for i, line in enumerate(lines) if line.startswith("# BEGIN dockermac.hostbridge"))
        end = lines.index("# END dockermac.hostbridge")
        return [" ".join(line.split()) for line in lines[begin + 1:end]]


@pytest.fixture
def laptop(tmp_path) -> t.Iterator[Laptop]:
    name = f"hb-pull-{secrets.token_hex(3)}"
    sh("ip", "netns", "add", name)
    try:
        sh("ip", "-n", name, "link", "set", "lo", "up")
        yield Laptop(name, str(tmp_path))
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)


def explain(proc: subprocess.CompletedProcess[str]) -> str:
    return f"rc={proc.returncode}\n--- stdout\n{proc.stdout[-6000:]}\n--- stderr\n{proc.stderr[-3000:]}"


def changed(proc: subprocess.CompletedProcess[str], recap: tuple[int, ...] | None) -> int:
    """The playbook run succeeded; returns changed= of its recap."""
    assert proc.returncode == 0, explain(proc)
    assert recap is not None, explain(proc)
    assert recap[2:] == (0, 0), explain(proc)  # unreachable=0 failed=0
    return recap[1]


def test_pull_applies_then_changes_nothing_then_applies_a_new_commit(laptop: Laptop) -> None:
    laptop.make_repo([{"name": "pull-one.test", "ip": "198.51.100.71"}])

    first, recap = laptop.pull()
    assert changed(first, recap) > 0
    assert laptop.addresses() == ["198.51.100.71/32"]
    assert laptop.block() == ["198.51.100.71 pull-one.test"]
    # The pull role of local.yml: no systemd in the namespace, so no job, and it says how to schedule it.
    assert "pull: no scheduler on this host (linux without a running systemd)" in first.stdout, explain(first)
    assert f"ansible-pull -U file://{laptop.repo} -d /var/lib/dockermac-hostbridge/pull" in first.stdout

    second, recap = laptop.pull()
    assert changed(second, recap) == 0, explain(second)

    # The team adds a service; the next pull (only if changed: it did) applies it.
    laptop.write_vars([{"name": "pull-one.test", "ip": "198.51.100.71"},
                       {"name": "pull-two.test", "ip": "198.51.100.72", "aliases": ["pull-two.team.test"]}])
    laptop.commit("Add pull-two")
    third, recap = laptop.pull("--only-if-changed")
    assert changed(third, recap) > 0
    assert laptop.addresses() == ["198.51.100.71/32", "198.51.100.72/32"]
    assert laptop.block() == ["198.51.100.71 pull-one.test", "198.51.100.72 pull-two.test pull-two.team.test"]

    # Nothing new in the repository: --only-if-changed does not even run the playbook.
    fourth, recap = laptop.pull("--only-if-changed")
    assert fourth.returncode == 0, explain(fourth)
    assert recap is None, explain(fourth)
    assert "Repository has not changed, quitting" in fourth.stdout, explain(fourth)

    # The team drops a service: loopback_exclusive_within removes its alias; the hosts block follows.
    laptop.write_vars([{"name": "pull-two.test", "ip": "198.51.100.72", "aliases": ["pull-two.team.test"]}])
    laptop.commit("Drop pull-one")
    fifth, recap = laptop.pull()
    assert changed(fifth, recap) > 0
    assert laptop.addresses() == ["198.51.100.72/32"]
    assert laptop.block() == ["198.51.100.72 pull-two.test pull-two.team.test"]


# --- the job files the pull role writes on a Mac and on a Linux laptop with systemd ---------------------------
ODD = {"pull_repo_url": "https://git.example.internal/team/laptop config.git?a=1&b=<2>",
       "pull_checkout_dir": "/var/lib/hb pull/100%$HOME \"q\" \\x",
       "pull_branch": "main", "pull_sleep": 300, "pull_only_if_changed": True,
       "pull_extra_args": ["--vault-password-file", "/etc/hb/vault pass"],
       "pull_environment": {"ANSIBLE_COLLECTIONS_PATH": "/opt/collections:/usr/share/ansible/collections",
                            "HB_ODD": "a $b %c \"d\" \\e"},
       "pull__ansible_pull": "/opt/ansible venv/bin/ansible-pull"}
EXPECTED_ARGV = ["/opt/ansible venv/bin/ansible-pull", "-U", ODD["pull_repo_url"], "-d", ODD["pull_checkout_dir"],
                 "-i", ODD["pull_checkout_dir"] + "/inventory/hosts.yml", "-C", "main", "-s", "300",
                 "--only-if-changed", "--vault-password-file", "/etc/hb/vault pass", "local.yml"]


def systemd_words(line: str, *, dollar: bool = True) -> list[str]:
    """Split a unit file value the way systemd does for the quoting the role uses ("...", \\, %%, and $$ in
    ExecStart= only; Environment= does not expand $)."""
    words = [word.replace("%%", "%") for word in shlex.split(line, posix=True)]
    return [word.replace("$$", "$") for word in words] if dollar else words


def boot_job_args() -> dict[str, t.Any]:
    """The options the pull role's boot_job task passes, as written in the role (Jinja not yet rendered)."""
    with open(os.path.join(ROOT, "roles", "pull", "tasks", "present.yml"), encoding="utf-8") as handle:
        (task,) = [task for task in yaml.safe_load(handle) if "dockermac.hostbridge.boot_job" in task]
    return task["dockermac.hostbridge.boot_job"]


def test_job_files_carry_the_exact_command(tmp_path) -> None:
    """The role's boot_job options rendered by Ansible, then the plist and units boot_job writes from them."""
    role = os.path.join(ROOT, "roles", "pull")
    play = [{"hosts": "localhost", "gather_facts": False,
             "vars_files": [os.path.join(role, "defaults", "main.yml"), os.path.join(role, "vars", "main.yml")],
             "vars": {"hb_args": boot_job_args()},
             "tasks": [{"name": "the boot_job options", "ansible.builtin.copy": {
                 "content": "{{ hb_args | to_json }}", "dest": str(tmp_path / "args.json"), "mode": "0644"}}]}]
    (tmp_path / "play.yml").write_text(json.dumps(play), encoding="utf-8")
    (tmp_path / "odd.json").write_text(json.dumps(ODD), encoding="utf-8")  # extra vars: above the vars_files
    proc = ansible_cli.run([ansible_cli.cli("ansible-playbook"), "-i", "localhost,", "-c", "local",
                            "-e", f"ansible_python_interpreter={sys.executable}", "-e", f"@{tmp_path / 'odd.json'}",
                            str(tmp_path / "play.yml")],
                           env=env(), timeout=120)
    assert proc.returncode == 0, explain(proc)
    args = json.loads((tmp_path / "args.json").read_text(encoding="utf-8"))
    assert args["reload"] is True  # not a run started by the job
    job = _bootjob.validate(args)

    # launchd: what plutil -lint would parse, with the argv exactly (XML escaping round trip).
    plist = plistlib.loads(_bootjob.render_plist(job))
    assert plist["Label"] == "com.dockermac.hostbridge.pull"
    assert plist["ProgramArguments"] == EXPECTED_ARGV
    assert plist["StartInterval"] == 1800
    assert plist["RunAtLoad"] is True
    assert plist["ProcessType"] == "Background"
    assert plist["EnvironmentVariables"] == {
        "ANSIBLE_COLLECTIONS_PATH": "/opt/collections:/usr/share/ansible/collections",
        "HB_ODD": 'a $b %c "d" \\e',
        "DOCKERMAC_HOSTBRIDGE_PULL_JOB": "com.dockermac.hostbridge.pull",
        "PATH": "/usr/local/bin:/opt/homebrew/bin:/usr/bin:/bin:/usr/sbin:/sbin"}
    assert plist["StandardOutPath"] == plist["StandardErrorPath"] == "/var/log/dockermac-hostbridge-pull.log"

    # systemd: ExecStart splits back into the same argv; Environment= lines into the same variables.
    unit = _bootjob.render_service(job).decode("utf-8").splitlines()
    exec_start = [line for line in unit if line.startswith("ExecStart=")]
    assert len(exec_start) == 1
    assert systemd_words(exec_start[0][len("ExecStart="):]) == EXPECTED_ARGV
    environment = dict(systemd_words(line[len("Environment="):], dollar=False)[0].split("=", 1)
                       for line in unit if line.startswith("Environment="))
    assert environment == plist["EnvironmentVariables"]
    assert "Type=oneshot" in unit
    assert "After=network-online.target" in unit
    timer = _bootjob.render_timer(job).decode("utf-8").splitlines()
    assert "OnUnitActiveSec=1800s" in timer
    assert "OnBootSec=120s" in timer
    assert "WantedBy=timers.target" in timer

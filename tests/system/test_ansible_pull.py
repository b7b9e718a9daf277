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

import glob
import json
import os
import plistlib
import pwd
import re
import secrets
import shlex
import shutil
import stat
import subprocess
import sys
import tempfile
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
                    pull_sleep=0, ansible_become_method="ansible.builtin.su",  # no sudo here; root already
                    # The project's root-owned Ansible stands in for the venv (test_pull_role_* build one);
                    # collections come from the suite's path here, pinned ones in test_pull_role_*.
                    pull_command=ansible_cli.cli("ansible-pull"), pull_checkout_dir=self.checkout,
                    pull_collections_requirements=None)
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
    assert f"ansible-pull -U file://{laptop.repo} -d {laptop.checkout}" in first.stdout
    assert stat.S_IMODE(os.stat(laptop.checkout).st_mode) == 0o700  # the checkout: root's, not readable by others

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
        "PATH": "/opt/dockermac-hostbridge/venv/bin:/usr/bin:/bin:/usr/sbin:/sbin"}
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


# --- the root-owned Ansible the pull role installs, its pinned collections, --verify-commit -------------------
# Offline: pip installs ansible-core from a wheelhouse, with this machine's /usr/bin/python3 (root's) as
# pull_python; pull_pip_args carries --no-index --find-links. The wheelhouse is the one tools/ee gathers for
# CPython 3.11 when it matches, else .cache/pull-wheels, downloaded once for that Python.
CORE = "2.19.14"
PYTHON = "/usr/bin/python3"


def wheelhouse() -> str:
    version = sh(PYTHON, "-c", "import sys; print('%d.%d' % sys.version_info[:2])").strip()
    if version == "3.11":
        found = sorted(glob.glob(os.path.join(ROOT, ".cache", "ee", "wheels", "*", f"ansible_core-{CORE}-*.whl")))
        if found:
            return os.path.dirname(found[0])
    dest = os.path.join(ROOT, ".cache", "pull-wheels", version)
    if not glob.glob(os.path.join(dest, f"ansible_core-{CORE}-*.whl")):
        sh(sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check", "-d", dest,
           "--only-binary=:all:", "--python-version", version, f"ansible-core=={CORE}")
    return dest


def gpg(home: str, *args: str, data: str | None = None) -> str:
    return subprocess.run(["gpg", "--batch", "--homedir", home, *args], input=data, capture_output=True, text=True,
                          check=True).stdout


class Signer:
    """A throwaway GPG key in its own short-lived home (a short path: gpg-agent's socket lives there)."""

    def __init__(self, name: str) -> None:
        self.home = tempfile.mkdtemp(prefix="hbg-", dir="/tmp")
        gpg(self.home, "--pinentry-mode", "loopback", "--passphrase", "", "--quick-gen-key",
            f"{name} <{name.lower()}@example.invalid>", "ed25519", "sign", "never")
        self.fingerprint = next(line.split(":")[9] for line in gpg(self.home, "--with-colons", "--list-keys")
                                .splitlines() if line.startswith("fpr:"))
        self.public = gpg(self.home, "--armor", "--export", self.fingerprint)

    def close(self) -> None:
        subprocess.run(["gpgconf", "--homedir", self.home, "--kill", "gpg-agent"], check=False)
        shutil.rmtree(self.home, ignore_errors=True)


def make_collection(where: str, version: str) -> str:
    """A tiny collection tarball (test.pinned) to pin in the repository's requirements."""
    src = os.path.join(where, f"src-{version}")
    os.makedirs(os.path.join(src, "plugins"))
    with open(os.path.join(src, "galaxy.yml"), "w", encoding="utf-8") as handle:
        yaml.safe_dump({"namespace": "test", "name": "pinned", "version": version, "readme": "README.md",
                        "authors": ["hb"]}, handle)
    with open(os.path.join(src, "README.md"), "w", encoding="utf-8") as handle:
        handle.write("test\n")
    subprocess.run([ansible_cli.cli("ansible-galaxy"), "collection", "build", "--output-path", where, src],
                   check=True, capture_output=True, env=env())
    return f"test-pinned-{version}.tar.gz"


class TeamRepo:
    """The configuration repository: a playbook writing state.txt to a marker, a pinned collection tarball."""

    def __init__(self, tmp: str) -> None:
        self.path = os.path.join(tmp, "team-config")
        self.marker = os.path.join(tmp, "applied.txt")
        os.makedirs(os.path.join(self.path, "collections"))
        play = [{"name": "apply", "hosts": "localhost", "gather_facts": False,
                 "tasks": [{"name": "the marker", "ansible.builtin.copy": {
                     "content": "{{ lookup('ansible.builtin.file', 'state.txt') }}", "dest": self.marker,
                     "mode": "0644"}}]}]
        with open(os.path.join(self.path, "local.yml"), "w", encoding="utf-8") as handle:
            yaml.safe_dump(play, handle)
        sh("git", "init", "-q", "-b", "main", cwd=self.path)

    def pin(self, tarball: str) -> None:
        with open(os.path.join(self.path, "collections", "requirements.yml"), "w", encoding="utf-8") as handle:
            yaml.safe_dump({"collections": [{"name": f"collections/{tarball}", "type": "file"}]}, handle)

    def commit(self, state: str, signer: Signer | None) -> None:
        with open(os.path.join(self.path, "state.txt"), "w", encoding="utf-8") as handle:
            handle.write(state)
        subprocess.run(["git", "add", "-A"], cwd=self.path, check=True, env=env())
        sign = ["-c", f"user.signingkey={signer.fingerprint}", "commit", "-S"] if signer else ["commit"]
        subprocess.run(["git", *sign, "-q", "-m", state], cwd=self.path, check=True,
                       env=dict(env(), GNUPGHOME=signer.home if signer else "/nonexistent"))


class RootAnsible:
    """The pull role run once as it runs on a laptop (no scheduler here), in a root-owned tree of its own."""

    def __init__(self, tmp: str, repo: TeamRepo, keys: list[str]) -> None:
        self.base = os.path.join(tmp, "opt")
        self.venv, self.checkout = os.path.join(self.base, "venv"), os.path.join(tmp, "checkout")
        self.collections, self.gnupg = os.path.join(self.base, "collections"), os.path.join(self.base, "gnupg")
        self.repo, self.tmp = repo, tmp
        self.role_vars = {
            "pull_repo_url": f"file://{repo.path}", "pull_scheduler": "none", "pull_venv": self.venv,
            "pull_python": PYTHON, "pull_ansible_core_version": CORE,
            "pull_pip_args": ["--no-index", "--find-links", wheelhouse()],
            "pull_checkout_dir": self.checkout, "pull_collections_path": self.collections,
            "pull_verify_commit": True, "pull_gpg_keys": keys, "pull_gnupg_home": self.gnupg,
            "pull_inventory": "localhost,"}

    def run_role(self, **overrides: t.Any) -> tuple[subprocess.CompletedProcess[str], tuple[int, ...] | None]:
        play = [{"hosts": "localhost", "gather_facts": False, "roles": [{"role": "dockermac.hostbridge.pull"}]}]
        path = os.path.join(self.tmp, "role.yml")
        with open(path, "w", encoding="utf-8") as handle:
            json.dump(play, handle)
        extra = os.path.join(self.tmp, "vars.json")
        with open(extra, "w", encoding="utf-8") as handle:
            json.dump(dict(self.role_vars, **overrides), handle)
        proc = ansible_cli.run([ansible_cli.cli("ansible-playbook"), "-i", "localhost,", "-c", "local",
                                "-e", f"ansible_python_interpreter={sys.executable}", "-e", f"@{extra}",
                                "-e", "ansible_become_method=ansible.builtin.su", path],
                               env=env(), timeout=300, cwd="/")
        recaps = RECAP.findall(proc.stdout)
        return proc, tuple(int(n) for n in recaps[-1]) if recaps else None

    def job_command(self, proc: subprocess.CompletedProcess[str]) -> list[str]:
        """The command the role schedules, from its message where no scheduler runs (env K=V ... argv)."""
        found = re.search(r'"msg": ("pull: no scheduler on this host.*")', proc.stdout)
        assert found, explain(proc)
        return shlex.split(json.loads(found.group(1)).split("root's crontab: ", 1)[1])

    def pull(self, command: list[str]) -> subprocess.CompletedProcess[str]:
        """What the job runs, exactly: the venv's ansible-pull with the job's environment (env -i: nothing else)."""
        return subprocess.run(["env", "-i", "HOME=/root", "LANG=C.UTF-8", *command[1:]], capture_output=True,
                              text=True, timeout=300, cwd="/", check=False)

    def applied(self) -> str | None:
        if not os.path.exists(self.repo.marker):
            return None
        with open(self.repo.marker, encoding="utf-8") as handle:
            return handle.read()


@pytest.fixture
def signers() -> t.Iterator[tuple[Signer, Signer]]:
    team, other = Signer("Team"), Signer("Other")
    try:
        yield team, other
    finally:
        team.close()
        other.close()


def test_pull_role_installs_a_root_owned_ansible_and_pinned_collections(tmp_path, signers) -> None:
    team, _other = signers
    repo = TeamRepo(str(tmp_path))
    tarball = make_collection(os.path.join(repo.path, "collections"), "1.0.0")
    repo.pin(tarball)
    repo.commit("one", team)
    laptop = RootAnsible(str(tmp_path), repo, [team.public])
    sh("git", "clone", "-q", repo.path, laptop.checkout)  # the first pull by hand, as docs/pull.md says

    first, recap = laptop.run_role()
    assert changed(first, recap) > 0
    version = sh(f"{laptop.venv}/bin/ansible-pull", "--version").splitlines()[0]
    assert version == f"ansible-pull [core {CORE}]"
    for path in (laptop.venv, f"{laptop.venv}/bin/ansible-pull", laptop.collections):
        info = os.stat(path)
        assert (info.st_uid, info.st_mode & 0o022) == (0, 0), path
    assert (os.stat(laptop.checkout).st_uid, stat.S_IMODE(os.stat(laptop.checkout).st_mode)) == (0, 0o700)
    assert (os.stat(laptop.gnupg).st_uid, stat.S_IMODE(os.stat(laptop.gnupg).st_mode)) == (0, 0o700)
    assert team.fingerprint in gpg(laptop.gnupg, "--with-colons", "--list-keys")
    manifest = os.path.join(laptop.collections, "ansible_collections", "test", "pinned", "MANIFEST.json")
    with open(manifest, encoding="utf-8") as handle:
        assert json.load(handle)["collection_info"]["version"] == "1.0.0"
    # The job it would schedule: the venv's ansible-pull, --verify-commit, and an environment of root's paths.
    assert f"GNUPGHOME={laptop.gnupg}" in first.stdout
    assert f"{laptop.venv}/bin/ansible-pull -U" in first.stdout
    assert "--verify-commit" in first.stdout

    second, recap = laptop.run_role()
    assert changed(second, recap) == 0, explain(second)

    # The team pins a new version: the next run installs it (and only then).
    tarball = make_collection(os.path.join(repo.path, "collections"), "1.0.1")
    repo.pin(tarball)
    repo.commit("two", team)
    sh("git", "pull", "-q", cwd=laptop.checkout)
    third, recap = laptop.run_role()
    assert changed(third, recap) > 0
    with open(manifest, encoding="utf-8") as handle:
        assert json.load(handle)["collection_info"]["version"] == "1.0.1"
    fourth, recap = laptop.run_role()
    assert changed(fourth, recap) == 0, explain(fourth)


def test_verify_commit_applies_only_commits_signed_by_the_team_key(tmp_path, signers) -> None:
    team, other = signers
    repo = TeamRepo(str(tmp_path))
    repo.commit("one", team)
    laptop = RootAnsible(str(tmp_path), repo, [team.public])
    setup, recap = laptop.run_role(pull_collections_requirements=None)
    assert changed(setup, recap) > 0
    command = laptop.job_command(setup)
    assert command[0] == "env"
    assert f"GNUPGHOME={laptop.gnupg}" in command
    assert f"{laptop.venv}/bin/ansible-pull" in command
    assert "--verify-commit" in command

    good = laptop.pull(command)
    assert good.returncode == 0, explain(good)
    assert laptop.applied() == "one"

    repo.commit("two, unsigned", None)
    unsigned = laptop.pull(command)
    assert unsigned.returncode != 0, explain(unsigned)
    assert laptop.applied() == "one", explain(unsigned)

    repo.commit("three, signed by another key", other)
    wrong = laptop.pull(command)
    assert wrong.returncode != 0, explain(wrong)
    assert laptop.applied() == "one", explain(wrong)

    repo.commit("four", team)
    again = laptop.pull(command)
    assert again.returncode == 0, explain(again)
    assert laptop.applied() == "four"


def test_pull_role_refuses_a_python_or_checkout_the_user_can_change(tmp_path) -> None:
    nobody = pwd.getpwnam("nobody")
    mine = tmp_path / "mine"
    mine.mkdir()
    os.chown(mine, nobody.pw_uid, nobody.pw_gid)
    repo = TeamRepo(str(tmp_path))
    laptop = RootAnsible(str(tmp_path), repo, ["key"])
    for bad in ({"pull_python": str(mine / "python3")}, {"pull_checkout_dir": str(mine / "checkout")}):
        proc, _recap = laptop.run_role(**bad)
        assert proc.returncode != 0
        assert "pull: refusing" in proc.stdout, explain(proc)
        assert f"{mine} (owner nobody (uid {nobody.pw_uid})" in proc.stdout, explain(proc)
        assert f"sudo chown root {mine}" in proc.stdout
        assert not os.path.exists(laptop.venv)  # refused before anything ran as root

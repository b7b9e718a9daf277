"""Laptops reached as a team reaches them: SSH with a key as a non-root admin user, root through ``sudo`` with a
password, that password vault-encrypted in the inventory, pipelining on.

Used by ``tests/system/test_sleeping_laptops.py`` and by the benchmark (``bench/``). Each host is a container of
the SSH image (``tools/bootstrap``: the base image plus openssh-server and sudo) on a Docker network made for this fleet
(a subnet of 198.18.0.0/15, the range RFC 2544 reserves for benchmarks; ``--internal``: no route out), running
``sshd`` with ``sleep`` as PID 1 so that sshd can be stopped while the host stays up. Everything secret is made
here, at random, per fleet: the SSH key, the become password (set with ``chpasswd``, sent on stdin), the vault
password file. The inventory holds the become password only as an ``!vault`` value. Molecule's ``fleet`` scenario
builds the same kind of host with Ansible (``extensions/molecule/fleet/prepare.yml``).
"""

from __future__ import annotations

import concurrent.futures
import ipaddress
import json
import os
import secrets
import subprocess
import typing as t

from ansible_collections.dockermac.hostbridge.tests import ansible_cli

IMAGE = "hostbridge-sshd:bookworm-v1"
ADMIN = "hbadmin"
LABEL = "dockermac.hostbridge.ssh-fleet"
# sshd daemonises (its pid in /run/sshd.pid); `sleep` keeps the container up when sshd is stopped.
ENTRYPOINT = "mkdir -p /run/sshd && /usr/sbin/sshd && exec sleep infinity"
# The admin account: a password sudo asks for (no NOPASSWD), the fleet's public key.
ADMIN_SETUP = f"""set -eu
useradd -m -s /bin/bash {ADMIN}
chpasswd
echo '{ADMIN} ALL=(ALL:ALL) ALL' > /etc/sudoers.d/{ADMIN}
chmod 0440 /etc/sudoers.d/{ADMIN}
install -d -m 0700 -o {ADMIN} -g {ADMIN} /home/{ADMIN}/.ssh
printf '%s\\n' "$HB_PUBKEY" > /home/{ADMIN}/.ssh/authorized_keys
chown {ADMIN}:{ADMIN} /home/{ADMIN}/.ssh/authorized_keys
chmod 0600 /home/{ADMIN}/.ssh/authorized_keys
"""


def docker(*argv: str, stdin: str | None = None, check: bool = True) -> str:
    proc = subprocess.run(["docker", *argv], input=stdin, capture_output=True, text=True, check=False)
    if check and proc.returncode != 0:
        raise RuntimeError(f"docker {' '.join(argv)} exited {proc.returncode}: {proc.stderr.strip()}")
    return proc.stdout


class SshFleet:
    """``count`` SSH hosts named ``<prefix>-1`` ... on a network of their own; ``close()`` removes everything."""

    def __init__(self, workdir: str, prefix: str, count: int, *, subnet: str = "198.18.0.0/22",
                 docker_args: t.Sequence[str] = (), workers: int = 4) -> None:
        self.workdir, self.prefix = workdir, prefix
        self.names = [f"{prefix}-{n}" for n in range(1, count + 1)]
        self.network = f"{prefix}-net"
        net = ipaddress.ip_network(subnet)
        self.addresses = {name: str(net.network_address + 10 + n) for n, name in enumerate(self.names)}
        self.password = secrets.token_urlsafe(18)
        self.key = os.path.join(workdir, "id_ed25519")
        self.vault_password_file = os.path.join(workdir, "vault-password")
        self.inventory_dir = os.path.join(workdir, "inventory")
        self.started: list[str] = []
        os.makedirs(self.inventory_dir, exist_ok=True)
        try:
            docker("network", "create", "--internal", "--subnet", subnet, "--label", f"{LABEL}={prefix}",
                   self.network)
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", prefix, "-f", self.key],
                           check=True, capture_output=True)
            with open(self.key + ".pub", encoding="ascii") as handle:
                public = handle.read().strip()
            with concurrent.futures.ThreadPoolExecutor(workers) as pool:
                list(pool.map(lambda name: self._start(name, public, docker_args), self.names))
            self._write_vault_password()
        except BaseException:
            self.close()
            raise

    def _start(self, name: str, public: str, docker_args: t.Sequence[str]) -> None:
        docker("run", "-d", "--name", name, "--hostname", name, "--label", f"{LABEL}={self.prefix}",
               "--network", self.network, "--ip", self.addresses[name], *docker_args,
               "--entrypoint", "/bin/sh", IMAGE, "-c", ENTRYPOINT)
        self.started.append(name)
        docker("exec", "-i", "-e", f"HB_PUBKEY={public}", name, "sh", "-c", ADMIN_SETUP,
               stdin=f"{ADMIN}:{self.password}\n")

    def exec_all(self, *argv: str) -> None:
        """Run a command as root on every host (through docker exec: set-up, not the connection under test)."""
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            list(pool.map(lambda name: docker("exec", name, *argv), self.names))

    def _write_vault_password(self) -> None:
        fd = os.open(self.vault_password_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(secrets.token_urlsafe(24) + "\n")

    def vaulted(self, name: str, value: str) -> str:
        """``name: !vault |`` ... : ``value`` encrypted with the fleet's vault password (given on stdin)."""
        proc = subprocess.run([ansible_cli.cli("ansible-vault"), "encrypt_string", "--vault-password-file",
                               self.vault_password_file, "--stdin-name", name],
                              input=value, capture_output=True, text=True, check=True,
                              env=ansible_cli.ansible_env())
        return proc.stdout

    def write_inventory(self, variables: dict[str, t.Any], hosts: t.Sequence[str] | None = None,
                        group: str = "linux_laptops") -> str:
        """The inventory directory: hosts by address, the connection in group_vars, the become password vaulted."""
        members = {name: {"ansible_host": self.addresses[name]} for name in (hosts or self.names)}
        connection = {
            "ansible_connection": "ansible.builtin.ssh",
            "ansible_user": ADMIN,
            "ansible_ssh_private_key_file": self.key,
            # A fresh known_hosts per fleet: host keys are learnt on first contact, then checked.
            "ansible_ssh_common_args": f"-o StrictHostKeyChecking=accept-new "
                                       f"-o UserKnownHostsFile={os.path.join(self.workdir, 'known_hosts')}",
            "ansible_python_interpreter": "/usr/bin/python3",
            "ansible_become_method": "ansible.builtin.sudo",
            "ansible_become_password": "{{ vault_become_password }}",
        }
        group_vars = os.path.join(self.inventory_dir, "group_vars", "all")
        os.makedirs(group_vars, exist_ok=True)
        with open(os.path.join(self.inventory_dir, "hosts.json"), "w", encoding="utf-8") as handle:
            json.dump({group: {"hosts": members}}, handle, indent=1)
        with open(os.path.join(group_vars, "connection.json"), "w", encoding="utf-8") as handle:
            json.dump(connection, handle, indent=1)
        with open(os.path.join(group_vars, "bridge.json"), "w", encoding="utf-8") as handle:
            json.dump(variables, handle, indent=1)
        with open(os.path.join(group_vars, "vault.yml"), "w", encoding="utf-8") as handle:
            handle.write("---\n" + self.vaulted("vault_become_password", self.password))
        return self.inventory_dir

    def env(self, **overrides: str) -> dict[str, str]:
        """The suite's ansible environment, the vault password file, pipelining on."""
        return ansible_cli.ansible_env(ANSIBLE_VAULT_PASSWORD_FILE=self.vault_password_file,
                                       ANSIBLE_PIPELINING="true", **overrides)

    # ---- a laptop falls asleep, and wakes up ------------------------------------------------------------------
    def stop_sshd(self, name: str) -> None:
        docker("exec", name, "sh", "-c", "kill $(cat /run/sshd.pid)")

    def start_sshd(self, name: str) -> None:
        docker("exec", name, "/usr/sbin/sshd")

    def drop_address(self, name: str) -> None:
        docker("network", "disconnect", self.network, name)

    def restore_address(self, name: str) -> None:
        docker("network", "connect", "--ip", self.addresses[name], self.network, name)

    def close(self) -> None:
        if self.started:
            docker("rm", "-f", *self.started, check=False)
            self.started = []
        docker("network", "rm", self.network, check=False)

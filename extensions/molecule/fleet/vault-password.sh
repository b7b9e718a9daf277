#!/bin/sh
# The vault password of one Molecule run (ANSIBLE_VAULT_PASSWORD_FILE in molecule.yml): made at random on first
# use and kept in the scenario's ephemeral directory, never in the repository.
set -eu
file="${MOLECULE_EPHEMERAL_DIRECTORY:?this script is run by Ansible under Molecule}/vault-password"
if [ ! -s "$file" ]; then
  (umask 077 && od -An -N24 -tx1 /dev/urandom | tr -d ' \n' > "$file")
fi
cat "$file"

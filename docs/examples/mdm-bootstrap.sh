#!/bin/sh
# An MDM enrolment script (Jamf Pro, Kandji, Intune... run it as root): pull mode on one laptop (docs/fleet.md).
# 1. a root-owned Ansible in its own venv (root:wheel, not writable by the user: the pull job runs it as root),
# 2. the collections pinned by the team repository's collections/requirements.yml, root-owned too,
# 3. the first ansible-pull, which applies the bridge and installs the pull schedule (docs/pull.md); from then
#    on the schedule re-applies the repository, and installs the collections again when their pins change.
# Set TEAM_REPO (and TEAM_BRANCH); PYTHON must be Python 3.12+ (python.org's installer, deployed by the MDM
# beforehand: macOS's own /usr/bin/python3 is 3.9, too old for ansible-core 2.19+).
set -eu

TEAM_REPO=${TEAM_REPO:?set TEAM_REPO to the team configuration repository URL}
TEAM_BRANCH=${TEAM_BRANCH:-main}
PYTHON=${PYTHON:-/Library/Frameworks/Python.framework/Versions/3.12/bin/python3}
# The same pin as the pull role (pull_ansible_core_version), so its first run keeps this venv as it is.
ANSIBLE_CORE=${ANSIBLE_CORE:-ansible-core==2.19.14}
PREFIX=/opt/dockermac-hostbridge
CHECKOUT=/var/lib/dockermac-hostbridge/pull

[ "$(id -u)" = 0 ] || { echo "run this as root (the MDM does)" >&2; exit 1; }
"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 12))' \
  || { echo "$PYTHON is not Python 3.12+: deploy python.org's installer first" >&2; exit 1; }

umask 022
[ -x "$PREFIX/venv/bin/ansible-pull" ] || "$PYTHON" -m venv "$PREFIX/venv"
"$PREFIX/venv/bin/python" -m pip install --quiet --upgrade "$ANSIBLE_CORE"

# The checkout that ansible-pull will keep up to date gives the pinned requirements (git: Command Line Tools).
if [ -d "$CHECKOUT/.git" ]; then
  git -C "$CHECKOUT" pull --quiet --ff-only
else
  mkdir -p "$(dirname "$CHECKOUT")"
  (umask 077; git clone --quiet --branch "$TEAM_BRANCH" "$TEAM_REPO" "$CHECKOUT")  # root-only, as the role keeps it
fi
"$PREFIX/venv/bin/ansible-galaxy" collection install --upgrade -p "$PREFIX/collections" \
  -r "$CHECKOUT/collections/requirements.yml"

# Everything under the prefix belongs to root and only root can change it.
chown -R root:"$(id -gn root)" "$PREFIX"
chmod -R go-w "$PREFIX"

ANSIBLE_COLLECTIONS_PATH="$PREFIX/collections" "$PREFIX/venv/bin/ansible-pull" \
  -U "$TEAM_REPO" -C "$TEAM_BRANCH" -d "$CHECKOUT" -i "$CHECKOUT/inventory/hosts.yml" local.yml

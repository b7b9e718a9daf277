#!/bin/sh
# Everything bridge.yml can change on these containers (no systemd), in a stable form: unbridge.yml must bring it
# all back. The hosts file, the addresses and links, and every path under /etc, /usr/local and /opt with its type,
# mode and owner and the sha256 of each regular file (the re-apply program, a unit or job file, anything else).
set -eu
echo "hosts $(sha256sum /etc/hosts | cut -d' ' -f1)"
echo "addr $(ip -j addr)"
echo "link $(ip -j link)"
find /etc /usr/local /opt -xdev -printf 'path %p %y %m %U:%G\n' | LC_ALL=C sort
find /etc /usr/local /opt -xdev -type f -exec sha256sum {} + | LC_ALL=C sort -k2

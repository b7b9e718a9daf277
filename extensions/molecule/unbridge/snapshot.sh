#!/bin/sh
# Everything bridge.yml changes on a Linux host, in a stable form: unbridge.yml must bring it all back.
set -eu
echo "hosts $(sha256sum /etc/hosts | cut -d' ' -f1)"
echo "addr $(ip -j addr)"
echo "link $(ip -j link)"
for path in /usr/local/libexec/dockermac-hostbridge /etc/systemd/system/com.dockermac.hostbridge.tap-reapply.timer \
  /etc/systemd/system/com.dockermac.hostbridge.tap-reapply.service /etc/systemd/system/com.dockermac.hostbridge.loopback.service; do
  if [ -e "$path" ]; then echo "exists $path"; else echo "absent $path"; fi
done

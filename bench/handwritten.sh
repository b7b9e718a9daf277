#!/bin/sh
# The script of bench/handwritten.yml (run as root through `shell`, variables in the environment): prints one
# line per change, nothing when the host is already in the desired state.
set -eu
LANG=C
have=$(ip -o -4 addr show dev lo)
for address in $HB_ALIASES; do
  case "$have" in
    *" inet $address "*) ;;
    *) ip addr add "$address" dev lo; echo "added alias $address" ;;
  esac
done
# Stale aliases inside loopback_exclusive_within (a /24 here) go.
for address in $(printf '%s\n' "$have" | awk '{print $4}'); do
  case "$address" in
    "$HB_EXCLUSIVE_PREFIX"*)
      case " $HB_ALIASES " in
        *" $address "*) ;;
        *) ip addr del "$address" dev lo; echo "removed alias $address" ;;
      esac ;;
  esac
done

uid=$(id -u "$HB_TAP_USER")
if [ -d "/sys/class/net/$HB_TAP" ] && [ "$(cat "/sys/class/net/$HB_TAP/owner")" != "$uid" ]; then
  ip link del dev "$HB_TAP"; echo "removed $HB_TAP (wrong owner)"
fi
if [ ! -d "/sys/class/net/$HB_TAP" ]; then
  ip tuntap add dev "$HB_TAP" mode tap user "$HB_TAP_USER"; echo "created $HB_TAP"
fi
if ! ip -o -4 addr show dev "$HB_TAP" | grep -qF " inet $HB_TAP_ADDRESS "; then
  ip addr add "$HB_TAP_ADDRESS" dev "$HB_TAP"; echo "address on $HB_TAP"
fi
if ! ip -o link show dev "$HB_TAP" | grep -q '[<,]UP[,>]'; then
  ip link set dev "$HB_TAP" up; echo "$HB_TAP up"
fi

program=/usr/local/libexec/dockermac-hostbridge/tap-reapply
wanted=$(cat <<EOF
#!/bin/sh
set -u
[ -d /sys/class/net/$HB_TAP ] || exit 0
if ip -o -4 addr show dev $HB_TAP | grep -qF " inet $HB_TAP_ADDRESS " && ip -o link show dev $HB_TAP | grep -q '[<,]UP[,>]'; then
  exit 0
fi
ip addr replace $HB_TAP_ADDRESS dev $HB_TAP && exec ip link set dev $HB_TAP up
EOF
)
if [ ! -f "$program" ] || [ "$(cat "$program")" != "$wanted" ] || [ "$(stat -c '%a %U' "$program")" != "755 root" ]; then
  mkdir -p "$(dirname "$program")"
  printf '%s\n' "$wanted" > "$program.tmp"
  chmod 0755 "$program.tmp"
  chown root:root "$program.tmp"
  mv "$program.tmp" "$program"
  echo "installed $program"
fi

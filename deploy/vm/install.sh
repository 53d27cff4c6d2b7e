#!/usr/bin/env bash
# Installs a ZenMesh edge on a systemd VM: the agent and Envoy, and optionally the ingester and
# the egress, each as its own unprivileged system user in group "zenmesh".
#
#   sudo deploy/vm/install.sh --bundle bundle.json [--with-ingester] [--with-egress]
#        [--from DIR] [--envoy /path/to/envoy] [--root DIR] [--no-start]
#
# --from DIR   published services (DIR/agent, DIR/ingester, DIR/egress); default: publish them from
#              this checkout with 'dotnet publish' (needs the .NET SDK and npm).
# --bundle F   the enrollment bundle from 'zenmesh enroll <edge> -o F'; enrolls the agent once.
# --envoy P    an Envoy binary (release PINNED_ENVOY below) to install as /usr/local/bin/envoy.
# --root DIR   stage everything under DIR instead of /, and only print what would be run as root
#              (users, enrollment, systemctl): for packaging, and for the tests.
set -euo pipefail

PINNED_ENVOY=1.34.1
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
root="" from="" bundle="" envoy="" ingester=0 egress=0 start=1

fail() { echo "install.sh: $*" >&2; exit 2; }
while [ $# -gt 0 ]; do
  case "$1" in
    --from) from=${2:?--from needs a directory}; shift 2 ;;
    --bundle) bundle=${2:?--bundle needs a file}; shift 2 ;;
    --envoy) envoy=${2:?--envoy needs a file}; shift 2 ;;
    --root) root=${2:?--root needs a directory}; shift 2 ;;
    --with-ingester) ingester=1; shift ;;
    --with-egress) egress=1; shift ;;
    --no-start) start=0; shift ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) fail "unknown option '$1'; see --help" ;;
  esac
done
[ -z "$bundle" ] || [ -f "$bundle" ] || fail "--bundle '$bundle' does not exist; make one with: zenmesh enroll <edge> -o bundle.json"
[ -z "$envoy" ] || [ -x "$envoy" ] || fail "--envoy '$envoy' is not an executable file"
[ -n "$root" ] || [ "$(id -u)" -eq 0 ] || fail "run as root (it creates users and systemd units), or stage with --root DIR"

services=(agent)
[ $ingester -eq 0 ] || services+=(ingester)
[ $egress -eq 0 ] || services+=(egress)

# As root, run it; staged, say it.
privileged() { if [ -n "$root" ]; then echo "would run: $*"; else "$@"; fi; }

if [ -z "$from" ]; then
  from=$(mktemp -d)
  for s in "${services[@]}"; do
    project=$(case $s in agent) echo Agent ;; ingester) echo Ingester ;; egress) echo Egress ;; esac)
    dotnet publish "$repo/src/$project" -c Release -o "$from/$s" --nologo -v quiet
  done
fi
for s in "${services[@]}"; do
  [ -d "$from/$s" ] || fail "--from '$from' has no $s/ directory; publish with: dotnet publish src/<Service> -c Release -o $from/$s"
done

privileged groupadd --system --force zenmesh
for user in "${services[@]/#/zenmesh-}" zenmesh-envoy; do
  if ! id "$user" > /dev/null 2>&1; then
    privileged useradd --system --gid zenmesh --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$user"
  fi
done

install -d -m 0755 "$root/opt/zenmesh" "$root/etc/systemd/system"
for s in "${services[@]}"; do
  rm -rf "$root/opt/zenmesh/$s"
  cp -r "$from/$s" "$root/opt/zenmesh/$s"
  install -m 0644 "$here/zenmesh-$s.service" "$root/etc/systemd/system/zenmesh-$s.service"
done
install -m 0644 "$here/zenmesh-envoy.service" "$root/etc/systemd/system/zenmesh-envoy.service"
install -d -m 0750 "$root/etc/zenmesh" "$root/etc/zenmesh/secrets"
privileged chgrp zenmesh /etc/zenmesh /etc/zenmesh/secrets
# The secret the egress presents to the ingester's job stream: each runs as its own user, so neither
# can read the other's data directory; both units read this file (group zenmesh). Kept on reinstall.
if [ $ingester -eq 1 ] && [ $egress -eq 1 ] && [ ! -f "$root/etc/zenmesh/stream.env" ]; then
  secret=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
  (umask 0137 && printf 'Ingester__StreamSecret=%s\nEgress__IngesterSecret=%s\n' "$secret" "$secret" > "$root/etc/zenmesh/stream.env")
  privileged chgrp zenmesh /etc/zenmesh/stream.env
fi
if [ -n "$envoy" ]; then
  install -D -m 0755 "$envoy" "$root/usr/local/bin/envoy"
elif [ ! -x "$root/usr/local/bin/envoy" ]; then
  echo "note: no Envoy at /usr/local/bin/envoy; install release $PINNED_ENVOY there (or pass --envoy)." >&2
fi

# The agent's state is its own; systemd makes it (StateDirectory=) on first start, but enrolling
# comes first, as the agent's user.
install -d -m 0750 "$root/var/lib/zenmesh" "$root/var/lib/zenmesh/agent"
privileged chown zenmesh-agent:zenmesh /var/lib/zenmesh/agent
if [ -n "$bundle" ]; then
  # Handed to the agent's user, which may not read the operator's copy; removed once used.
  privileged install -m 0600 -o zenmesh-agent "$(realpath "$bundle")" /var/lib/zenmesh/agent/enrollment-bundle.json
  privileged runuser -u zenmesh-agent -- /usr/bin/dotnet /opt/zenmesh/agent/ZenMesh.Agent.dll enroll --bundle /var/lib/zenmesh/agent/enrollment-bundle.json --state-dir /var/lib/zenmesh/agent
  privileged rm -f /var/lib/zenmesh/agent/enrollment-bundle.json
fi

units=(zenmesh-envoy "${services[@]/#/zenmesh-}")
privileged systemctl daemon-reload
if [ $start -eq 1 ]; then
  privileged systemctl enable --now "${units[@]}"
fi
echo "installed: ${units[*]} (secrets: one file per name in /etc/zenmesh/secrets, group zenmesh, mode 0640)"

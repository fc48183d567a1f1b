#!/usr/bin/env bash
# The deployment files of deploy/ checked by the tools that run them:
# systemd-analyze verify (the unit, with ExecStart pointed at this build),
# nginx -t (the server block, with a throwaway certificate) and caddy
# validate (the Caddyfile). Installs Debian's nginx-light and caddy when
# missing. Exits non-zero naming the file that is wrong.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
need() { command -v "$1" >/dev/null 2>&1 || missing+=("$2"); }
missing=()
need systemd-analyze systemd
need nginx nginx-light
need caddy caddy
need openssl openssl
if [ ${#missing[@]} -gt 0 ]; then
  echo "check-deploy: installing ${missing[*]}" >&2
  $sudo apt-get install -y -q "${missing[@]}" >/dev/null 2>&1 \
    || { $sudo apt-get update -q >/dev/null && $sudo apt-get install -y -q "${missing[@]}" >/dev/null; }
fi

# systemd: the unit as shipped, but running this checkout's binary.
binary=$root/target/debug/hcal
[ -x "$binary" ] || { echo "check-deploy: build hcal first (cargo build -p hcal)" >&2; exit 1; }
sed "s#/opt/hcal/hcal #$binary #" deploy/hcal.service >"$work/hcal.service"
if ! out=$(systemd-analyze verify "$work/hcal.service" 2>&1); then
  echo "deploy/hcal.service: systemd-analyze verify failed:"; echo "$out"; exit 1
fi
# Warnings count as failures too (an unknown setting is only a warning).
if [ -n "$out" ]; then echo "deploy/hcal.service: systemd-analyze verify says:"; echo "$out"; exit 1; fi
echo "deploy/hcal.service: systemd-analyze verify ok"

# nginx: the server block inside a minimal configuration.
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=hcal.example.com \
  -keyout "$work/key.pem" -out "$work/cert.pem" >/dev/null 2>&1
sed -e "s#/etc/letsencrypt/live/hcal.example.com/fullchain.pem#$work/cert.pem#" \
    -e "s#/etc/letsencrypt/live/hcal.example.com/privkey.pem#$work/key.pem#" \
    deploy/nginx.conf >"$work/site.conf"
cat >"$work/nginx.conf" <<CONF
pid $work/nginx.pid;
error_log $work/error.log;
events {}
http {
    access_log off;
    client_body_temp_path $work/body;
    proxy_temp_path $work/proxy;
    include $work/site.conf;
}
CONF
if ! out=$(nginx -t -c "$work/nginx.conf" -p "$work" 2>&1); then
  echo "deploy/nginx.conf: nginx -t failed:"; echo "$out"; exit 1
fi
# A warning (a deprecated directive, say) fails it too.
if grep -q '\[warn\]\|\[emerg\]' <<<"$out"; then
  echo "deploy/nginx.conf: nginx -t warns:"; echo "$out"; exit 1
fi
echo "deploy/nginx.conf: nginx -t ok"

# Caddy: the Caddyfile as it is (validate provisions, it fetches no certificate).
if ! out=$(HOME=$work XDG_DATA_HOME=$work XDG_CONFIG_HOME=$work caddy validate --config deploy/Caddyfile --adapter caddyfile 2>&1); then
  echo "deploy/Caddyfile: caddy validate failed:"; echo "$out" | tail -5; exit 1
fi
echo "deploy/Caddyfile: caddy validate ok"

#!/bin/sh
# The NAT tests build network namespaces with nftables routers (and coturn,
# with STOOP_NETNS_COTURN=1). Install what is missing from Debian when we are
# root and may (as ensure-chromium.sh does); otherwise say what to do. The
# tests themselves skip with a clear message when this fails.
set -e
need="nft"
[ "${STOOP_NETNS_COTURN:-0}" = "1" ] && need="$need turnserver"
missing=""
for bin in $need; do
  command -v "$bin" >/dev/null 2>&1 || [ -x "/usr/sbin/$bin" ] || [ -x "/usr/bin/$bin" ] || missing="$missing $bin"
done
[ -z "$missing" ] && exit 0
pkgs=""
for bin in $missing; do
  case "$bin" in
    nft) pkgs="$pkgs nftables" ;;
    turnserver) pkgs="$pkgs coturn" ;;
  esac
done
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "Installing Debian's$pkgs for the NAT tests (apt-get)..."
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends $pkgs >/dev/null
  exit 0
fi
echo "The NAT tests need$pkgs: run 'sudo apt-get install -y$pkgs' and retry as root." >&2
exit 1

#!/usr/bin/env bash
# Debian packages the email and web chat tests need: Dovecot (real IMAP) and Chromium (widget).
set -euo pipefail
need=()
command -v dovecot >/dev/null 2>&1 || need+=(dovecot-imapd)
command -v doveadm >/dev/null 2>&1 || need+=(dovecot-core)
command -v openssl >/dev/null 2>&1 || need+=(openssl)  # the tests make a self-signed cert
[ -x /usr/bin/chromium ] && dpkg -s chromium 2>/dev/null | grep -q '^Status: install ok installed' \
  || need+=(chromium)
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get -o DPkg::Lock::Timeout=600 update -qq
  $SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${need[@]}"
fi
# The packaged service is not used: tests run a private Dovecot from their own config.

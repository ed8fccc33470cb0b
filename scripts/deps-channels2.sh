#!/usr/bin/env bash
# Debian packages the email and web chat tests need: Dovecot (real IMAP) and Chromium (widget).
set -euo pipefail
need=()
command -v dovecot >/dev/null 2>&1 || need+=(dovecot-imapd)
command -v doveadm >/dev/null 2>&1 || need+=(dovecot-core)
command -v openssl >/dev/null 2>&1 || need+=(openssl)  # the tests make a self-signed cert
[ -x /usr/bin/chromium ] && dpkg -s chromium 2>/dev/null | grep -q '^Status: install ok installed' \
  || need+=(chromium)
# CPython's email test corpus (tests/connectors/test_email_parse.py): the app's Python usually
# has it; Debian's python3 keeps it in libpython3.X-testsuite. Same places the test looks.
py=.venv/bin/python; [ -x "$py" ] || py=python3
stdlib=$("$py" -c 'import sysconfig; print(sysconfig.get_paths()["stdlib"])' 2>/dev/null || true)
corpus=no
for d in ${EMAIL_TEST_CORPUS:+"$EMAIL_TEST_CORPUS"} ${stdlib:+"$stdlib/test/test_email/data"} \
    /usr/lib/python3*/test/test_email/data /usr/local/lib/python3*/test/test_email/data \
    "$HOME"/.pyenv/versions/*/lib/python3*/test/test_email/data; do
  compgen -G "$d/msg_*.txt" >/dev/null && { corpus=yes; break; }
done
if [ "$corpus" = no ]; then
  debian_py=$(/usr/bin/python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')
  need+=("libpython$debian_py-testsuite")
fi
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get -o DPkg::Lock::Timeout=600 update -qq
  $SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${need[@]}"
fi
# The packaged service is not used: tests run a private Dovecot from their own config.

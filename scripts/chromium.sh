#!/usr/bin/env bash
# Headless Chromium and its WebDriver for the portal's browser tests.
#
#   scripts/chromium.sh install   installs Debian's `chromium` and
#                                 `chromium-driver` when chromedriver is missing
#   scripts/chromium.sh driver    prints the path of chromedriver (installing
#                                 it first when missing)
#
# The tests start chromedriver themselves and run Chromium headless with a
# fresh profile and no background networking (this machine's network is
# closed to everything but package registries).
set -euo pipefail

say() { echo "chromium.sh: $*" >&2; }

find_driver() {
  for candidate in chromedriver /usr/bin/chromedriver /usr/lib/chromium/chromedriver; do
    if command -v "$candidate" >/dev/null 2>&1; then
      command -v "$candidate"
      return 0
    fi
  done
  return 1
}

install() {
  if find_driver >/dev/null; then
    return 0
  fi
  if ! command -v apt-get >/dev/null 2>&1; then
    say "chromedriver is missing and apt-get is not available to install it"
    return 1
  fi
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  say "installing chromium and chromium-driver from Debian's packages"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq >&2
  $sudo apt-get install -y -qq chromium chromium-driver >&2
  find_driver >/dev/null
}

case "${1:-driver}" in
  install) install ;;
  driver) install && find_driver ;;
  *) say "usage: scripts/chromium.sh install|driver"; exit 2 ;;
esac

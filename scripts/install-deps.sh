#!/usr/bin/env bash
# Installs what dasnet needs to build and test on Debian 12: the packages in
# scripts/apt-packages.txt (only those missing, so a ready machine runs no apt-get) and the
# Python packages in scripts/pip-packages.txt. Run as root (or with sudo available).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

missing=()
while read -r pkg; do
  [ -z "$pkg" ] || [[ "$pkg" == \#* ]] && continue
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done < "$here/apt-packages.txt"
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: apt-get install ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

if [ -f "$here/pip-packages.txt" ]; then
  need=()
  # A line is "package [module]": the module to look for when its name differs from the package's.
  while read -r pkg module; do
    [ -z "$pkg" ] || [[ "$pkg" == \#* ]] && continue
    module=${module:-${pkg%%[<>=]*}}
    python3 -c "import importlib.util, sys; sys.exit(importlib.util.find_spec('$module') is None)" 2>/dev/null || need+=("$pkg")
  done < "$here/pip-packages.txt"
  if [ ${#need[@]} -gt 0 ]; then
    echo "install-deps: pip install ${need[*]}"
    python3 -m pip install -q "${need[@]}"
  fi
fi

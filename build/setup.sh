#!/usr/bin/env bash
# Brings a fresh Debian/Ubuntu checkout to "ready": Debian packages, npm modules, build.
# Both README commands run it; it is idempotent and takes about a second when nothing is missing.
#   --quiet   print only what it does, not what it skips
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
quiet=false
[[ "${1:-}" == "--quiet" ]] && quiet=true
say() { $quiet || echo "setup: $*"; }
act() { echo "setup: $*"; }

# --- Debian packages --------------------------------------------------------------------------------
# Binaries/files that prove each package is present (dpkg -s is slow when called many times).
declare -A probes=(
  [pcscd]=/usr/sbin/pcscd
  [libpcsclite-dev]=/usr/include/PCSC/winscard.h
  [vsmartcard-vpcd]=/usr/lib/pcsc/drivers/serial/libifdvpcd.so
  [softhsm2]=/usr/bin/softhsm2-util
  [opensc]=/usr/bin/pkcs11-tool
  [chromium]=/usr/bin/chromium
  [xvfb]=/usr/bin/Xvfb
  [fonts-ipafont-gothic]=/usr/share/fonts/opentype/ipafont-gothic/ipag.ttf
  [fonts-noto-cjk]=/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc
  [iproute2]=/usr/sbin/ip
  [util-linux]=/usr/bin/unshare
  [libudev-dev]=/usr/include/libudev.h
  [python3]=/usr/bin/python3
  [make]=/usr/bin/make
  [g++]=/usr/bin/g++
  [nginx]=/usr/sbin/nginx
  [cups]=/usr/sbin/cupsd
  [cups-client]=/usr/bin/lpstat
  [printer-driver-cups-pdf]=/usr/lib/cups/backend/cups-pdf
  [poppler-utils]=/usr/bin/pdftotext
  # systemd-analyze: the unit files in build/systemd/ are checked with `systemd-analyze verify`.
  [systemd]=/usr/bin/systemd-analyze
)
missing=()
for pkg in "${!probes[@]}"; do
  [[ -e "${probes[$pkg]}" ]] || missing+=("$pkg")
done
# PostgreSQL's binaries live under a versioned folder; the hub tests start a private cluster with them.
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || missing+=(postgresql)
if ((${#missing[@]})); then
  if [[ $(id -u) -eq 0 ]]; then
    act "installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "setup: these Debian packages are missing: ${missing[*]}" >&2
    echo "setup: run this once as root, then run the command again:" >&2
    echo "  sudo apt-get update && sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
    exit 1
  fi
else
  say "Debian packages present"
fi

# --- Node.js -----------------------------------------------------------------------------------------
if ! command -v node >/dev/null; then
  echo "setup: Node.js 20.19 or newer is required (e.g. 'apt-get install nodejs npm' on Debian 13, or NodeSource)" >&2
  exit 1
fi
node -e 'const [a,b]=process.versions.node.split(".").map(Number); if (a<20||(a===20&&b<19)) { console.error("setup: Node.js "+process.versions.node+" is too old; 20.19 or newer is required"); process.exit(1) }'

# --- npm modules -------------------------------------------------------------------------------------
# The Electron binary cannot be downloaded on every machine; the project installs, builds and tests
# without it (npm start then uses the browser shell). Installing it later: node node_modules/electron/install.js
export ELECTRON_SKIP_BINARY_DOWNLOAD=1
stamp=node_modules/.jpki-install-stamp
if [[ ! -f $stamp || package.json -nt $stamp || package-lock.json -nt $stamp ]]; then
  act "installing npm modules (native ones are compiled: about two minutes the first time)"
  # Not `npm ci`: npm 11 writes lock files without the other platforms' optional packages (rollup,
  # esbuild) and then refuses them in `npm ci`; `npm install` follows the lock all the same.
  npm install --no-audit --no-fund --loglevel=error
  # npm 11 runs install scripts only for packages listed in package.json "allowScripts"; older npm runs
  # them all. Either way, make sure the native modules were built for this Node.
  for mod in better-sqlite3 pcsclite pkcs11js; do
    if ! node -e "require('$mod')" 2>/dev/null; then
      act "building native module $mod"
      npm rebuild "$mod" --loglevel=error
    fi
  done
  touch "$stamp"
else
  say "npm modules up to date"
fi

# --- build -------------------------------------------------------------------------------------------
build_stamp=dist/.build-stamp
newest_source=$(find base protocol main hsm whitelist config sim hub bench renderer -type f \( -name '*.ts' -o -name '*.tsx' -o -name '*.cts' -o -name '*.json' -o -name '*.css' -o -name '*.html' \) -newer "$build_stamp" -print -quit 2>/dev/null || true)
if [[ ! -f $build_stamp || -n $newest_source || tsconfig.json -nt $build_stamp || package.json -nt $build_stamp ]]; then
  act "building"
  npm run --silent build >/dev/null
  touch "$build_stamp"
else
  say "build up to date"
fi

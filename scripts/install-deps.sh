#!/usr/bin/env bash
# Installs the system packages nightpermit needs on a fresh Debian machine (run as root).
# Idempotent: does nothing when everything is already there, so `make run`/`make test` can call it every time.
set -euo pipefail

PACKAGES=(
  pkg-config clang libclang-dev            # bindgen for the tesseract/leptonica -sys crates
  tesseract-ocr tesseract-ocr-chi-sim      # OCR engine + simplified Chinese model
  libtesseract-dev libleptonica-dev
  fonts-wqy-zenhei fonts-noto-cjk          # CJK fonts for permits and fixtures
  qpdf poppler-utils                       # independent PDF checks in the test suite
  wrk                                      # load generator for make bench-api
  chromium chromium-driver                 # browser tests of the web pages (WebDriver)
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "missing system packages: ${missing[*]}" >&2
    echo "fix: run 'sudo $0' (or install them with apt-get) and retry" >&2
    exit 1
  fi
  echo "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# pyHanko: the independent PDF-signature validator the seal tests run against our permits.
# pip puts its command in Python's scripts directory; the Makefile adds that to PATH.
PATH="$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))'):$PATH"
if ! command -v pyhanko >/dev/null 2>&1; then
  echo "installing pyHanko"
  python3 -m pip install --quiet --disable-pip-version-check "pyhanko==0.38.*" "pyhanko-cli==0.6.*" 2>&1 | grep -v "Running pip as the 'root' user" || true
  command -v pyhanko >/dev/null 2>&1 || { echo "pyHanko did not install (fix: python3 -m pip install pyhanko pyhanko-cli)" >&2; exit 1; }
fi

# axe-core: the accessibility engine tests/accessibility.rs injects into every page. Fetched once
# from the npm registry into a cache outside the checkout (never at test time), pinned by version
# and by the tarball's sha512 integrity as the registry publishes it.
AXE_VERSION=4.10.3
AXE_INTEGRITY="sha512-Xm7bpRXnDSX2YE2YFfBk2FnF0ep6tmG7xPh8iHee8MIcrgq762Nkce856dYtJYLkuIoYZvGfTs/PbZhideTcEg=="
AXE_DIR="${NIGHTPERMIT_AXE_DIR:-$HOME/.cache/nightpermit/axe}"
if [ ! -s "$AXE_DIR/$AXE_VERSION/axe.min.js" ]; then
  command -v npm >/dev/null 2>&1 || {
    echo "npm is missing: it fetches axe-core for the accessibility tests (fix: apt-get install npm, then make deps)" >&2
    exit 1
  }
  echo "fetching axe-core $AXE_VERSION"
  work="$(mktemp -d)"
  (cd "$work" && npm pack --silent "axe-core@$AXE_VERSION" >/dev/null)
  tarball="$work/axe-core-$AXE_VERSION.tgz"
  got="sha512-$(openssl dgst -sha512 -binary "$tarball" | base64 -w0)"
  if [ "$got" != "$AXE_INTEGRITY" ]; then
    echo "axe-core $AXE_VERSION tarball integrity mismatch: got $got, expected $AXE_INTEGRITY" >&2
    rm -rf "$work"
    exit 1
  fi
  mkdir -p "$AXE_DIR/$AXE_VERSION"
  tar -xzf "$tarball" -C "$work" package/axe.min.js package/LICENSE
  mv "$work/package/LICENSE" "$AXE_DIR/$AXE_VERSION/LICENSE"
  mv "$work/package/axe.min.js" "$AXE_DIR/$AXE_VERSION/axe.min.js"
  rm -rf "$work"
fi

#!/usr/bin/env bash
# Installs the PP-OCRv4 models (detection, recognition, direction classifier) and the ONNX Runtime
# shared library that crates/prereview/src/ppocr.rs loads. Everything comes from two pinned PyPI
# wheels, checked against the sha256 values below; nothing is downloaded at run time.
#
#   bash scripts/install-models.sh            # into ${NIGHTPERMIT_MODELS_DIR:-$HOME/.cache/nightpermit/models}
#   NIGHTPERMIT_MODELS_DIR=/some/dir bash scripts/install-models.sh
#
# Idempotent: when every file is present with the expected sha256 it prints one line and exits 0.
set -euo pipefail

MODELS_DIR="${NIGHTPERMIT_MODELS_DIR:-$HOME/.cache/nightpermit/models}"

# rapidocr_onnxruntime 1.4.4 ships the PP-OCRv4 ONNX models (pure-Python wheel, any platform).
RAPIDOCR_WHEEL="rapidocr_onnxruntime-1.4.4-py3-none-any.whl"
RAPIDOCR_WHEEL_SHA256="971d7d5f223a7a808662229df1ef69893809d8457d834e6373d3854bc1782cbf"
# onnxruntime 1.31.1 matches the `ort` crate 2.0.0-rc.15 (API 31). The wheel is pinned to one
# platform and Python tag so the same file (and sha256) is fetched whatever python3 is installed;
# only its libonnxruntime.so is used (needs glibc >= 2.28, x86_64).
ORT_VERSION="1.31.1"
ORT_WHEEL="onnxruntime-${ORT_VERSION}-cp311-cp311-manylinux_2_28_x86_64.whl"
ORT_WHEEL_SHA256="5752bd508126ae7c49894d3b9d2e83f0c3d487319246d04c444b393308d7ad7f"

# destination file name | path inside its wheel | sha256 of the extracted file
FILES=(
  "ch_PP-OCRv4_det_infer.onnx|rapidocr_onnxruntime/models/ch_PP-OCRv4_det_infer.onnx|d2a7720d45a54257208b1e13e36a8479894cb74155a5efe29462512d42f49da9"
  "ch_PP-OCRv4_rec_infer.onnx|rapidocr_onnxruntime/models/ch_PP-OCRv4_rec_infer.onnx|48fc40f24f6d2a207a2b1091d3437eb3cc3eb6b676dc3ef9c37384005483683b"
  "ch_ppocr_mobile_v2.0_cls_infer.onnx|rapidocr_onnxruntime/models/ch_ppocr_mobile_v2.0_cls_infer.onnx|e47acedf663230f8863ff1ab0e64dd2d82b838fceb5957146dab185a89d6215c"
  "libonnxruntime.so|onnxruntime/capi/libonnxruntime.so.${ORT_VERSION}|fc44112fbe06d7d689c57e11d3862031f64711007e4ee020f8eed5185fd2c1d3"
)

die() {
  echo "install-models: $1" >&2
  echo "fix: $2" >&2
  exit 1
}

sha_of() { sha256sum "$1" | cut -d' ' -f1; }

all_present() {
  local entry name sha
  for entry in "${FILES[@]}"; do
    IFS='|' read -r name _ sha <<<"$entry"
    [ -f "$MODELS_DIR/$name" ] || return 1
    [ "$(sha_of "$MODELS_DIR/$name")" = "$sha" ] || return 1
  done
}

if all_present; then
  echo "PP-OCR models and ONNX Runtime ${ORT_VERSION} already installed in $MODELS_DIR"
  exit 0
fi

command -v sha256sum >/dev/null 2>&1 || die "sha256sum not found" "apt-get install coreutils"
python3 -m pip --version >/dev/null 2>&1 || die "python3 -m pip not available" "apt-get install -y python3-pip (as root), then re-run: make deps"

mkdir -p "$MODELS_DIR" || die "cannot create $MODELS_DIR" "set NIGHTPERMIT_MODELS_DIR to a writable directory and re-run: make deps"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

echo "installing PP-OCRv4 models and ONNX Runtime ${ORT_VERSION} into $MODELS_DIR"
fetch_wheel() { # <wheel file> <expected sha256> <pip args...>
  local wheel="$1" sha="$2"
  shift 2
  if ! python3 -m pip download --quiet --disable-pip-version-check --no-deps -d "$work" "$@" >"$work/pip.log" 2>&1; then
    cat "$work/pip.log" >&2
    die "pip could not download $wheel" "check that PyPI is reachable (pip config / proxy), then re-run: make deps"
  fi
  [ -f "$work/$wheel" ] || die "pip did not produce $wheel (got: $(ls "$work" | tr '\n' ' '))" "re-run: make deps; if it persists, update the pins in $0"
  local got
  got="$(sha_of "$work/$wheel")"
  [ "$got" = "$sha" ] || die "$wheel has sha256 $got, expected $sha" "the file on PyPI changed or was corrupted in transit; re-run: make deps, and if it persists review the pin in $0"
}
fetch_wheel "$RAPIDOCR_WHEEL" "$RAPIDOCR_WHEEL_SHA256" "rapidocr_onnxruntime==1.4.4"
fetch_wheel "$ORT_WHEEL" "$ORT_WHEEL_SHA256" "onnxruntime==${ORT_VERSION}" \
  --only-binary=:all: --implementation cp --python-version 3.11 --platform manylinux_2_28_x86_64

for entry in "${FILES[@]}"; do
  IFS='|' read -r name inner sha <<<"$entry"
  case "$inner" in
    rapidocr_onnxruntime/*) wheel="$work/$RAPIDOCR_WHEEL" ;;
    *) wheel="$work/$ORT_WHEEL" ;;
  esac
  tmp="$MODELS_DIR/.$name.partial"
  # Python's zipfile rather than unzip(1): pip needs python3 anyway.
  python3 -c 'import sys, zipfile, shutil
with zipfile.ZipFile(sys.argv[1]) as z, z.open(sys.argv[2]) as src, open(sys.argv[3], "wb") as dst:
    shutil.copyfileobj(src, dst)' "$wheel" "$inner" "$tmp" 2>"$work/unzip.log" ||
    { rm -f "$tmp"; cat "$work/unzip.log" >&2; die "$inner could not be extracted from $(basename "$wheel")" "update the pins in $0"; }
  got="$(sha_of "$tmp")"
  [ "$got" = "$sha" ] || { rm -f "$tmp"; die "$name extracted with sha256 $got, expected $sha" "update the pins in $0"; }
  # Rename within the directory is atomic: a reader never sees a half-written model.
  mv -f "$tmp" "$MODELS_DIR/$name"
done
chmod 0644 "$MODELS_DIR"/*.onnx
chmod 0755 "$MODELS_DIR/libonnxruntime.so"

all_present || die "verification after install failed in $MODELS_DIR" "remove $MODELS_DIR and re-run: make deps"
echo "installed: $(cd "$MODELS_DIR" && ls | tr '\n' ' ')"

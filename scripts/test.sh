#!/usr/bin/env bash
# The whole test suite, from a fresh clone: installs what it needs (Python
# packages for moto and cfn-lint), starts moto server for the AWS adapters'
# on-the-wire conformance tests, builds the WebAssembly rule plugins (adding
# the rustup wasm targets if missing), runs every Rust test on both backends,
# lints the SAM template, and stops moto again.
#
#   scripts/test.sh            # everything
#   RENTOPS_SKIP_MOTO=1 scripts/test.sh   # embedded backend only (no Python needed)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

# Reuse one build cache across clones on the same machine (CI clones afresh).
if [ -z "${CARGO_TARGET_DIR:-}" ]; then
  if [ -d /work ] && [ -w /work ]; then export CARGO_TARGET_DIR=/work/target; else export CARGO_TARGET_DIR="$root/target"; fi
fi
echo "== build cache: $CARGO_TARGET_DIR"

need_py() { python3 -c "import $1" >/dev/null 2>&1; }
if [ "${RENTOPS_SKIP_MOTO:-0}" != 1 ]; then
  if ! command -v moto_server >/dev/null 2>&1 || ! need_py moto; then
    echo "== installing moto[server] (brings cfn-lint)"
    python3 -m pip install --quiet --disable-pip-version-check 'moto[server]>=5.1,<6' 'cfn-lint>=1'
  fi
  if ! command -v cfn-lint >/dev/null 2>&1; then
    python3 -m pip install --quiet --disable-pip-version-check 'cfn-lint>=1'
  fi
  eval "$(scripts/moto.sh start)"
  trap 'scripts/moto.sh stop' EXIT
  export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
  export RENTOPS_MOTO=1
fi

echo "== rule plugins (wasm32 guests -> components; the plugin tests load them)"
scripts/build-plugins.sh

echo "== cargo test (workspace: domain, codecs, ports, embedded, aws on moto, app, plugins, functions, e2e)"
log="${TMPDIR:-/tmp}/rentops-test.log"
set +e
cargo test --workspace --locked --no-fail-fast 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e

if [ "${RENTOPS_SKIP_MOTO:-0}" != 1 ]; then
  echo "== cfn-lint infra/template.yaml"
  scripts/lint-infra.sh || status=1
fi

# One closing line that sums every test binary's result.
awk '/^test result:/ { p += $4; f += $6; i += $8 } END { printf "rentops: %d passed, %d failed, %d skipped\n", p, f, i }' \
  "$log" | sed 's/^rentops: /tests: /'
exit "$status"

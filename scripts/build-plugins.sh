#!/usr/bin/env bash
# Builds every rule-plugin guest and packages the real plugins as components.
#
#   scripts/build-plugins.sh
#
# 1. `cargo build --release --target wasm32-unknown-unknown` for every guest crate: the default plugin, the
#    example plugin and the hostile test guests (core modules land in
#    $CARGO_TARGET_DIR/wasm32-unknown-unknown/release/<crate>.wasm; the plugin-host tests read them there).
# 2. The hostile guest once more for wasm32-wasip2 (the host's "plugin imports WASI" test needs it).
# 3. Componentizes the real plugins with rentops-plugin-tools into $CARGO_TARGET_DIR/plugins/<name>.wasm
#    (default.wasm, example.wasm), checking each: zero imports, rentops:rules@1.x exports. A component is
#    rebuilt only when its core module is newer, so a run with nothing changed takes a few seconds.
# Installs the wasm targets with rustup when missing. Prints the sizes.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

# Same build cache rule as scripts/test.sh.
if [ -z "${CARGO_TARGET_DIR:-}" ]; then
  if [ -d /work ] && [ -w /work ]; then export CARGO_TARGET_DIR=/work/target; else export CARGO_TARGET_DIR="$root/target"; fi
fi
target_dir=$CARGO_TARGET_DIR

need_target() {
  if ! rustup target list --installed 2>/dev/null | grep -qx "$1"; then
    echo "== rustup target add $1"
    rustup target add "$1"
  fi
}

plugins=(rentops-plugin-default rentops-plugin-example)      # real plugins: packaged as components
hostile=()                                                    # test guests: core modules only
for c in rentops-plugin-hostile rentops-plugin-hostile-v2; do
  if cargo metadata --format-version 1 --no-deps --offline 2>/dev/null | grep -q "\"name\":\"$c\""; then hostile+=("$c"); fi
done

need_target wasm32-unknown-unknown
pkgs=()
for c in "${plugins[@]}" "${hostile[@]}"; do pkgs+=(-p "$c"); done
echo "== guests: cargo build --release --target wasm32-unknown-unknown (${plugins[*]} ${hostile[*]})"
cargo build --locked --quiet --release --target wasm32-unknown-unknown "${pkgs[@]}"

if [ ${#hostile[@]} -gt 0 ] && printf '%s\n' "${hostile[@]}" | grep -qx rentops-plugin-hostile; then
  need_target wasm32-wasip2
  echo "== hostile guest for wasm32-wasip2 (imports WASI on purpose)"
  cargo build --locked --quiet --release --target wasm32-wasip2 -p rentops-plugin-hostile
fi

echo "== packaging tool"
cargo build --locked --quiet -p rentops-plugin-tools --bin rentops-plugin-tools
tool="$target_dir/debug/rentops-plugin-tools"

mkdir -p "$target_dir/plugins"
for c in "${plugins[@]}"; do
  name=${c#rentops-plugin-}
  core="$target_dir/wasm32-unknown-unknown/release/${c//-/_}.wasm"
  out="$target_dir/plugins/$name.wasm"
  if [ ! -f "$out" ] || [ "$core" -nt "$out" ] || [ "$tool" -nt "$out" ]; then
    "$tool" componentize "$core" -o "$out" >/dev/null
  fi
done

echo "== sizes"
for c in "${plugins[@]}" "${hostile[@]}"; do
  core="$target_dir/wasm32-unknown-unknown/release/${c//-/_}.wasm"
  printf '  core module  %9d bytes  %s\n' "$(stat -c %s "$core")" "${core#"$target_dir"/}"
done
for c in "${plugins[@]}"; do
  out="$target_dir/plugins/${c#rentops-plugin-}.wasm"
  printf '  component    %9d bytes  %s\n' "$(stat -c %s "$out")" "${out#"$target_dir"/}"
done

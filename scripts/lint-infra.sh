#!/usr/bin/env bash
# Lint the SAM template with cfn-lint (informational rules included); exit non-zero on any finding.
# cfn-lint comes with `pip install 'moto[server]'`; installed here if missing.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if ! command -v cfn-lint >/dev/null 2>&1; then
  echo "lint-infra.sh: cfn-lint not found; installing it with pip" >&2
  python3 -m pip install --quiet cfn-lint >&2
  hash -r
fi
cfn-lint --version >&2
cfn-lint -c I -- infra/template.yaml
echo "lint-infra.sh: infra/template.yaml is clean" >&2

#!/usr/bin/env bash
# hlog-check.sh RESULT_DIR: decodes the run's latency.hlog with an
# independent HdrHistogram implementation (hdr-histogram-js, from npm) and
# prints each path/agent's e2e count and percentiles beside result.json's,
# which must be equal. Needs node and npm.
set -euo pipefail
dir=${1:?usage: scripts/hlog-check.sh RESULT_DIR}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$(dirname "$0")/hlog-check.js" "$work/"
(cd "$work" && npm init -y >/dev/null && npm install --silent hdr-histogram-js@3 >/dev/null)
node "$work/hlog-check.js" "$(cd "$dir" && pwd)"

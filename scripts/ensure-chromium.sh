#!/usr/bin/env bash
# ensure-chromium.sh makes sure Chromium is installed, because the live
# page's test (cmd/cdcbench, TestDashboardInBrowser) reads the page in a
# real headless browser during a run. When it is missing and this runs as
# root on a Debian/Ubuntu machine, it installs Debian's chromium package
# with apt-get (after apt-get update; about 150 MB, under a minute here).
# Prints one line on success.
set -euo pipefail

hint='install Chromium: "apt-get install chromium" (Debian) or "apt-get install chromium-browser" (Ubuntu)'

if ! command -v chromium >/dev/null; then
	if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null; then
		echo "ensure-chromium: missing chromium; $hint" >&2
		exit 1
	fi
	log=$(mktemp)
	trap 'rm -f "$log"' EXIT
	if ! { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium; } >"$log" 2>&1; then
		tail -n 30 "$log" >&2
		echo "ensure-chromium: apt-get install chromium failed; $hint" >&2
		exit 1
	fi
	if ! command -v chromium >/dev/null; then
		echo "ensure-chromium: installed chromium but it is still not on PATH; $hint" >&2
		exit 1
	fi
	verb="installed chromium; "
fi
echo "ensure-chromium: ${verb:-}$(chromium --version 2>/dev/null | head -n 1)"

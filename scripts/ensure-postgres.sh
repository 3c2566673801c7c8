#!/usr/bin/env bash
# ensure-postgres.sh makes sure PostgreSQL server binaries (initdb, postgres)
# are installed, because cdcbench's embedded default and its integration tests
# start a private cluster from them (package pgcluster). It searches the same
# places as pgcluster.FindBinaries, in the same order; when nothing is found
# and it runs as root on a Debian/Ubuntu machine, it installs postgresql and
# postgresql-contrib (for pg_stat_statements). Prints one line on success.
set -euo pipefail

# has_binaries DIR: DIR holds executable initdb and postgres.
has_binaries() {
	[[ -n "$1" && -f "$1/initdb" && -x "$1/initdb" && -f "$1/postgres" && -x "$1/postgres" ]]
}

# find_bindir prints the first directory holding both binaries, or fails.
find_bindir() {
	# An explicit override is the only place looked at, as in FindBinaries:
	# a wrong value must be reported, not papered over by another install.
	if [[ -n "${CDCBENCH_PG_BINDIR:-}" ]]; then
		has_binaries "$CDCBENCH_PG_BINDIR" && { echo "$CDCBENCH_PG_BINDIR"; return 0; }
		return 1
	fi
	local initdb dir
	if initdb=$(command -v initdb); then
		dir=$(dirname "$(readlink -f "$initdb")")
		has_binaries "$dir" && { echo "$dir"; return 0; }
	fi
	if command -v pg_config >/dev/null; then
		dir=$(pg_config --bindir 2>/dev/null || true)
		has_binaries "$dir" && { echo "$dir"; return 0; }
	fi
	# Debian/Ubuntu keep each major version apart; take the highest.
	# An unmatched glob stays literal, which has_binaries rejects.
	while IFS= read -r dir; do
		has_binaries "$dir" && { echo "$dir"; return 0; }
	done < <(printf '%s\n' /usr/lib/postgresql/*/bin | sort -t/ -k5,5 -V -r)
	return 1
}

hint='install PostgreSQL server binaries: "apt-get install postgresql postgresql-contrib" (Debian/Ubuntu), or set CDCBENCH_PG_BINDIR to the directory holding initdb and postgres'

if dir=$(find_bindir); then
	echo "ensure-postgres: PostgreSQL $("$dir/postgres" --version | awk '{print $3}') server binaries in $dir"
	exit 0
fi

if [[ -n "${CDCBENCH_PG_BINDIR:-}" ]]; then
	echo "ensure-postgres: CDCBENCH_PG_BINDIR=$CDCBENCH_PG_BINDIR does not hold initdb and postgres; fix it or unset it" >&2
	exit 1
fi

if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null; then
	echo "ensure-postgres: no PostgreSQL server binaries found; $hint" >&2
	exit 1
fi

log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql postgresql-contrib; } >"$log" 2>&1; then
	tail -n 30 "$log" >&2
	echo "ensure-postgres: apt-get install postgresql failed; $hint" >&2
	exit 1
fi

if ! dir=$(find_bindir); then
	echo "ensure-postgres: installed postgresql but still found no initdb/postgres; $hint" >&2
	exit 1
fi
echo "ensure-postgres: installed PostgreSQL $("$dir/postgres" --version | awk '{print $3}') server binaries in $dir"

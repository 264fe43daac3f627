#!/bin/bash
# tests/oav-check.sh DIR... - check traffic that azure-emulator recorded
# (--record DIR; tests/system/lib.sh records each system test into a
# folder of its own when AZML_RECORD_DIR is set) against Microsoft's specs
# with Microsoft's validator oav (npm package, installed once into
# $AZML_OAV_CACHE, default /var/tmp/azml-oav).  Every *.json below each DIR
# is one exchange.  Exchanges of APIs with no spec are set aside and counted
# (tests/oav-check.js); any other error fails.  Exits 77 when ../shared
# (Microsoft's specs) or npm is absent, or no exchange was recorded.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
OAV_VERSION=4.0.3
specs=${AZML_SHARED:-$top/../shared}/azure-rest-specs/specification
cache=${AZML_OAV_CACHE:-/var/tmp/azml-oav}

if [ ! -d "$specs" ]; then
	echo "oav-check: skipped: no Microsoft specs at $specs (../shared absent)"
	exit 77
fi
[ $# -ge 1 ] || { echo "usage: tests/oav-check.sh DIR..." >&2; exit 2; }
mapfile -t files < <(find "$@" -name '*.json' -type f | sort)
if [ ${#files[@]} -eq 0 ]; then
	echo "oav-check: skipped: no recorded exchange under $*"
	exit 77
fi
have=$(sed -n 's/^ *"version": "\(.*\)",$/\1/p' \
	"$cache/node_modules/oav/package.json" 2>/dev/null)
if [ "$have" != "$OAV_VERSION" ]; then
	if ! command -v npm > /dev/null; then
		echo "oav-check: skipped: npm is not installed (package npm)"
		exit 77
	fi
	mkdir -p "$cache" &&
	(cd "$cache" && npm install --no-audit --no-fund --loglevel=error \
		"oav@$OAV_VERSION") || { echo "oav-check: couldn't install oav@$OAV_VERSION"; exit 1; }
fi
# oav writes a log under $HOME/oav_output unless told otherwise
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
# (its own lines, on stdout, are kept in oav.log; ours come on fd 3)
cd "$scratch" && HOME=$scratch NODE_PATH="$cache/node_modules" \
	node "$top/tests/oav-check.js" "$specs" "${files[@]}" 3>&1 > "$scratch/oav.log"

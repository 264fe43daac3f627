#!/bin/bash
# tests/build-debs.sh OUTDIR - the Debian packages, built with
# dpkg-buildpackage -b (no unit tests: tests/run runs them) from a clean
# copy of the tree (the files a clone has, no build outputs), into OUTDIR
# with the .changes file; the build's log is OUTDIR/build.log.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
out=${1:?usage: tests/build-debs.sh OUTDIR}
mkdir -p "$out/src" || exit 1
(cd "$top" && git ls-files -co --exclude-standard -z 2>/dev/null ||
	find . -path ./.git -prune -o -path './build*' -prune -o -path ./units -prune \
		-o -type f -print0) |
	(cd "$top" && xargs -0 cp --parents -t "$out/src") ||
	{ echo "build-debs: copying the tree failed" >&2; exit 1; }
(cd "$out/src" && DEB_BUILD_OPTIONS="nocheck parallel=$(nproc)" \
	dpkg-buildpackage -b -us -uc) > "$out/build.log" 2>&1 ||
	{ tail -40 "$out/build.log" >&2; echo "build-debs: dpkg-buildpackage -b failed" >&2; exit 1; }
rm -rf "$out/src"

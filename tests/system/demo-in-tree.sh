#!/bin/bash
# contrib/demo/azureml-demo as the README's "Using it" leaves a tree:
# configured in the source folder.  A copy of this tree is configured there,
# and the demo must build in it and show the cluster scaling 0 -> N -> 0.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
fail() { echo "FAIL: $*" >&2; exit 1; }

src=$(mktemp -d /tmp/azml-demo-tree.XXXXXX)
trap 'rm -rf "$src"' EXIT
# the files of the tree, as a clone has them (no build outputs)
(cd "$top" && git ls-files -co --exclude-standard -z 2>/dev/null ||
	find . -path ./.git -prune -o -path ./build -prune -o -path './build-*' -prune \
		-o -type f -print0) |
	(cd "$top" && xargs -0 cp --parents -t "$src") || fail "copying the tree"
(cd "$src" && autoreconf -fi > /dev/null 2>&1 && ./configure -q > /dev/null) ||
	fail "configure in the source tree"
start=$SECONDS
out=$(cd "$src" && timeout 600 contrib/demo/azureml-demo 2>&1)
rc=$?
[ $rc -eq 0 ] || { echo "$out" | tail -40 >&2; fail "the demo exited $rc"; }
for want in "Both jobs are done" "their VMs are deleted" "Stopping everything"; do
	grep -q "$want" <<<"$out" || { echo "$out" | tail -40 >&2; fail "the demo did not show: $want"; }
done
grep -qE "scale set [a-z0-9-]*cpu-small: (creating it with|\+)3 VMs" <<<"$out" ||
	{ echo "$out" | tail -40 >&2; fail "cpu-small did not grow by one scale set write of 3 VMs"; }
grep -q "node-init: node name: ok" <<<"$out" ||
	{ echo "$out" | tail -40 >&2; fail "no set VM found its node"; }
grep -q "JobState=COMPLETED" <<<"$out" || { echo "$out" | tail -40 >&2; fail "the demo's jobs did not complete"; }
[ -x "$src/plugins/admin/slurm-azureml" ] || fail "the demo did not build in the source tree"
echo "ok - the demo runs in a source tree configured in place ($((SECONDS - start)) s)"
echo "1 passed, 0 failed"

#!/bin/bash
# tests/packages-test.sh - the Debian packages, built, linted, installed,
# used and removed on this machine's Slurm (as root; tests/run runs it on
# each leg, after the system tests: while installed, Slurm's plugin
# directory holds job_submit_azureml.so, which the build tree's tests
# would load instead of their own).
#
#  1. dpkg-buildpackage -b from a clean copy of the tree (the files a clone
#     has; no build outputs);
#  2. lintian: no error and no warning (each one left is fixed or
#     overridden, with the reason, in debian/*.lintian-overrides);
#  3. apt-get install ./*.deb: nothing enabled, nothing started, nothing
#     made in /etc;
#  4. contrib/demo/azureml-demo --installed: the cluster scales 0 -> N -> 0
#     with the installed programs and plugins;
#  5. apt-get remove leaves no file but conffiles; dpkg --purge leaves
#     nothing: /etc, /usr and /var/lib/systemd are as they were before 3.
#
# AZML_DEBS=DIR: use the packages tests/build-debs.sh made there instead.
# Exit 77 (skipped) where Slurm is not Debian's (no slurm-wlm-basic-plugins
# to depend on).  The packages are purged on any exit.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
fail() { echo "FAIL: $*" >&2; exit 1; }
pkgs="slurm-azureml slurm-azureml-node azure-emulator"

[ "$(id -u)" = 0 ] || { echo "packages-test: needs root; skipped"; exit 77; }
slurm=$(dpkg-query -W -f='${Version}' slurm-wlm-basic-plugins 2>/dev/null)
[ -n "$slurm" ] || {
	echo "packages-test: Slurm is not Debian's slurm-wlm here; skipped"
	exit 77
}
# What a run killed before its purge left (the tree's own version, from
# the tree's maintainer) is purged first; anything else is an admin's.
ver=$(dpkg-parsechangelog -l "$top/debian/changelog" -S Version)
maint=$(sed -n 's/^Maintainer: //p' "$top/debian/control")
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || continue
	have=$(dpkg-query -W -f='${Version}|${Maintainer}' "$p")
	[ "$have" = "$ver|$maint" ] ||
		fail "$p ${have%%|*} is installed already, not this tree's $ver: this test installs and purges it"
	echo "packages-test: $p $ver is installed already (left by a run that was killed): purging it first"
	dpkg --purge "$p" > /dev/null || fail "dpkg --purge $p failed"
done

w=$(mktemp -d /tmp/azml-packages.XXXXXX)
trap 'dpkg --purge $pkgs > /dev/null 2>&1; rm -rf "$w"' EXIT
t0=$SECONDS
if [ -n "${AZML_DEBS:-}" ]; then	# built already (tests/build-debs.sh)
	cp "$AZML_DEBS"/*.deb "$AZML_DEBS"/*.changes "$AZML_DEBS"/*.buildinfo "$w/" || fail "no packages in $AZML_DEBS"
else
	bash "$top/tests/build-debs.sh" "$w" || fail "dpkg-buildpackage -b failed"
fi
echo "ok - dpkg-buildpackage -b: $(cd "$w" && ls ./*.deb | tr '\n' ' ')($((SECONDS - t0)) s)"

for p in $pkgs; do
	dep=$(dpkg-deb -f "$w/${p}_"*_*.deb Depends)
	echo "  $p: Depends: $dep"
done
dpkg-deb -f "$w"/slurm-azureml_*.deb Depends |
	grep -qF "slurm-wlm-basic-plugins (= $slurm)" ||
	fail "slurm-azureml does not depend on this Slurm exactly ($slurm)"
echo "ok - slurm-azureml depends on slurm-wlm-basic-plugins (= $slurm)"

echo "lintian $(lintian --version | awk '{print $NF}'):"
lintian --fail-on error,warning --info --display-info "$w"/*.changes 2>&1 |
	grep -v 'running with root privileges' | sed 's/^/  /'
[ "${PIPESTATUS[0]}" -eq 0 ] || fail "lintian reports an error or a warning"
echo "ok - lintian: no error, no warning"

snap() {	# the files and folders a package could leave behind
	find /etc /usr /var/lib/systemd -xdev \
		-not -path '/etc/ld.so.cache' -not -path '/usr/share/info/dir*' \
		2>/dev/null | LC_ALL=C sort
}
snap > "$w/before"
debs=()
for p in $pkgs; do debs+=("$w/${p}_"*_*.deb); done
DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
	"${debs[@]}" > "$w/install.log" 2>&1 ||
	{ cat "$w/install.log"; fail "apt-get install ./*.deb failed"; }
echo "ok - apt-get install: $(dpkg-query -W $pkgs | tr '\t\n' '= ')"
for p in $pkgs; do dpkg -L "$p"; done | LC_ALL=C sort -u > "$w/files"
# maintainer scripts make nothing in /etc (the packages ship no conffile)
new_etc=$(snap | comm -13 "$w/before" - | grep '^/etc/' | grep -vxFf "$w/files")
[ -z "$new_etc" ] || fail "installing made files in /etc: $new_etc"
if [ -d /run/systemd/system ]; then
	for u in slurm-azureml-node-init.service slurm-azureml-reconcile.timer; do
		s=$(systemctl is-enabled "$u" 2>/dev/null)
		[ "$s" = disabled ] || fail "$u is '$s' after installation, not disabled"
		systemctl is-active -q "$u" && fail "$u was started by the installation"
	done
	echo "ok - the units are installed disabled and not started"
fi
ldd /usr/sbin/slurm-azureml | grep -q 'not found' && fail "slurm-azureml: a library is missing"
echo "ok - installed: $(grep -c . "$w/files") paths"

t0=$SECONDS
out=$(cd "$top" && timeout 600 bash contrib/demo/azureml-demo --installed 2>&1)
rc=$?
[ $rc -eq 0 ] || { echo "$out" | tail -40 >&2; fail "the demo (--installed) exited $rc"; }
for want in "Using the installed packages" "Both jobs are done" "their VMs are deleted" \
	"node-init: node name: ok" "JobState=COMPLETED" "Stopping everything"; do
	grep -q "$want" <<<"$out" || { echo "$out" | tail -40 >&2; fail "the demo did not show: $want"; }
done
grep -q "Building slurm-azureml" <<<"$out" && fail "the demo built instead of using the packages"
echo "ok - azureml-demo --installed: 0 -> N -> 0 on the installed programs and plugins ($((SECONDS - t0)) s)"

DEBIAN_FRONTEND=noninteractive apt-get remove -y -q $pkgs > "$w/remove.log" 2>&1 ||
	{ cat "$w/remove.log"; fail "apt-get remove failed"; }
left=$(while read -r f; do [ -e "$f" ] && [ ! -d "$f" ] && echo "$f"; done < "$w/files")
conffiles=$(for p in $pkgs; do dpkg-query -W -f='${Conffiles}\n' "$p" 2> /dev/null; done | awk 'NF {print $1}')
[ -z "$conffiles" ] || left=$(grep -vxF -- "$conffiles" <<<"$left")
[ -z "$left" ] || fail "apt-get remove left files that are not conffiles: $left"
echo "ok - apt-get remove leaves no file but conffiles (${conffiles:-none})"

dpkg --purge $pkgs > "$w/purge.log" 2>&1 || { cat "$w/purge.log"; fail "dpkg --purge failed"; }
for p in $pkgs; do
	s=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null)
	[ -z "$s" ] || [ "$s" = not-installed ] ||
		fail "$p is '$s' after dpkg --purge"
done
diff=$(snap | diff "$w/before" - | grep '^[<>]')
[ -z "$diff" ] || fail "after dpkg --purge, /etc, /usr or /var/lib/systemd differ: $diff"
echo "ok - dpkg --purge leaves nothing (/etc, /usr, /var/lib/systemd as before)"
echo "6 passed, 0 failed"

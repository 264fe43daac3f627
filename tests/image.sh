#!/bin/bash
# tests/image.sh - the base of a VM image for tests/system/image-boot.sh:
# this machine's Debian release, debootstrapped with systemd and the
# packages contrib/image/prepare-image installs from the archive (slurmd,
# slurm-client, munge, nftables), made once under /var/tmp and kept, like
# tests/chroot.sh's chroots; made again when its suite, mirror or package
# list (its stamp) changes.  Prints the root file system's path.  prepare-image
# with the node package runs on top of it, per test run.
#
# Environment: AZML_IMAGE_BASE (its directory), AZML_MIRROR.
set -u
[ "$(id -u)" = 0 ] || { echo "image.sh: must run as root" >&2; exit 1; }
. /etc/os-release
suite=${VERSION_CODENAME:?no VERSION_CODENAME in /etc/os-release}
root=${AZML_IMAGE_BASE:-/var/tmp/slurm-azureml-image-$suite}
include=systemd,systemd-sysv,dbus,slurmd,slurm-client,munge,nftables,ca-certificates
# The archive this machine's apt uses (never a host written here).
mirror=${AZML_MIRROR:-$(apt-get indextargets --format '$(REPO_URI)' 'Created-By: Packages' 2>/dev/null |
	grep -v security | head -n 1)}
[ -n "$mirror" ] || { echo "image.sh: no Debian archive in apt's sources; set AZML_MIRROR" >&2; exit 1; }
stamp=$(printf '%s\n' "$suite" "$mirror" "$include" | sha256sum | cut -c1-16)

exec 9> "$root.lock"
flock 9
if [ "$(cat "$root/.azml-stamp" 2>/dev/null)" != "$stamp" ]; then
	echo "image.sh: debootstrap $suite from $mirror into $root" >&2
	rm -rf "$root"
	debootstrap --variant=minbase --include="$include" "$suite" "$root" "$mirror" \
		> "$root.log" 2>&1 || { tail -20 "$root.log" >&2; rm -rf "$root"; exit 1; }
	# what an image does not carry: the packages' own keys and machine id
	rm -f "$root/etc/munge/munge.key"
	: > "$root/etc/machine-id"
	chroot "$root" apt-get clean
	echo "$stamp" > "$root/.azml-stamp"
fi
echo "$root"

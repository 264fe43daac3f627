#!/bin/bash
# tests/chroot.sh - run a command in a Debian chroot that carries the other
# Slurm: Debian 13 (trixie, Slurm 24.11) from a Debian 12 host, Debian 12
# (bookworm, Slurm 22.05) from a Debian 13 host, or Debian testing (forky,
# Slurm 26.05) from either.
#
#   tests/chroot.sh [--suite SUITE] [COMMAND [ARGS...]]
#                                  (as root; default COMMAND: bash)
#
# The chroot is made with debootstrap from Debian's archive under /var/tmp and
# kept between runs; it is made again when its suite, mirror or package list
# (tests/packages.sh) changes: their hash is its stamp.  Each run gets a mount
# namespace of its own: /proc, /sys and /dev (with their submounts: slurmd
# 24.11 needs /sys/fs/cgroup), the source tree and the ../shared beside it
# (read-only; unit tests read examples there), at the same paths, are
# mounted there, rslave so that nothing unmounted here reaches the host, and
# unmounted on exit; the namespace takes any leftover with it.
#
# Environment: AZML_CHROOT_SUITE (trixie, bookworm or forky; --suite wins),
# AZML_CHROOT (its directory), AZML_MIRROR.  Inside, AZML_CHROOT_SUITE is set.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)

if [ "${1:-}" = --suite ]; then
	[ -n "${2:-}" ] || { echo "chroot.sh: --suite needs a suite name" >&2; exit 1; }
	AZML_CHROOT_SUITE=$2
	shift 2
fi

if [ "$(id -u)" != 0 ]; then
	echo "chroot.sh: must run as root" >&2
	exit 1
fi

if [ -z "${AZML_CHROOT_SUITE:-}" ]; then
	. /etc/os-release
	case ${VERSION_CODENAME:-} in
	trixie) AZML_CHROOT_SUITE=bookworm ;;
	*) AZML_CHROOT_SUITE=trixie ;;
	esac
fi
suite=$AZML_CHROOT_SUITE
root=${AZML_CHROOT:-/var/tmp/slurm-azureml-$suite}
# The Debian archive this machine's own apt uses (never a host written
# here): the first non-security URI of its sources, deb822 or one-line.
host_mirror() {
	local f u
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] || continue
		u=$(awk '/^URIs:/ { for (i = 2; i <= NF; i++)
			if ($i !~ /security/) { print $i; exit } }' "$f")
		[ -n "$u" ] && { echo "${u%/}"; return 0; }
	done
	u=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
		awk '$1 == "deb" { for (i = 2; i <= NF; i++)
			if ($i ~ /^[a-z]+:\/\//) { if ($i !~ /security/) print $i; break } }' |
		head -n 1)
	[ -n "$u" ] && echo "${u%/}"
}
mirror=${AZML_MIRROR:-$(host_mirror)}
[ -n "$mirror" ] || { echo "chroot.sh: no Debian archive in this machine's apt sources; set AZML_MIRROR" >&2; exit 1; }

. "$top/tests/packages.sh"
# Bump the recipe number when the way the chroot is made changes.
stamp=$(printf 'recipe 1\n%s\n%s\n%s\n' "$suite" "$mirror" \
	"$(echo $AZML_PACKAGES | tr ' ' '\n' | sort)" | sha256sum | cut -c1-16)

# make_chroot: debootstrap a minimal system into $root.new, install the
# packages without starting any service, then move it into place.
make_chroot() {
	local new=$root.new
	if ! command -v debootstrap > /dev/null; then
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			--no-install-recommends debootstrap > /dev/null || return 1
	fi
	rm -rf "$new" "$root"
	echo "chroot: debootstrap $suite into $root (a few minutes)"
	# Debian 12's debootstrap has no script named forky (testing): sid's
	# makes it.  The archive's Release file for testing may be past its
	# Valid-Until date, which apt refuses unless told not to check it.
	local script=
	if [ ! -e "/usr/share/debootstrap/scripts/$suite" ]; then
		script=/usr/share/debootstrap/scripts/sid
	fi
	debootstrap --variant=minbase "$suite" "$new" "$mirror" $script \
		> "$root.log" 2>&1 || { tail -n 20 "$root.log"; return 1; }
	case $suite in
	bookworm | trixie) ;;
	*) echo 'Acquire::Check-Valid-Until "false";' \
		> "$new/etc/apt/apt.conf.d/99azml-valid-until" ;;
	esac
	# Packages' maintainer scripts must not start daemons in the chroot.
	printf '#!/bin/sh\nexit 101\n' > "$new/usr/sbin/policy-rc.d"
	chmod 755 "$new/usr/sbin/policy-rc.d"
	echo "chroot: installing the packages of tests/packages.sh"
	# Some maintainer scripts (forky's mariadb-server: systemd-tmpfiles)
	# need /proc: mounted in a mount namespace of the install's own.
	# shellcheck disable=SC2086
	unshare --mount --propagation private sh -c \
		'mount -t proc proc "$0/proc" && exec chroot "$0" "$@"' "$new" \
		/usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
		DEBIAN_FRONTEND=noninteractive \
		sh -c 'apt-get update -qq &&
			apt-get install -y -qq --no-install-recommends "$@"' \
		sh $AZML_PACKAGES >> "$root.log" 2>&1 ||
		{ tail -n 20 "$root.log"; return 1; }
	chroot "$new" apt-get clean
	echo "$stamp" > "$new/.azml-stamp"
	mv "$new" "$root"
}

# One maker at a time; a runner waits for it.
exec 9> "$root.lock"
flock 9
if [ "$(cat "$root/.azml-stamp" 2>/dev/null)" != "$stamp" ]; then
	make_chroot || { echo "chroot.sh: could not make $root" >&2; exit 1; }
fi
flock -u 9

[ $# -gt 0 ] || set -- bash

# The rest runs in a private mount namespace (see above).
if [ -z "${_AZML_CHROOT_NS:-}" ]; then
	exec 9>&-
	_AZML_CHROOT_NS=1 AZML_CHROOT_SUITE=$suite exec unshare --mount \
		--propagation slave bash "$0" "$@"
fi

cleanup() {
	[ -n "${shared:-}" ] && umount "$root$shared" 2>/dev/null
	umount -R "$root$top" 2>/dev/null
	umount -R "$root/dev" 2>/dev/null
	umount -R "$root/sys" 2>/dev/null
	umount "$root/proc" 2>/dev/null
}
trap cleanup EXIT

mount -t proc proc "$root/proc" &&
	mount --rbind /sys "$root/sys" && mount --make-rslave "$root/sys" &&
	mount --rbind /dev "$root/dev" && mount --make-rslave "$root/dev" &&
	mkdir -p "$root$top" && mount --bind "$top" "$root$top" &&
	mount --make-rslave "$root$top" ||
	{ echo "chroot.sh: mounts failed" >&2; exit 1; }
# The unit tests read examples from ../shared beside the checkout, if any.
shared=$(cd "$top/.." && pwd)/shared
if [ -d "$shared" ]; then
	mkdir -p "$root$shared" && mount --bind "$shared" "$root$shared" &&
		mount -o remount,bind,ro "$root$shared" &&
		mount --make-rslave "$root$shared" ||
		{ echo "chroot.sh: could not mount $shared" >&2; exit 1; }
fi

chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
	HOME=/root TERM="${TERM:-dumb}" LANG=C.UTF-8 \
	AZML_CHROOT_SUITE="$suite" \
	bash -c 'cd "$1" && shift && "$@"' bash "$top" "$@"

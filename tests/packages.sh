# tests/packages.sh - the Debian packages slurm-azureml builds and tests with.
AZML_PACKAGES="build-essential autoconf automake libtool pkg-config
	slurm-wlm slurmctld slurmd slurm-client libslurm-dev
	munge libmunge-dev hwloc libhwloc-dev libcjson-dev libcurl4-openssl-dev
	libmicrohttpd-dev check python3 procps util-linux curl nftables
	openssh-client
	slurmdbd mariadb-server mariadb-client openssl ca-certificates
	debhelper lintian systemd-container debootstrap"
# The fuzz targets' compiler and runtime (tests/fuzz/run; the host only:
# tests/chroot.sh's chroot does not fuzz).
# And Node.js for Microsoft's validator oav (tests/oav-check.sh, host only).
AZML_FUZZ_PACKAGES="clang libclang-rt-dev nodejs npm"

# Install whichever of them are missing (needs root and Debian's archive);
# "azml_install_packages fuzz" adds AZML_FUZZ_PACKAGES.
azml_install_packages() {
	local missing=() p want=$AZML_PACKAGES
	[ "${1:-}" = fuzz ] && want="$want $AZML_FUZZ_PACKAGES"
	for p in $want; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
			grep -q 'install ok installed' || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	echo "Installing: ${missing[*]}"
	if [ "$(id -u)" != 0 ]; then
		echo "error: run as root to install ${missing[*]}" >&2
		return 1
	fi
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq &&
	apt-get install -y -qq --no-install-recommends "${missing[@]}" > /dev/null
}

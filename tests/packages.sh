# tests/packages.sh - the Debian packages slurm-azureml builds and tests with.
AZML_PACKAGES="build-essential autoconf automake libtool pkg-config
	slurm-wlm slurmctld slurmd slurm-client libslurm-dev
	munge libmunge-dev hwloc libhwloc-dev libcjson-dev libcurl4-openssl-dev
	libmicrohttpd-dev check python3 procps util-linux curl nftables
	openssh-client
	slurmdbd mariadb-server mariadb-client openssl ca-certificates
	debhelper lintian debootstrap"
# What the host leg alone needs (tests/run): what it tests does not depend
# on the Slurm release, so the chroot legs do without.  The fuzz targets'
# compiler and runtime (tests/fuzz/run); Node.js for Microsoft's validator
# oav (tests/oav-check.sh); Microsoft's own clients (tests/system/
# azure-sdk.sh); systemd-nspawn (tests/system/image-boot.sh); Prometheus,
# its promtool and node_exporter (the metrics part of tests/system/health.sh
# and tests/unit/metrics-test).
AZML_FUZZ_PACKAGES="clang libclang-rt-dev nodejs npm python3-azure azure-cli
	prometheus prometheus-node-exporter systemd-container"

# Install whichever of them are missing (needs root and Debian's archive);
# "azml_install_packages fuzz" adds AZML_FUZZ_PACKAGES.
azml_install_packages() {
	local missing=() p want=$AZML_PACKAGES
	[ "${1:-}" = fuzz ] && want="$want $AZML_FUZZ_PACKAGES"
	for p in $want; do
		# Node.js from elsewhere (NodeSource's nodejs carries npm and
		# conflicts with Debian's npm package): its npm will do.
		[ "$p" = npm ] && command -v npm > /dev/null && continue
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

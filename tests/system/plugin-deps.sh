#!/bin/bash
# The Slurm plugins live in slurmctld and in every sbatch, srun, salloc and
# slurmstepd: they may need cJSON and the C library, nothing else (no
# libcurl, hwloc, munge or libmicrohttpd), and must not call into them.
set -u
AZML_BUILD=${AZML_BUILD:-$(cd "$(dirname "$0")/../.." && pwd)/build}
fail() { echo "FAIL: $*" >&2; exit 1; }
n=0
for so in "$AZML_BUILD/plugins/job_submit/.libs/job_submit_azureml.so" \
	  "$AZML_BUILD/plugins/spank/.libs/spank_azureml.so"; do
	[ -f "$so" ] || fail "$so is not built"
	needed=$(readelf -d "$so" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tr '\n' ' ')
	for lib in $needed; do
		case $lib in
		libcjson.so.*|libc.so.*|libm.so.*|libpthread.so.*) ;;
		*) fail "$(basename "$so") needs $lib (it needs only: $needed)" ;;
		esac
	done
	bad=$(nm -D --undefined-only "$so" | grep -E ' (curl_|hwloc_|munge_|MHD_|gnutls_)' | head -3)
	[ -z "$bad" ] || fail "$(basename "$so") calls $bad"
	echo "ok - $(basename "$so") needs only: $needed"
	n=$((n + 1))
done
echo "$n passed, 0 failed"

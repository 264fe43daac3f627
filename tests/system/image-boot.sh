#!/bin/bash
# VMs that boot a real image under systemd: the emulator's image boot mode
# (azure-emulator --image-layers, contrib/emulator/image-boot) runs each VM
# as a systemd-nspawn -b container of an image made with debootstrap
# (tests/image.sh, kept under /var/tmp) and contrib/image/prepare-image with
# the slurm-azureml-node package, each VM on its own overlayfs layer.
# systemd starts slurm-azureml-node-init.service, which starts
# munge.service and slurmd.service through systemctl.
#
#   1. a 2-node job from zero: srun hostname prints the node names;
#   2. inside a VM, systemctl shows the three units active, and nft the
#      IMDS rule (uid 0 only);
#   3. a Scheduled Event Reboot: the VM boots again, node-init runs again,
#      the node returns to service;
#   4. back to zero VMs after the idle time, their layers deleted;
#   5. a node-init failure (missing secret): the unit is left failed, the
#      step reaches the node's reason, the VM is deleted.
#
# The node package: AZML_DEBS=DIR (slurm-azureml-node_*.deb there), or
# built here from a clean copy of the tree (tests/build-debs.sh).
# Skipped (77) without systemd-nspawn (systemd-container), debootstrap or
# overlayfs, or where systemd-nspawn cannot boot (tests/chroot.sh's chroot).
set -u
. "$(dirname "$0")/lib.sh"
skip() { echo "SKIP: $*"; exit 77; }

[ "$(id -u)" = 0 ] || skip "needs root"
command -v systemd-nspawn > /dev/null || skip "no systemd-nspawn (package systemd-container)"
command -v debootstrap > /dev/null || skip "no debootstrap"
grep -qw overlay /proc/filesystems || modprobe overlay 2> /dev/null ||
	skip "no overlayfs"
[ -d /run/systemd/system ] || [ -z "${AZML_CHROOT_SUITE:-}" ] ||
	skip "in tests/chroot.sh's chroot: systemd-nspawn boots on the host's leg"

t0=$SECONDS
base=$(bash "$AZML_TOP/tests/image.sh") || azml_fail "making the image's base (tests/image.sh)"
echo "  image base: $base ($((SECONDS - t0)) s)"

AZML_NODE_INIT=1
azml_cluster_init image-boot
export EMU_URL
export -f azml_emulator_vms

# The node package.
if [ -n "${AZML_DEBS:-}" ]; then
	deb=$(ls "$AZML_DEBS"/slurm-azureml-node_*.deb 2> /dev/null | head -n 1)
	[ -n "$deb" ] || azml_fail "no slurm-azureml-node_*.deb in $AZML_DEBS"
else
	t0=$SECONDS
	bash "$AZML_TOP/tests/build-debs.sh" "$T/debs" || azml_fail "building the packages"
	deb=$(ls "$T"/debs/slurm-azureml-node_*.deb)
	echo "  built $(basename "$deb") ($((SECONDS - t0)) s)"
fi

# The image: prepare-image with the node package, on a layer over the base
# (the base stays as debootstrap made it, for the next run).
t0=$SECONDS
mkdir -p "$T/image/upper" "$T/image/work" "$T/image/root"
mount -t overlay overlay -o "lowerdir=$base,upperdir=$T/image/upper,workdir=$T/image/work" \
	"$T/image/root" || azml_fail "mounting the image's layer"
cp "$deb" "$AZML_TOP/contrib/image/prepare-image" "$T/image/root/root/"
systemd-nspawn -q --register=no --keep-unit -D "$T/image/root" \
	/bin/sh /root/prepare-image "/root/$(basename "$deb")" > "$T/prepare-image.log" 2>&1
rc=$?
rm -f "$T/image/root/root/prepare-image" "$T/image/root/root/$(basename "$deb")"
umount "$T/image/root"
[ $rc -eq 0 ] || { cat "$T/prepare-image.log"; azml_fail "prepare-image exited $rc"; }
grep '^==' "$T/prepare-image.log" | sed 's/^/  prepare-image: /'
[ -L "$T/image/upper/etc/systemd/system/multi-user.target.wants/slurm-azureml-node-init.service" ] ||
	azml_fail "prepare-image did not enable slurm-azureml-node-init.service"
echo "  image: $((SECONDS - t0)) s"

# Job output files land on a "shared file system" bound into every VM.
mkdir -p "$T/shared"
azml_emulator_start --vault-reader "$AZML_IDENTITY" \
	--node-init "$AZML_TOP/contrib/emulator/image-boot $T/image/upper:$base $T/shared" \
	--image-layers "$T/layers"

azml_emulator_cluster 150 <<CONF
ComputeCluster=cpu VmSize=Standard_D2s_v3 MaxNodes=2 IdleSecondsBeforeScaledown=10
ComputeCluster=nosecret VmSize=Standard_D2s_v3 MaxNodes=1 MungeKeySecret=https://kv1.vault.azure.net/secrets/no-such-secret
CONF
# A configless slurmd gets slurm.conf's Include files in its own folder
# (/run/slurm/conf): a VM has no $T/nodes.conf, so the Include is named
# relative to slurm.conf, as a site's must be.
sed -i "s|^Include $T/|Include |" "$SLURM_CONF"
azml_restart_slurmctld

job_state() { scontrol -o show job "$1" | grep -o 'JobState=[A-Z_]*' | cut -d= -f2; }
reason() { scontrol -o show node "$1" | grep -o 'Reason=[^[]*' | sed 's/^Reason=//; s/ *$//'; }
# The host pid of VM $1's systemd (PID 1 of its container): the child of
# its systemd-nspawn.
vm_init() {
	local p
	p=$(pgrep -f "systemd-nspawn .*-D $T/layers/$1/root" | head -n 1)
	[ -n "$p" ] && cat "/proc/$p/task/$p/children" 2> /dev/null | awk '{print $1}'
}
in_vm() {	# in_vm VM COMMAND...: run COMMAND inside VM's container
	local p
	p=$(vm_init "$1") && [ -n "$p" ] || return 1
	shift
	nsenter -t "$p" -m -u -i -p -r -w "$@"
}
export T
export -f job_state reason vm_init in_vm

# 1. Two nodes from zero, booted under systemd.
t0=$SECONDS
id=$(sbatch --parsable -p cpu -N2 -o "$T/shared/hostnames.out" --wrap 'srun hostname | sort') ||
	azml_fail sbatch
azml_wait 180 bash -c "[ \"\$(job_state $id)\" = COMPLETED ]" ||
	azml_fail "job $id: $(scontrol -o show job "$id")"
echo "  job $id: sbatch to COMPLETED in $((SECONDS - t0)) s"
[ "$(cat "$T/shared/hostnames.out")" = "$(printf 'cpu-1\ncpu-2')" ] ||
	azml_fail "srun hostname printed: $(cat "$T/shared/hostnames.out")"
for n in cpu-1 cpu-2; do
	grep -q "node-init: slurmd: ok" "$T/consoles/$n.log" ||
		azml_fail "$n's console has no slurmd line"
	grep -q "systemd" "$T/consoles/$n.log" ||
		azml_fail "$n's console does not show systemd booting"
done
grep -E 'image-boot|Welcome|node-init: ' "$T/consoles/cpu-1.log" | head -12 | sed 's/^/    cpu-1 console: /'
azml_pass "a 2-node job from zero on VMs booted from the image by systemd; srun hostname prints the node names"

# 2. Inside a VM: systemd started node-init, which started munge and slurmd.
[ "$(in_vm cpu-1 hostname)" = cpu-1 ] || azml_fail "cpu-1's hostname is '$(in_vm cpu-1 hostname)'"
for u in slurm-azureml-node-init munge slurmd; do
	s=$(in_vm cpu-1 systemctl is-active "$u.service")
	[ "$s" = active ] || azml_fail "$u.service on cpu-1 is '$s': $(in_vm cpu-1 systemctl status "$u.service" | head -20)"
done
in_vm cpu-1 systemctl status --no-pager slurm-azureml-node-init.service munge.service slurmd.service 2> /dev/null |
	grep -E '●|Active:' | sed 's/^/    cpu-1: /'
in_vm cpu-1 systemctl is-enabled munge.service slurmd.service 2> /dev/null | grep -qx enabled &&
	azml_fail "munge or slurmd is enabled in the image: node-init starts them"
azml_pass "inside a VM (hostname = computerName), systemctl shows node-init, munge and slurmd active"
# The IMDS rule node-init installed, with the image's own nft (prepare-image
# installs nftables): only uid 0 reaches IMDS (169.254.169.254 on Azure;
# the emulator's IMDS address here).
rules=$(in_vm cpu-1 nft list ruleset 2>&1) || azml_fail "nft list ruleset in cpu-1: $rules"
grep -qE "ip daddr 127\.0\.0\.1 tcp dport $EMU_IMDS_PORT meta skuid != 0 reject with tcp reset comment \"azureml-imds" <<<"$rules" ||
	azml_fail "no IMDS rule for 127.0.0.1:$EMU_IMDS_PORT in cpu-1's ruleset: $rules"
grep -q "node-init: IMDS filter: ok" "$T/consoles/cpu-1.log" ||
	azml_fail "cpu-1's console has no IMDS filter line"
azml_pass "inside a VM, nft list ruleset shows node-init's IMDS rule: uid 0 only"

# 3. A Scheduled Event Reboot: the VM boots again under systemd, node-init
# runs again, the node returns.
boots() { grep -c 'node-init: userData: ok' "$T/consoles/$1.log"; }
export -f boots
id=$(sbatch --parsable -p cpu -N1 -w cpu-1 --wrap 'sleep 30') || azml_fail sbatch
azml_wait 30 bash -c "[ \"\$(job_state $id)\" = RUNNING ]" || azml_fail "job $id: $(job_state "$id")"
curl -sf -X POST "$EMU_URL/emulator/events/cpu-1?type=Reboot&in=60" > /dev/null ||
	azml_fail "schedule Reboot"
azml_wait 20 bash -c "scontrol -o show node cpu-1 | grep -q 'Reason=azureml: maintenance: Reboot'" ||
	azml_fail "cpu-1 not drained for the Reboot: $(reason cpu-1)"
t0=$SECONDS
azml_wait 120 bash -c "[ \$(boots cpu-1) -ge 2 ]" ||
	azml_fail "node-init did not run again on cpu-1: $(grep node-init "$T/consoles/cpu-1.log")"
echo "  cpu-1 rebooted: node-init ran again $((SECONDS - t0)) s after the running job ended"
azml_wait 60 bash -c "sinfo -h -n cpu-1 -o %t | grep -qx 'idle\|mix\|alloc'" ||
	azml_fail "cpu-1 did not return: $(sinfo -h -n cpu-1 -o %t) $(reason cpu-1)"
[ "$(job_state "$id")" = COMPLETED ] || azml_fail "job $id: $(job_state "$id")"
azml_wait 30 bash -c "[ \"\$(in_vm cpu-1 systemctl is-active slurmd.service)\" = active ]" ||
	azml_fail "slurmd is not active on cpu-1 after the reboot"
id=$(sbatch --parsable -p cpu -N1 -w cpu-1 -o "$T/shared/after.out" --wrap hostname) || azml_fail sbatch
azml_wait 60 bash -c "[ \"\$(job_state $id)\" = COMPLETED ]" || azml_fail "job after the reboot: $(job_state "$id")"
azml_pass "a Scheduled Event Reboot: the VM boots again under systemd, node-init runs again, the node returns"

# 4. Back to zero, the layers deleted with the VMs.
azml_wait 120 bash -c "[ -z \"\$(azml_emulator_vms)\" ]" ||
	azml_fail "VMs left after the idle time: $(azml_emulator_vms)"
azml_wait 30 bash -c "[ -z \"\$(ls -A $T/layers)\" ]" ||
	azml_fail "layers left: $(ls -A "$T/layers")"
pgrep -f "systemd-nspawn .*$T/layers/" > /dev/null && azml_fail "a container outlived its VM"
azml_pass "back to zero VMs after the idle time; their containers and layers are gone"

# 5. node-init fails (no such secret): the unit is left failed, the step
# reaches the node's reason, and the VM is deleted.
id=$(sbatch --parsable -p nosecret -N1 --wrap true) || azml_fail "sbatch -p nosecret"
t0=$SECONDS
azml_wait 150 bash -c "[ \"\$(in_vm nosecret-1 systemctl is-failed slurm-azureml-node-init.service 2> /dev/null)\" = failed ]" ||
	azml_fail "node-init is not failed on nosecret-1: $(in_vm nosecret-1 systemctl status slurm-azureml-node-init.service | head -20)"
echo "  nosecret-1: node-init.service failed after $((SECONDS - t0)) s (3 tries, RestartSec=20)"
in_vm nosecret-1 systemctl status --no-pager slurm-azureml-node-init.service 2> /dev/null |
	grep -E 'Active:|Key Vault' | head -3 | sed 's/^/    nosecret-1: /'
want="azureml: node-init: Key Vault: SecretNotFound"
azml_wait 180 bash -c "scontrol -o show node nosecret-1 | grep -qF 'Reason=$want'" ||
	azml_fail "nosecret-1's reason is '$(reason nosecret-1)', not '$want…'"
echo "  nosecret-1 after $((SECONDS - t0)) s: $(reason nosecret-1)"
azml_wait 60 bash -c "! azml_emulator_vms | grep -q nosecret" ||
	azml_fail "the failed VM was not deleted: $(azml_emulator_vms)"
scancel "$id"
azml_pass "a node-init failure leaves the unit failed, its step in the node's reason, and the VM deleted"
echo "$AZML_PASSED passed, 0 failed"

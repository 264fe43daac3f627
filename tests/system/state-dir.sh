#!/bin/bash
# A StateDir others could have planted in (0777, another user's, under a
# folder others can write): slurm-azureml-resume, -suspend and -resume-fail
# each refuse, say why naming the folder, exit non-zero, and neither create
# nor delete a VM.  Resume hands its node back to slurmctld with that
# reason.  (The engine's side of it: tests/unit/resume-test.c,
# unsafe_state_dir_refused.)
set -u
. "$(dirname "$0")/lib.sh"

azml_cluster_init statedir
azml_emulator_start
azml_emulator_cluster <<'CONF'
ComputeCluster=cpu VmSize=Standard_D2s_v3 MaxNodes=3
CONF
PS=$AZML_BUILD/plugins/power_save
SD=$T/azureml-state

# cpu-1's VM, made with a sound StateDir
AZUREML_FOREGROUND=1 "$PS/slurm-azureml-resume" cpu-1 2> "$T/r.err" ||
	azml_fail "resume cpu-1: $(cat "$T/r.err")"
[ "$(azml_emulator_vms)" = cpu-1 ] || azml_fail "VMs: $(azml_emulator_vms)"
stats() { curl -sf "$EMU_URL/emulator/stats" | python3 -c '
import json, sys
s = json.load(sys.stdin)
print(s["creates"], s["deletes"], s["writes"])'; }
before=$(stats)

# refused StATEDIR WHY: each program, with its message, and nothing done
refused() {
	local sd=$1 why=$2 prog node rc
	sed -i "s|^StateDir=.*|StateDir=$sd|" "$T/azureml.conf"
	for prog in resume suspend resume-fail; do
		node=cpu-1
		[ $prog = resume ] && node=cpu-2
		AZUREML_FOREGROUND=1 "$PS/slurm-azureml-$prog" $node > "$T/out" 2> "$T/err"
		rc=$?
		[ $rc != 0 ] || azml_fail "$prog ran with $why: $(cat "$T/err")"
		! grep -q "StateDir is not set" "$T/err" ||
			azml_fail "$prog with $why said StateDir is not set: $(cat "$T/err")"
		grep -qF "StateDir $sd is refused, nothing done: $why" "$T/err" ||
			azml_fail "$prog with $why said: $(cat "$T/err")"
		[ "$(stats)" = "$before" ] ||
			azml_fail "$prog with $why wrote to Azure: $(stats), was $before"
		[ "$(azml_emulator_vms)" = cpu-1 ] ||
			azml_fail "$prog with $why: VMs $(azml_emulator_vms)"
	done
	scontrol -o show node cpu-2 | grep -qF "Reason=azureml: StateDir: StateDir $sd is refused, nothing done: $why" ||
		azml_fail "cpu-2's reason: $(scontrol -o show node cpu-2 | grep -o 'Reason=.*')"
	scontrol update nodename=cpu-2 state=resume 2>/dev/null
}

chmod 0777 "$SD"
refused "$SD" "$SD is writable by its group or by others (mode 0777)"
# as slurmctld runs it (detached: slurmctld goes on): the refusal on
# stderr, exit 1 (slurmctld logs it), the node handed back with it, no write
"$PS/slurm-azureml-resume" cpu-3 > /dev/null 2> "$T/err"
rc=$?
[ $rc = 1 ] || azml_fail "detached resume exited $rc with a refused StateDir"
grep -qF "StateDir $SD is refused, nothing done: $SD is writable" "$T/err" ||
	azml_fail "detached resume said: $(cat "$T/err")"
azml_wait 20 bash -c "scontrol -o show node cpu-3 | grep -qF 'Reason=azureml: StateDir: StateDir $SD is refused, nothing done: $SD is writable'" ||
	azml_fail "detached resume: cpu-3's reason: $(scontrol -o show node cpu-3 | grep -o 'Reason=.*')"
[ "$(stats)" = "$before" ] || azml_fail "detached resume wrote to Azure: $(stats)"
chmod 0755 "$SD"
azml_pass "a StateDir others can write: resume, suspend, resume-fail refuse, exit non-zero, touch no VM"

chown nobody "$SD"
refused "$SD" "$SD is owned by uid $(id -u nobody) (nobody), not by root or SlurmUser"
chown root "$SD"
azml_pass "a StateDir of another user: each program refuses"

mkdir -m 0777 "$T/open" && mkdir -m 0755 "$T/open/state" || azml_fail mkdir
chmod 0777 "$T/open"	# past the umask
refused "$T/open/state" "folder $T/open is writable by its group or by others (mode 0777)"
azml_pass "a StateDir under a folder others can write: each program refuses"

# sound again: suspend deletes cpu-1
sed -i "s|^StateDir=.*|StateDir=$SD|" "$T/azureml.conf"
AZUREML_FOREGROUND=1 "$PS/slurm-azureml-suspend" cpu-1 2> "$T/err" ||
	azml_fail "suspend cpu-1: $(cat "$T/err")"
[ -z "$(azml_emulator_vms)" ] || azml_fail "VMs left: $(azml_emulator_vms)"
azml_pass "with StateDir sound again, suspend deletes the VM"
echo "$AZML_PASSED passed, 0 failed"

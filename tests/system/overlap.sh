#!/bin/bash
# Resume and suspend of one node overlapping (Azure operations slow enough
# to overlap): a resume during a delete waits for it, then creates; a
# suspend during a create waits, then deletes what was made; the same
# operation twice is done once; a program killed (SIGKILL) in the middle is
# taken over by the next.  Real munged, slurmctld, slurmds booted by the
# emulator.
set -u
. "$(dirname "$0")/lib.sh"

# VMs boot as real ones do: node-init in the emulator's sandbox.
AZML_NODE_INIT=1
azml_cluster_init overlap
azml_emulator_start
azml_emulator_cluster 300 <<'CONF'
ComputeCluster=cpu VmSize=Standard_D2s_v3 MaxNodes=4 IdleSecondsBeforeScaledown=600
CONF

PS=$AZML_BUILD/plugins/power_save
stat() { curl -sf "$EMU_URL/emulator/stats" | python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"; }
has_vm() { azml_emulator_vms | tr ' ' '\n' | grep -qx "$1"; }
vm_state() {	# provisioningState of VM $1, or "none"
	curl -sf "$EMU_URL/emulator/vms" | python3 -c "
import json, sys
s = [v.get('provisioning', v.get('provisioningState', '?')) for v in json.load(sys.stdin) if v['name'] == '$1']
print(s[0] if s else 'none')"
}
# The worker (pid) that owns node $1's operation, from StateDir.
owner_pid() { awk '$1 == "owner" { print $3 }' "$T/azureml-state/intent/$1" 2>/dev/null; }
owner_is() { [ "$(awk '$1 == "owner" { print $2 }' "$T/azureml-state/intent/$1" 2>/dev/null)" = "$2" ]; }
node_addr() { scontrol -o show node "$1" | grep -o 'NodeAddr=[^ ]*' | cut -d= -f2; }
state_of() { sinfo -h -n "$1" -o %t; }
completed() {
	local line
	line=$(scontrol -o show job "$1")
	grep -q 'JobState=COMPLETED' <<<"$line" && return 0
	grep -q 'JobState=PENDING.*Reason=BeginTime' <<<"$line" &&
		scontrol update jobid="$1" StartTime=now
	return 1
}
# Lines of the log that say a program of MODE for NODE finished.
finished() { grep -c "$1 $2: .* done, .* failed" "$T/azureml.log"; }

# 0. A node with a VM: a job brings cpu-1 up.
id=$(sbatch --parsable -p cpu -w cpu-1 --wrap 'hostname') || azml_fail sbatch
azml_wait 90 completed "$id" || azml_fail "job $id on cpu-1 did not complete"

# 1. Resume during an in-flight delete (Azure takes 40 s for each: Slurm
# powers the node down only after SuspendTimeout and its own periodic pass).
faults '{"async_ms":40000}'
scontrol update nodename=cpu-1 state=power_down reason=test || azml_fail "power_down cpu-1"
azml_wait 30 owner_is cpu-1 delete || azml_fail "no delete of cpu-1 began"
azml_wait 30 bash -c "[ \"\$(sinfo -h -n cpu-1 -o %t)\" = 'idle~' ]" ||
	azml_fail "cpu-1 not powered down: $(state_of cpu-1)"
has_vm cpu-1 || azml_fail "the delete of cpu-1 is already over: nothing overlaps"
start=$SECONDS
id=$(sbatch --parsable -p cpu -w cpu-1 --wrap 'hostname') || azml_fail sbatch
azml_wait 30 grep -q "node cpu-1: a delete (pid [0-9]*) is in flight; this create waits for it, then creates a new VM" "$T/azureml.log" ||
	azml_fail "the resume did not say it waits for the delete"
faults '{"async_ms":300}'
azml_wait 120 completed "$id" || azml_fail "job $id did not run after the delete: $(scontrol -o show job "$id" | grep -o 'JobState=[^ ]*\|Reason=[^ ]*')"
took=$((SECONDS - start))
[ "$took" -lt 120 ] || azml_fail "the job waited $took s"
has_vm cpu-1 || azml_fail "cpu-1 has no VM"
[ "$(node_addr cpu-1)" != cpu-1 ] || azml_fail "cpu-1 has no NodeAddr"
azml_pass "resume during an in-flight delete: new VM, NodeAddr $(node_addr cpu-1), job ran ${took} s after sbatch"

# 2. Suspend during an in-flight create: nothing is left.
faults '{"async_ms":10000}'
"$PS/slurm-azureml-resume" cpu-3 || azml_fail "resume cpu-3"
azml_wait 20 owner_is cpu-3 create || azml_fail "no create of cpu-3 began"
creates=$(stat creates)
"$PS/slurm-azureml-suspend" cpu-3 || azml_fail "suspend cpu-3"
azml_wait 10 grep -q "node cpu-3: a create (pid [0-9]*) is in flight; this delete waits for it, then deletes what it made" "$T/azureml.log" ||
	azml_fail "the suspend did not say it waits for the create"
azml_wait 60 bash -c "[ \$(grep -c 'suspend cpu-3: .* done' $T/azureml.log) -ge 1 ]" ||
	azml_fail "the suspend of cpu-3 did not finish"
has_vm cpu-3 && azml_fail "a VM is left for cpu-3 ($(vm_state cpu-3))"
grep -q "suspend cpu-3: 1 done, 0 failed" "$T/azureml.log" || azml_fail "suspend cpu-3 did not report its delete"
azml_pass "suspend during an in-flight create: the delete waited for the create, no VM left"

# 3. Each of the above with the first program killed in the middle.
# 3a. The suspend's worker is killed while its delete is in flight; the
#     resume takes over: it finishes the delete, then creates.
faults '{"async_ms":40000}'
scontrol update nodename=cpu-1 state=power_down reason=test || azml_fail "power_down cpu-1"
azml_wait 30 owner_is cpu-1 delete || azml_fail "no delete of cpu-1 began"
pid=$(owner_pid cpu-1)
kill -9 "$pid" || azml_fail "kill the suspend worker $pid"
azml_wait 30 bash -c "[ \"\$(sinfo -h -n cpu-1 -o %t)\" = 'idle~' ]" ||
	azml_fail "cpu-1 not powered down: $(state_of cpu-1)"
id=$(sbatch --parsable -p cpu -w cpu-1 --wrap 'hostname') || azml_fail sbatch
azml_wait 30 grep -q "node cpu-1: taking over an interrupted delete" "$T/azureml.log" ||
	azml_fail "the resume did not take over the killed delete"
faults '{"async_ms":300}'
azml_wait 120 completed "$id" || azml_fail "job $id did not run after the takeover: $(scontrol -o show job "$id" | grep -o 'JobState=[^ ]*\|Reason=[^ ]*')"
grep -q "resume node=cpu-1: its previous VM is deleted" "$T/azureml.log" ||
	azml_fail "the resume did not finish the delete before creating"
has_vm cpu-1 || azml_fail "cpu-1 has no VM"
azml_pass "suspend killed mid-delete: the resume finished the delete, created a VM, the job ran"

# 3b. The resume's worker is killed while its create is in flight; the
#     suspend takes over and nothing is left.
faults '{"async_ms":10000}'
"$PS/slurm-azureml-resume" cpu-4 || azml_fail "resume cpu-4"
azml_wait 20 owner_is cpu-4 create || azml_fail "no create of cpu-4 began"
kill -9 "$(owner_pid cpu-4)" || azml_fail "kill the resume worker"
"$PS/slurm-azureml-suspend" cpu-4 || azml_fail "suspend cpu-4"
faults '{"async_ms":300}'
azml_wait 60 bash -c "[ \$(grep -c 'suspend cpu-4: .* done' $T/azureml.log) -ge 1 ]" ||
	azml_fail "the suspend of cpu-4 did not finish"
azml_wait 30 bash -c "! curl -sf $EMU_URL/emulator/vms | grep -q '\"cpu-4\"'" ||
	azml_fail "a VM is left for cpu-4 ($(vm_state cpu-4))"
azml_pass "resume killed mid-create: the suspend deleted what it made, no VM left"

# 4. Two resumes of one node at once: one create; two suspends: one delete.
faults '{"async_ms":3000}'
creates=$(stat creates)
done_before=$(grep -c 'resume cpu-3: .* done' "$T/azureml.log")
"$PS/slurm-azureml-resume" cpu-3 & p1=$!
"$PS/slurm-azureml-resume" cpu-3 & p2=$!
wait $p1 $p2	# (a bare wait would wait for the emulator too)
azml_wait 60 bash -c "[ \$(grep -c 'resume cpu-3: .* done' $T/azureml.log) -ge $((done_before + 2)) ]" ||
	azml_fail "the two resumes of cpu-3 did not both finish"
[ $(($(stat creates) - creates)) -eq 1 ] || azml_fail "two resumes made $(($(stat creates) - creates)) creates"
grep -q "node cpu-3: a create (pid [0-9]*) is in flight; this create joins it" "$T/azureml.log" ||
	azml_fail "the second resume did not join the first"
grep -q "node cpu-3: the create it waited for was this very create, and it succeeded" "$T/azureml.log" ||
	azml_fail "the second resume did not learn the outcome"
has_vm cpu-3 || azml_fail "cpu-3 has no VM"
deletes=$(stat deletes)
"$PS/slurm-azureml-suspend" cpu-3 & p1=$!
"$PS/slurm-azureml-suspend" cpu-3 & p2=$!
wait $p1 $p2
azml_wait 60 bash -c "[ \$(grep -c 'suspend cpu-3: .* done' $T/azureml.log) -ge 3 ]" ||
	azml_fail "the two suspends of cpu-3 did not both finish"
[ $(($(stat deletes) - deletes)) -eq 1 ] || azml_fail "two suspends made $(($(stat deletes) - deletes)) deletes"
azml_wait 30 bash -c "! curl -sf $EMU_URL/emulator/vms | grep -q '\"cpu-3\"'" ||
	azml_fail "a VM is left for cpu-3"
azml_pass "two resumes at once: one create; two suspends at once: one delete"

# 5. StateDir unusable: an error, never "already in flight"; the node is
#    handed back at once with the reason, and nothing is created.
faults '{"async_ms":300}'
mv "$T/azureml-state/intent" "$T/intent.saved"
echo "not a folder" > "$T/azureml-state/intent"
creates=$(stat creates)
id=$(sbatch --parsable -p cpu -w cpu-2 --wrap 'hostname') || azml_fail sbatch
azml_wait 30 bash -c "scontrol -o show node cpu-2 | grep -q 'Reason=azureml: StateDir: .*intent'" ||
	azml_fail "no StateDir reason on cpu-2: $(scontrol -o show node cpu-2 | grep -o 'State=[^ ]*\|Reason=.*')"
grep -q "in flight" <(grep "cpu-2" "$T/azureml.log" | tail -3) && azml_fail "a StateDir error was called 'in flight'"
[ "$(stat creates)" = "$creates" ] || azml_fail "a VM was created without its intent recorded"
scancel "$id"
rm -f "$T/azureml-state/intent"
mv "$T/intent.saved" "$T/azureml-state/intent"
azml_pass "StateDir unusable: node handed back at once with 'azureml: StateDir: ...', nothing created"

# 6. A hostile Azure: a VM shown with another node's tag (a path, even)
#    and a NIC whose "IP address" is a list.  The node is the one Slurm
#    named; a bad address is never given to slurmctld.
faults '{"node_tag":"../../victim"}'
id=$(sbatch --parsable -p cpu -w cpu-2 --wrap 'hostname') || azml_fail sbatch
azml_wait 120 completed "$id" || azml_fail "job $id did not run when Azure tagged its VM ../../victim"
[ ! -e "$T/victim" ] && [ ! -e "$T/azureml-state/victim" ] || azml_fail "a tag named a file"
grep -q "resume node=cpu-2 vm=cpu-2 .*: ok" "$T/azureml.log" || azml_fail "the resume did not name cpu-2"
faults '{"node_tag":"","nic_ip":"10.9.9.9,127.0.0.1"}'
scontrol update nodename=cpu-2 state=power_down_force reason=test
azml_wait 60 bash -c "[ \"\$(sinfo -h -n cpu-2 -o %t)\" = 'idle~' ]" || azml_fail "cpu-2 not powered down"
scontrol update nodename=cpu-2 state=resume 2>/dev/null
id=$(sbatch --parsable -p cpu -w cpu-2 --wrap 'hostname') || azml_fail sbatch
azml_wait 60 bash -c "scontrol -o show node cpu-2 | grep -q 'Reason=azureml: InvalidResponse'" ||
	azml_fail "an IP list was not refused: $(scontrol -o show node cpu-2 | grep -o 'NodeAddr=[^ ]*\|Reason=.*')"
scontrol -o show node cpu-2 | grep -q 'NodeAddr=10.9.9.9' && azml_fail "the bad address reached slurmctld"
scancel "$id"
faults '{"nic_ip":""}'
azml_pass "a hostile Azure: a VM tagged ../../victim served cpu-2, an IP list was refused with InvalidResponse"

echo "overlap: $AZML_PASSED checks passed"

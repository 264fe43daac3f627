#!/bin/bash
# Compute clusters scale 0 -> N -> 0 through Slurm's power saving, our
# programs and the Azure emulator: real munged, slurmctld and slurmds that
# the emulator boots as VMs.
set -u
. "$(dirname "$0")/lib.sh"

# VMs boot as real ones do: node-init in the emulator's sandbox.
AZML_NODE_INIT=1
azml_cluster_init scale
azml_emulator_start
azml_emulator_cluster <<'CONF'
ComputeCluster=cpu VmSize=Standard_D2s_v3 MaxNodes=4 IdleSecondsBeforeScaledown=5
ComputeCluster=other VmSize=Standard_D4s_v3 MaxNodes=2 IdleSecondsBeforeScaledown=5
ComputeCluster=spot VmSize=Standard_D2_v2 MaxNodes=2 IdleSecondsBeforeScaledown=5 Priority=LowPriority
CONF
[ "$(sinfo -h -p cpu -o %t)" = "idle~" ] || azml_fail "cpu is not powered down at start"
[ -z "$(azml_emulator_vms)" ] || azml_fail "VMs before any job"

# One node from zero.
t0=$SECONDS
id=$(sbatch --parsable -p cpu -N1 --wrap 'hostname; sleep 2') || azml_fail sbatch
azml_wait 20 bash -c "[ -n \"\$(curl -sf $EMU_URL/emulator/vms | grep cpu-)\" ]" ||
	azml_fail "no VM was created for job $id"
azml_wait 90 bash -c "[ \"\$(scontrol -o show job $id | grep -o 'JobState=[A-Z]*')\" = JobState=COMPLETED ]" ||
	azml_fail "job $id did not complete: $(scontrol -o show job "$id")"
echo "  job $id: submitted to COMPLETED in $((SECONDS - t0)) s"
grep -q "resume node=cpu-1 vm=cpu-1 op=.* ip=127.0.0.1: ok" "$T/azureml.log" ||
	azml_fail "no resume line in the log"
azml_pass "a job on an all-powered-down cluster runs on a VM the emulator created"

azml_wait 60 bash -c "[ -z \"\$(curl -sf $EMU_URL/emulator/vms | grep -o cpu-)\" ]" ||
	azml_fail "VMs left after the idle time: $(azml_emulator_vms)"
azml_wait 30 bash -c "[ \"\$(sinfo -h -n cpu-1 -o %t)\" = 'idle~' ]" ||
	azml_fail "cpu-1 is $(sinfo -h -n cpu-1 -o %t), not idle~"
grep -q "suspend node=cpu-1 vm=cpu-1 op=.*: deleted" "$T/azureml.log" ||
	azml_fail "no suspend line in the log"
azml_pass "after IdleSecondsBeforeScaledown the node is powered down and its VM deleted"

# Two nodes of one cluster and a node of another at once.
id=$(sbatch --parsable -p cpu -N2 --wrap 'srun hostname') || azml_fail sbatch
id2=$(sbatch --parsable -p other -N1 --wrap 'true') || azml_fail sbatch
azml_wait 90 bash -c "[ \"\$(scontrol -o show job $id | grep -o 'JobState=[A-Z]*')\" = JobState=COMPLETED ] && [ \"\$(scontrol -o show job $id2 | grep -o 'JobState=[A-Z]*')\" = JobState=COMPLETED ]" ||
	azml_fail "jobs $id/$id2: $(scontrol -o show job "$id" | grep -o 'JobState=[^ ]*') $(scontrol -o show job "$id2" | grep -o 'JobState=[^ ]*')"
azml_pass "a two-node job and a job on a second cluster run at once"
azml_wait 60 bash -c "[ -z \"\$(curl -sf $EMU_URL/emulator/vms | grep -o name)\" ]" ||
	azml_fail "VMs left: $(azml_emulator_vms)"
azml_pass "both clusters are back to zero VMs"

# Quota exceeded: the resume's pre-check sends no create; the node goes back
# at once with the quota that is short, the job is requeued, and runs once
# the quota allows it.
curl -sf -X POST -d '{"quota":{"standardDSv3Family":0}}' "$EMU_URL/emulator/faults" > /dev/null
azml_wait 30 bash -c "sinfo -h -p cpu -o %t | grep -qx 'idle~'" || azml_fail "cpu not idle~"
t0=$SECONDS
id=$(sbatch --parsable -p cpu -N1 --wrap 'true') || azml_fail sbatch
azml_wait 20 bash -c "scontrol -o show node | grep -q 'Reason=azureml: QuotaExceeded: standardDSv3Family has 0 of 0 vCPUs free in eastus; job $id needs 2'" ||
	azml_fail "no QuotaExceeded reason: $(scontrol -o show node | grep -o 'Reason=[^[]*')"
echo "  QuotaExceeded on the node after $((SECONDS - t0)) s: $(scontrol -o show node | grep -o 'NodeName=[^ ]*\|State=[^ ]*\|Reason=azureml: QuotaExceeded' | paste - - - | grep Reason | head -1)"
[ "$(job_state "$id")" != RUNNING ] || azml_fail "job $id runs without a VM"
[ -z "$(azml_emulator_vms)" ] || azml_fail "a VM exists despite the quota"
grep -q "job $id: no VM created for it: standardDSv3Family has 0 of 0 vCPUs free" "$T/azureml.log" ||
	azml_fail "no QuotaExceeded line in the log"
azml_pass "quota exceeded: node handed back with the Azure code in the reason, within seconds"
curl -sf -X POST -d '{"quota":{"standardDSv3Family":100}}' "$EMU_URL/emulator/faults" > /dev/null
# Slurm holds a requeued batch job for 120 s (BeginTime); not ours to wait.
scontrol update jobid="$id" StartTime=now
azml_wait 120 bash -c "[ \"\$(scontrol -o show job $id | grep -o 'JobState=[A-Z]*')\" = JobState=COMPLETED ]" ||
	azml_fail "job $id did not run once the quota allowed: $(scontrol -o show job "$id")"
azml_pass "the requeued job runs once the quota allows it"

# Low priority: Azure evicts the VM; the watcher beside slurmd sees the
# Preempt event, the job is requeued and runs again on a new VM.
cat > "$T/evictable.sh" <<'JOB'
#!/bin/bash
[ "${SLURM_RESTART_COUNT:-0}" -ge 1 ] && { echo "rerun on $(hostname)"; exit 0; }
sleep 300
JOB
id=$(sbatch --parsable -p spot -N1 "$T/evictable.sh") || azml_fail sbatch
azml_wait 90 bash -c "[ \"\$(scontrol -o show job $id | grep -o 'JobState=[A-Z]*')\" = JobState=RUNNING ]" ||
	azml_fail "job $id is not running: $(scontrol -o show job "$id")"
node=$(scontrol -o show job "$id" | grep -o ' NodeList=[^ ]*' | cut -d= -f2)
t0=$SECONDS
curl -sf -X POST "$EMU_URL/emulator/evict/$node?in=20" > /dev/null || azml_fail "evict $node"
azml_wait 15 bash -c "scontrol -o show job $id | grep -q 'Restarts=1'" ||
	azml_fail "job $id was not requeued: $(scontrol -o show job "$id")"
echo "  job $id requeued $((SECONDS - t0)) s after Azure announced the eviction of $node"
# The watcher node-init left running on the VM hands the node back with
# the event in its reason.
azml_wait 10 grep -q "update_node: node $node reason set to: azureml: Preempt: Spot VM $node is being evicted" "$T/slurmctld.log" ||
	azml_fail "the watcher did not hand $node back for the Preempt event"
azml_wait 30 bash -c "! curl -sf $EMU_URL/emulator/vms | grep -q '\"name\":\"$node\"'" ||
	azml_fail "the evicted VM is still there"
scontrol update jobid="$id" StartTime=now	# Slurm's 120 s requeue hold
azml_wait 120 bash -c "[ \"\$(scontrol -o show job $id | grep -o 'JobState=[A-Z]*')\" = JobState=COMPLETED ]" ||
	azml_fail "job $id did not rerun: $(scontrol -o show job "$id")"
azml_pass "low-priority eviction: node handed back, job requeued at once and rerun on a new VM"

# Bad input to the programs: nothing is created.
before=$(azml_emulator_vms)
SLURM_CONF=$SLURM_CONF "$AZML_BUILD/plugins/power_save/slurm-azureml-resume" 'nosuch[1-2]' 2> "$T/err"
[ $? = 1 ] || azml_fail "resume of unknown nodes did not fail"
grep -q "node 'nosuch1' is not a node of any compute cluster or instance in azureml.conf" "$T/err" ||
	azml_fail "resume of unknown nodes said: $(cat "$T/err")"
SLURM_CONF=$SLURM_CONF "$AZML_BUILD/plugins/power_save/slurm-azureml-resume" 'cpu-[1' 2> "$T/err"
[ $? = 1 ] || azml_fail "a malformed hostlist was accepted"
sleep 1
[ "$(azml_emulator_vms)" = "$before" ] || azml_fail "bad input created VMs"
azml_pass "unknown nodes or a malformed hostlist: clear error, exit 1, nothing created"

# SLURM_RESUME_FILE only feeds the log: malformed, or larger than 64 KiB
# (2000 jobs), it never stops a resume.
echo '{"jobs": "not a list"' > "$T/bad-resume.json"
SLURM_CONF=$SLURM_CONF SLURM_RESUME_FILE=$T/bad-resume.json AZUREML_FOREGROUND=1 \
	"$AZML_BUILD/plugins/power_save/slurm-azureml-resume" 'cpu-3' 2> "$T/err" ||
	azml_fail "a malformed resume file stopped the resume: $(cat "$T/err")"
grep -q "is not Slurm's resume JSON .*going on without it" "$T/err" || azml_fail "resume file: $(cat "$T/err")"
python3 -c '
import json
print(json.dumps({"jobs": [{"job_id": i, "nodes": "cpu-3"} for i in range(1, 2001)],
                  "all_nodes": "cpu-3"}))' > "$T/big-resume.json"
[ "$(stat -c %s "$T/big-resume.json")" -gt 65536 ] || azml_fail "the big resume file is small"
SLURM_CONF=$SLURM_CONF SLURM_RESUME_FILE=$T/big-resume.json AZUREML_FOREGROUND=1 \
	"$AZML_BUILD/plugins/power_save/slurm-azureml-resume" 'cpu-3' 2> "$T/err" ||
	azml_fail "a $(stat -c %s "$T/big-resume.json")-byte resume file stopped the resume: $(cat "$T/err")"
grep -q "job 2000 wants cpu-3" "$T/err" || azml_fail "the big resume file was not read: $(tail -3 "$T/err")"
azml_emulator_vms | grep -qw cpu-3 || azml_fail "no VM for cpu-3"
SLURM_CONF=$SLURM_CONF AZUREML_FOREGROUND=1 "$AZML_BUILD/plugins/power_save/slurm-azureml-suspend" 'cpu-3' 2> "$T/err" ||
	azml_fail "suspend cpu-3: $(cat "$T/err")"
azml_pass "a malformed or $(stat -c %s "$T/big-resume.json")-byte SLURM_RESUME_FILE: the resume goes on"
echo "$AZML_PASSED passed, 0 failed"

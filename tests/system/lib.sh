# tests/system/lib.sh - a private Slurm cluster on loopback for system tests.
#
# Source it, then:  azml_cluster_init NAME   (a fresh dir, munged, a slurm.conf)
#                   azml_start_slurmctld     (after adding lines to $SLURM_CONF)
#                   azml_stop                (also run from an EXIT trap)
# Every daemon runs as root with its own socket, ports and state dir, so tests
# never touch a system Slurm or munge.

AZML_TOP=${AZML_TOP:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
AZML_BUILD=${AZML_BUILD:-$AZML_TOP/build}
AZML_BIN=$AZML_BUILD/plugins/admin/slurm-azureml
SLURM_PLUGIN_DIR_SYS=$(sed -n 's/^SLURM_PLUGIN_DIR = //p' "$AZML_BUILD/Makefile" 2>/dev/null)
: "${SLURM_PLUGIN_DIR_SYS:=/usr/lib/x86_64-linux-gnu/slurm-wlm}"

azml_fail() { echo "FAIL: $*" >&2; azml_dump_logs; exit 1; }
azml_pass() { echo "ok - $*"; AZML_PASSED=$((${AZML_PASSED:-0} + 1)); }

azml_dump_logs() {
	[ -n "${T:-}" ] || return 0
	for f in "$T"/*.log; do
		[ -f "$f" ] || continue
		echo "---- $f (last 30 lines)" >&2
		tail -n 30 "$f" >&2
	done
}

# The first of $1 free TCP ports in a row on 127.0.0.1.
azml_free_ports() {
	python3 - "$1" <<'PY'
import random, socket, sys
n = int(sys.argv[1])
for _ in range(200):
    # below the ephemeral range (32768-), where clients take their ports
    base = random.randint(20000, 32000 - n)
    ok = True
    for p in range(base, base + n):
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", p))
        except OSError:
            ok = False
        finally:
            s.close()
        if not ok:
            break
    if ok:
        print(base)
        sys.exit(0)
sys.exit(1)
PY
}

azml_cluster_init() {
	T=$(mktemp -d "/tmp/azml-$1.XXXXXX")
	chmod 755 "$T"
	mkdir -p "$T/state" "$T/munge"
	chmod 711 "$T/munge"
	dd if=/dev/urandom of="$T/munge/munge.key" bs=1024 count=1 status=none
	chmod 600 "$T/munge/munge.key"
	munged --force --socket="$T/munge/munge.sock" \
		--key-file="$T/munge/munge.key" --log-file="$T/munged.log" \
		--pid-file="$T/munge/munged.pid" --seed-file="$T/munge/seed" \
		|| azml_fail "munged did not start"
	AZML_PORT=$(azml_free_ports 40) || azml_fail "no free ports"
	export SLURM_CONF=$T/slurm.conf
	export MUNGE_SOCKET=$T/munge/munge.sock
	cat > "$SLURM_CONF" <<CONF
ClusterName=azml$$
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort=$AZML_PORT
SlurmdPort=$((AZML_PORT + 1))
AuthType=auth/munge
AuthInfo=socket=$T/munge/munge.sock
CredType=cred/munge
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$T/state
SlurmdSpoolDir=$T/spool-%n
SlurmctldPidFile=$T/slurmctld.pid
SlurmdPidFile=$T/slurmd-%n.pid
SlurmctldLogFile=$T/slurmctld.log
SlurmdLogFile=$T/slurmd-%n.log
SlurmctldDebug=debug
SlurmdDebug=info
ProctrackType=proctrack/pgid
TaskPlugin=task/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=none
ReturnToService=2
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
PluginDir=$SLURM_PLUGIN_DIR_SYS
CONF
	trap azml_stop EXIT
	cd "$T" || azml_fail "cd $T"	# job output files (slurm-N.out) land here
}

# azml_use_plugins: slurmctld loads job_submit/azureml and every command
# spank_azureml, both from the build folder, with $T/azureml.conf.
azml_use_plugins() {
	sed -i '/^PluginDir=/d' "$SLURM_CONF"
	echo "required $AZML_BUILD/plugins/spank/.libs/spank_azureml.so conf=$T/azureml.conf" \
		> "$T/plugstack.conf"
	cat >> "$SLURM_CONF" <<CONF
JobSubmitPlugins=azureml
PluginDir=$SLURM_PLUGIN_DIR_SYS:$AZML_BUILD/plugins/job_submit/.libs
PlugStackConfig=$T/plugstack.conf
CONF
}

azml_wait_slurmctld() {
	for _ in $(seq 1 100); do
		scontrol ping 2>/dev/null | grep -q 'is UP' && return 0
		sleep 0.1
	done
	azml_fail "slurmctld is not answering"
}

azml_start_slurmctld() {
	slurmctld -c -i -f "$SLURM_CONF" || azml_fail "slurmctld did not start"
	azml_wait_slurmctld
}

# Adding nodes changes MaxNodeCount, which Slurm 22.05 takes only on restart.
azml_restart_slurmctld() {
	local pid
	pid=$(cat "$T/slurmctld.pid" 2>/dev/null)
	[ -n "$pid" ] && kill "$pid"
	for _ in $(seq 1 100); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	slurmctld -i -f "$SLURM_CONF" || azml_fail "slurmctld did not restart"
	azml_wait_slurmctld
}

azml_stop() {
	local rc=$?
	[ -n "${T:-}" ] || return $rc
	azml_emulator_stop
	for pidf in "$T"/slurmd-*.pid "$T/slurmctld.pid" "$T/munge/munged.pid"; do
		[ -f "$pidf" ] && kill "$(cat "$pidf")" 2>/dev/null
	done
	pkill -f "$T/" 2>/dev/null
	sleep 0.3
	pkill -9 -f "$T/" 2>/dev/null
	if [ $rc -eq 0 ] && [ -z "${AZML_KEEP:-}" ]; then
		rm -rf "$T"
	else
		echo "(test files kept in $T)" >&2
	fi
	return $rc
}

# azml_emulator_start [ARGS...]: the Azure emulator on a free port, booting
# each VM as a slurmd for its node in a fresh time namespace (a VM's boot
# time is its own), two seconds after it is created (a boot delay that
# keeps its boot time after the power-up request, which Slurm checks),
# unless $T/noboot-NODE exists when it is created: a VM whose software never
# comes up (its boot command exits at once).  Sets EMU_PORT, EMU_URL.
azml_emulator_start() {
	EMU_PORT=$(azml_free_ports 1) || azml_fail "no free port"
	EMU_URL=http://127.0.0.1:$EMU_PORT
	printf 'emulator-secret\n' > "$T/secret"
	chmod 600 "$T/secret"
	AZML_EMU_ARGS=("$@")
	_azml_emulator_launch
}

_azml_emulator_launch() {
	"$AZML_BUILD/contrib/emulator/azure-emulator" --listen "127.0.0.1:$EMU_PORT" \
		--state "$T/emulator.state" --client-secret emulator-secret \
		--boot-log "$T/boot.log" --async-ms 300 \
		--boot-command "[ -e $T/noboot-{node} ] && exit 0; sleep 2; $AZML_BIN watch-events -f $T/azureml.conf --node {node} --vm {vm} --interval 0.5 & exec unshare --time --boottime=-\$(cut -d. -f1 /proc/uptime) slurmd -D -N {node} -f $SLURM_CONF" \
		"${AZML_EMU_ARGS[@]}" >> "$T/emulator.log" 2>&1 &
	echo $! > "$T/emulator.pidfile"
	for _ in $(seq 1 100); do
		curl -sf "$EMU_URL/emulator/stats" > /dev/null && return 0
		sleep 0.1
	done
	azml_fail "the emulator did not start"
}

# azml_emulator_restart [PAUSE]: stop the emulator (its VMs keep running, as
# Azure's do), wait PAUSE seconds, start it again on the same port and
# state; faults set through the admin API are forgotten.
azml_emulator_restart() {
	local pid
	pid=$(cat "$T/emulator.pidfile")
	kill "$pid"
	for _ in $(seq 1 50); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	sleep "${1:-0}"
	_azml_emulator_launch
}

# The azureml.conf global lines that point at the emulator.
azml_emulator_conf() {
	cat <<CONF
ClusterName=azml$$
SubscriptionId=00000000-0000-0000-0000-000000000001
ResourceGroup=rg
Location=eastus
ArmEndpoint=$EMU_URL
AuthorityHost=$EMU_URL
ImdsEndpoint=$EMU_URL
Credential=client-secret:$T/secret
TenantId=11111111-1111-1111-1111-111111111111
ClientId=22222222-2222-2222-2222-222222222222
StateDir=$T/azureml-state
LogFile=$T/azureml.log
CONF
}

# azml_emulator_cluster [RESUME_TIMEOUT] < TARGET-LINES: azureml.conf with
# the emulator's globals and the target lines on stdin, its generated
# slurm.conf lines (one slurmd port per node), then slurmctld.
azml_emulator_cluster() {
	{ azml_emulator_conf; cat; } > "$T/azureml.conf"
	"$AZML_BIN" generate --program-dir "$AZML_BUILD/plugins/power_save" \
		--port-base $((AZML_PORT + 10)) > "$T/nodes.conf" || azml_fail generate
	cat >> "$SLURM_CONF" <<CONF
Include $T/nodes.conf
SlurmdParameters=config_overrides
ResumeTimeout=${1:-90}
SuspendTimeout=5
CONF
	azml_start_slurmctld
}

azml_emulator_vms() {	# names of the VMs the emulator holds
	curl -sf "$EMU_URL/emulator/vms" | python3 -c '
import json, sys
print(" ".join(sorted(v["name"] for v in json.load(sys.stdin))))'
}

azml_emulator_stop() {
	[ -f "$T/emulator.pidfile" ] || return 0
	curl -sf -X POST "$EMU_URL/emulator/reset" > /dev/null
	kill "$(cat "$T/emulator.pidfile")" 2>/dev/null
	rm -f "$T/emulator.pidfile"
}

# azml_wait SECONDS COMMAND...: until COMMAND succeeds; 1 on time-out.
azml_wait() {
	local limit=$1 start=$SECONDS
	shift
	while ! "$@"; do
		[ $((SECONDS - start)) -ge "$limit" ] && return 1
		sleep 0.5
	done
}

job_state() { scontrol -o show job "$1" | grep -o 'JobState=[A-Z_]*' | cut -d= -f2; }

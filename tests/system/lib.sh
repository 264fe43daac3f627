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
	for f in "$T"/*.log "$T"/consoles/*.log; do
		[ -f "$f" ] || continue
		echo "---- $f (last 30 lines)" >&2
		tail -n 30 "$f" >&2
	done
}

# The first of $1 free TCP ports in a row on 127.0.0.1.  Below the
# ephemeral range (32768-), where clients take their ports; tests/run's
# legs run side by side, so each takes its own third: the host's, then
# the chroots' by suite.
azml_free_ports() {
	python3 - "$1" "${AZML_CHROOT_SUITE:-}" <<'PY'
import random, socket, sys
n = int(sys.argv[1])
lo, hi = {"": (20000, 24000), "forky": (28000, 32000)}.get(sys.argv[2],
                                                          (24000, 28000))
for _ in range(200):
    base = random.randint(lo, hi - n)
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
	local auth spool
	T=$(mktemp -d "/tmp/azml-$1.XXXXXX")
	chmod 755 "$T"
	mkdir -p "$T/state" "$T/munge"
	chmod 711 "$T/munge"
	dd if=/dev/urandom of="$T/munge/munge.key" bs=1024 count=1 status=none
	chmod 600 "$T/munge/munge.key"
	AZML_MUNGE_KEY=$T/munge/munge.key
	if [ -n "${AZML_NODE_INIT:-}" ]; then
		_azml_lock_default_munge
		# As on a real controller: munged on the default socket (the
		# VMs' slurmds fetch a slurm.conf without AuthInfo), and each
		# VM's own munged on its private /run/munge.
		_azml_default_munged
		auth="SlurmdPidFile=/run/slurm/slurmd.pid"
		spool=
	else
		munged --force --socket="$T/munge/munge.sock" \
			--key-file="$T/munge/munge.key" --log-file="$T/munged.log" \
			--pid-file="$T/munge/munged.pid" --seed-file="$T/munge/seed" \
			|| azml_fail "munged did not start"
		export MUNGE_SOCKET=$T/munge/munge.sock
		auth="AuthInfo=socket=$T/munge/munge.sock
SlurmdPidFile=$T/slurmd-%n.pid"
		spool="SlurmdSpoolDir=$T/spool-%n"
	fi
	AZML_PORT=$(azml_free_ports 40) || azml_fail "no free ports"
	export SLURM_CONF=$T/slurm.conf
	cat > "$SLURM_CONF" <<CONF
ClusterName=azml$$
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort=$AZML_PORT
SlurmdPort=$((AZML_PORT + 1))
AuthType=auth/munge
$auth
CredType=cred/munge
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$T/state
$spool
SlurmctldPidFile=$T/slurmctld.pid
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

# munged on the default socket with $T's key; one that already serves it
# (a machine's own munged) is used as it is, with /etc/munge/munge.key.
# Tests that boot VMs through node-init share the default munge socket
# (/run/munge) and its key: two at once on one machine (two people, or a
# helper script beside tests/run) would each find the other's munged, with
# another key, and fail with "Munge decode failed".  One at a time: a lock
# folder holding the owner's pid; a dead owner's lock is taken over.  (The
# chroot's half has its own /run, and so its own lock.)  Not flock(1): the
# daemons a test starts would inherit its descriptor and hold the lock.
_azml_lock_default_munge() {
	local d=/run/lock/azml-default-munge.d pid waited=0
	mkdir -p /run/lock
	until mkdir "$d" 2>/dev/null; do
		pid=$(cat "$d/pid" 2>/dev/null)
		if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
			rm -rf "$d"
			continue
		fi
		[ $waited -eq 0 ] && echo "  (waiting for test pid ${pid:-?}, which uses the default munge socket)"
		waited=$((waited + 1))
		[ $waited -le 1800 ] || azml_fail "test pid ${pid:-?} held $d for 30 minutes"
		sleep 1
	done
	echo $$ > "$d/pid"
	AZML_MUNGE_LOCK=$d
}

_azml_default_munged() {
	local sock=/run/munge/munge.socket.2
	if [ -S $sock ] && munge -n -S $sock > /dev/null 2>&1; then
		AZML_MUNGE_KEY=/etc/munge/munge.key
		[ -r "$AZML_MUNGE_KEY" ] || azml_fail "a munged serves $sock, but its key $AZML_MUNGE_KEY is not readable"
		echo "  (using the munged that already serves $sock, key $AZML_MUNGE_KEY)"
		return 0
	fi
	mkdir -p /run/munge
	munged --force --socket=$sock --key-file="$T/munge/munge.key" \
		--log-file="$T/munged.log" --pid-file="$T/munge/munged.pid" \
		--seed-file="$T/munge/seed" || azml_fail "munged did not start on $sock"
}

# azml_slurmdbd_start: Slurm's accounting store for this cluster, as a
# site runs it: MariaDB (its own datadir, socket and port under $T) and
# slurmdbd on it; slurm.conf then sends jobs there (slurmctld takes it at
# its next start).  Returns 1, with the reason in AZML_SLURMDBD_BROKEN, on
# a system whose slurmdbd cannot use its MariaDB (see below).
azml_slurmdbd_start() {
	local myport dbdport
	myport=$((AZML_PORT + 30))
	dbdport=$((AZML_PORT + 31))
	command -v mariadbd > /dev/null || azml_fail "mariadbd not found (tests/packages.sh installs mariadb-server)"
	command -v slurmdbd > /dev/null || azml_fail "slurmdbd not found (tests/packages.sh installs it)"
	mkdir -p "$T/mysql"
	mariadb-install-db --no-defaults --datadir="$T/mysql" --user=root \
		--auth-root-authentication-method=socket --skip-test-db \
		> "$T/mariadb-install.log" 2>&1 ||
		azml_fail "mariadb-install-db: $(tail -5 "$T/mariadb-install.log")"
	mariadbd --no-defaults --user=root --datadir="$T/mysql" \
		--socket="$T/mysql.sock" --port=$myport --bind-address=127.0.0.1 \
		--pid-file="$T/mysql.pid" --log-error="$T/mariadb.log" \
		--innodb-buffer-pool-size=32M --skip-name-resolve &
	for _ in $(seq 1 150); do
		mariadb --no-defaults -S "$T/mysql.sock" -u root -e 'SELECT 1' \
			> /dev/null 2>&1 && break
		sleep 0.1
	done
	mariadb --no-defaults -S "$T/mysql.sock" -u root -e "
		CREATE USER 'slurm'@'127.0.0.1' IDENTIFIED BY 'dbpass-$$';
		GRANT ALL ON *.* TO 'slurm'@'127.0.0.1';" ||
		azml_fail "MariaDB did not start: $(tail -5 "$T/mariadb.log")"
	cat > "$T/slurmdbd.conf" <<CONF
AuthType=auth/munge
$(grep '^AuthInfo=' "$SLURM_CONF")
DbdHost=localhost
DbdAddr=127.0.0.1
DbdPort=$dbdport
SlurmUser=root
PidFile=$T/slurmdbd.pid
LogFile=$T/slurmdbd.log
DebugLevel=info
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=$myport
StorageUser=slurm
StoragePass=dbpass-$$
StorageLoc=slurm_acct_db
PluginDir=$SLURM_PLUGIN_DIR_SYS
CONF
	chmod 600 "$T/slurmdbd.conf"
	# slurmdbd reads slurmdbd.conf beside $SLURM_CONF
	slurmdbd || azml_fail "slurmdbd did not start: $(tail -5 "$T/slurmdbd.log")"
	sed -i '/^AccountingStorageType=/d' "$SLURM_CONF"
	cat >> "$SLURM_CONF" <<CONF
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
AccountingStoragePort=$dbdport
CONF
	# what slurmctld and the commands send slurmdbd is signed by the munged
	# of AccountingStoragePass (else the default socket), not AuthInfo's
	[ -n "${MUNGE_SOCKET:-}" ] &&
		echo "AccountingStoragePass=$MUNGE_SOCKET" >> "$SLURM_CONF"
	for _ in $(seq 1 100); do
		sacctmgr -n list cluster > /dev/null 2>&1 && break
		sleep 0.1
	done
	# Debian 13: slurmdbd 24.11.5 dies at start on the client library of
	# MariaDB 11.8.9 (doc/NOTES); the caller says so and goes on without.
	if grep -q "mysql_query failed: 5027 " "$T/slurmdbd.log" 2>/dev/null; then
		AZML_SLURMDBD_BROKEN=$(grep -m 1 "mysql_query failed: 5027 " "$T/slurmdbd.log" |
			sed 's/^\[[^]]*\] //')
		return 1
	fi
	sacctmgr -i add cluster "azml$$" > /dev/null ||
		azml_fail "slurmdbd is not answering: $(tail -5 "$T/slurmdbd.log")"
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
	azml_imds_filter_clear
	for pidf in "$T"/slurmd-*.pid "$T/slurmctld.pid" "$T/slurmdbd.pid" \
		    "$T/mysql.pid" "$T/munge/munged.pid"; do
		[ -f "$pidf" ] && kill "$(cat "$pidf")" 2>/dev/null
	done
	pkill -f "$T/" 2>/dev/null
	sleep 0.3
	pkill -9 -f "$T/" 2>/dev/null
	# the default munged went with the rest: the next test may have it
	[ -n "${AZML_MUNGE_LOCK:-}" ] && rm -rf "$AZML_MUNGE_LOCK"
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
# comes up (its boot command exits at once).  As on Azure, ARM, Entra ID and
# Key Vault answer over https (a test CA made by tests/tls-certs.sh in
# $T/tls: CaBundle= in azureml.conf, CURL_CA_BUNDLE for the tests' curl),
# IMDS over plain http on a port of its own.  With AZML_NODE_INIT, Key Vault
# is host-style, https://kv1.vault.azure.net/secrets/munge, on port 443 of
# an address of its own in 127/8, which only the VM sandboxes' own
# /etc/hosts names (nothing on the controller resolves it: it never reads
# Key Vault); the sandboxes' CA store holds the test CA.  Sets EMU_PORT,
# EMU_URL, EMU_IMDS_PORT, EMU_IMDS_URL, EMU_VAULT_ADDR.
azml_emulator_start() {
	EMU_PORT=$(azml_free_ports 2) || azml_fail "no free port"
	EMU_URL=https://127.0.0.1:$EMU_PORT
	EMU_IMDS_PORT=$((EMU_PORT + 1))
	EMU_IMDS_URL=http://127.0.0.1:$EMU_IMDS_PORT
	EMU_VAULT_ADDR=127.$((RANDOM % 200 + 20)).$((RANDOM % 250 + 1)).$((RANDOM % 250 + 1))
	bash "$AZML_TOP/tests/tls-certs.sh" "$T/tls" ||
		azml_fail "couldn't make the test certificates (tests/tls-certs.sh)"
	export CURL_CA_BUNDLE=$T/tls/ca.pem
	printf 'emulator-secret\n' > "$T/secret"
	chmod 600 "$T/secret"
	AZML_EMU_ARGS=("$@")
	_azml_emulator_launch
}

_azml_emulator_launch() {
	local boot
	if [ -n "${AZML_NODE_INIT:-}" ]; then
		# Each VM boots in a sandbox of its own and runs the real
		# node-init, as a VM's systemd unit does; $T/node-init.NODE, when
		# it exists, is sourced first (a test's per-node changes).
		cat > "$T/vm-boot" <<BOOT
#!/bin/sh
[ -e $T/noboot-\$1 ] && exit 0
NODE_INIT_ARGS=
[ -f $T/node-init.\$1 ] && . $T/node-init.\$1
exec $AZML_BIN node-init \$NODE_INIT_ARGS
BOOT
		chmod 755 "$T/vm-boot"
		boot=(--node-init "$T/vm-boot {node}" --console-dir "$T/consoles"
		      --secret "munge=$AZML_MUNGE_KEY"
		      --vault-listen "$EMU_VAULT_ADDR" --vault-host kv1.vault.azure.net
		      --sandbox-ca "$T/tls/ca.pem")
	else
		boot=(--boot-log "$T/boot.log" --boot-command "[ -e $T/noboot-{node} ] && exit 0; sleep 2; $AZML_BIN watch-events -f $T/azureml.conf --node {node} --vm {vm} --interval 0.5 & exec unshare --time --boottime=-\$(cut -d. -f1 /proc/uptime) slurmd -D -N {node} -f $SLURM_CONF")
	fi
	# AZML_RECORD_DIR: every exchange into a folder per test script, for
	# tests/oav-check.sh (a restart goes on in the same folder)
	[ -n "${AZML_RECORD_DIR:-}" ] && mkdir -p "$AZML_RECORD_DIR" &&
		boot+=(--record "$AZML_RECORD_DIR/$(basename "$0" .sh)")
	"$AZML_BUILD/contrib/emulator/azure-emulator" --listen "127.0.0.1:$EMU_PORT" \
		--tls-cert "$T/tls/server.pem" --tls-key "$T/tls/server.key" \
		--imds-listen "127.0.0.1:$EMU_IMDS_PORT" \
		--state "$T/emulator.state" --client-secret emulator-secret \
		--async-ms 300 "${boot[@]}" \
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

# The azureml.conf global lines that point at the emulator.  A Linux VM
# needs an SSH key (Azure refuses one nobody can log in to) and a subnet:
# a key pair made here, never one from the repository.
azml_emulator_conf() {
	[ -f "$T/id.pub" ] ||
		ssh-keygen -q -t ed25519 -N '' -C "azml-test" -f "$T/id" < /dev/null > /dev/null ||
		azml_fail "ssh-keygen (openssh-client) could not make a key"
	cat <<CONF
ClusterName=azml$$
SubscriptionId=00000000-0000-0000-0000-000000000001
ResourceGroup=rg
Location=eastus
ArmEndpoint=$EMU_URL
AuthorityHost=$EMU_URL
ImdsEndpoint=$EMU_IMDS_URL
CaBundle=$T/tls/ca.pem
Credential=client-secret:$T/secret
TenantId=11111111-1111-1111-1111-111111111111
ClientId=22222222-2222-2222-2222-222222222222
StateDir=$T/azureml-state
LogFile=$T/azureml.log
PricesEndpoint=$EMU_URL
SshPublicKey=$T/id.pub
Subnet=/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/vnet/subnets/default
CONF
	[ -n "${AZML_NODE_INIT:-}" ] && cat <<CONF
MungeKeySecret=https://kv1.vault.azure.net/secrets/munge
Identity=$AZML_IDENTITY
CONF
	return 0
}
AZML_IDENTITY=/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/slurm-nodes

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

# Remove the IMDS filter rules that node-init added for this emulator's
# IMDS port: the VM sandboxes share the host's network namespace, so their
# rules are the host's, and another test (leg) may have its own for its own
# port.  Only ours go, nftables rules by handle; the table and chain stay.
azml_imds_filter_clear() {
	[ -n "${EMU_IMDS_PORT:-}" ] || return 0
	local tag="azureml-imds 127.0.0.1:$EMU_IMDS_PORT" h i
	if command -v nft > /dev/null; then
		for h in $(nft -a list chain inet azureml imds 2>/dev/null |
			   grep -F "comment \"$tag\"" |
			   sed -n 's/.*# handle \([0-9][0-9]*\)$/\1/p'); do
			nft delete rule inet azureml imds handle "$h"
		done
	fi
	if command -v iptables > /dev/null; then
		for i in $(seq 1 16); do
			iptables -w 5 -D OUTPUT -d 127.0.0.1/32 -p tcp \
				--dport "$EMU_IMDS_PORT" -m owner ! --uid-owner 0 \
				-m comment --comment "$tag" -j REJECT \
				--reject-with tcp-reset 2> /dev/null || break
		done
	fi
	return 0
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
nodes_of_job() { scontrol -o show job "$1" | grep -o ' NodeList=[^ ]*' | cut -d= -f2; }
# node_field NODE FIELD: one field of scontrol's line for NODE
node_field() { scontrol -o show node "$1" | grep -o " $2=[^ ]*" | cut -d= -f2; }
# faults JSON: the emulator's injected faults (azml_emulator_start's)
faults() { curl -sf -X POST -d "$1" "$EMU_URL/emulator/faults" > /dev/null || azml_fail "faults $1"; }
# idle_all PARTITION: every node of it idle~
idle_all() { [ -z "$(sinfo -h -p "$1" -o %t | grep -vx 'idle~')" ]; }
# settled_all PARTITION: idle~ and done powering down: sinfo shows idle~
# while slurmctld still holds a node POWERING_DOWN or COMPLETING (not
# allocatable yet).
settled_all() {
	local s
	s=$(scontrol -o show node "$(sinfo -h -p "$1" -o %N)" | grep -o ' State=[^ ]*') &&
		[ -n "$s" ] && ! grep -q 'POWERING_DOWN\|COMPLETING\|POWERING_UP\|DRAIN' <<<"$s" &&
		idle_all "$1"
}
export -f job_state nodes_of_job node_field idle_all settled_all

# A bearer token for the emulator's ARM paths (its Entra ID endpoint and the
# client secret azml_emulator_start set up).
azml_emulator_token() {
	curl -sf "$EMU_URL/11111111-1111-1111-1111-111111111111/oauth2/v2.0/token" \
		-d "grant_type=client_credentials&client_id=22222222-2222-2222-2222-222222222222&client_secret=emulator-secret&scope=https://management.azure.com/.default" |
		python3 -c 'import json, sys; print(json.load(sys.stdin)["access_token"])'
}

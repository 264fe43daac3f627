#!/bin/bash
# The slurm-azureml command as an admin types it: exit codes and output.
set -u
. "$(dirname "$0")/lib.sh"
D=$(mktemp -d /tmp/azml-cli.XXXXXX)
trap 'rm -rf "$D"' EXIT

# the example, with its SshPublicKey= at a key made here (check-config
# reads the file)
ssh-keygen -q -t ed25519 -N '' -f "$D/id" < /dev/null > /dev/null || azml_fail ssh-keygen
sed "s|^SshPublicKey=.*|SshPublicKey=$D/id.pub|" "$AZML_TOP/etc/azureml.conf.example" > "$D/example.conf"
out=$("$AZML_BIN" check-config -f "$D/example.conf") ||
	azml_fail "the shipped example is refused: $out"
[ "$out" = "$D/example.conf: OK, 4 compute targets" ] ||
	azml_fail "check-config said: $out"
azml_pass "check-config accepts etc/azureml.conf.example"

cat > "$D/bad.conf" <<'CONF'
ClusterName=demo
SubscriptionId=00000000-0000-0000-0000-000000000000
ResourceGroup=hpc-rg
Location=eastus
ComputeCluster=gpu-v100 VmSize=Standard_NC6s_v3 MaxNodes=8
ComputeCluster=big VmSize=Standard_D4s_v3 MinNodes=9 MaxNodes=8
ComputeInstance=fx VmSize=Standard_FX4mds QuotaApproved=yes
Colour=blue
CONF
cp "$D/bad.conf" "$D/bad.conf.orig"
"$AZML_BIN" check-config -f "$D/bad.conf" > "$D/out" 2> "$D/err"
rc=$?
[ $rc = 1 ] || azml_fail "check-config exited $rc on a bad file"
for want in \
	"$D/bad.conf:5: VM size 'Standard_NC6s_v3' is series NCv3, which needs a quota approval" \
	"$D/bad.conf:6: MinNodes=9 is more than MaxNodes=8" \
	"$D/bad.conf:7: VM size 'Standard_FX4mds' is series FX, which Azure ML supports on compute clusters only" \
	"$D/bad.conf:8: unknown key 'Colour'"; do
	grep -qF "$want" "$D/err" || azml_fail "missing '$want' in: $(cat "$D/err")"
done
[ "$(wc -l < "$D/err")" = 5 ] || azml_fail "expected 4 errors and a summary: $(cat "$D/err")"
[ "$(tail -n 1 "$D/err")" = "slurm-azureml check-config: couldn't load $D/bad.conf: 4 errors" ] ||
	azml_fail "summary line: $(tail -n 1 "$D/err")"
[ ! -s "$D/out" ] || azml_fail "check-config printed to stdout on errors"
cmp -s "$D/bad.conf" "$D/bad.conf.orig" || azml_fail "check-config changed the file"
azml_pass "check-config prints FILE:LINE for each error, then a summary, and exits 1"

"$AZML_BIN" generate -f "$D/bad.conf" > "$D/out" 2>/dev/null
[ $? = 1 ] && [ ! -s "$D/out" ] || azml_fail "generate printed lines for a bad file"
azml_pass "generate refuses a bad file and prints nothing"

AZUREML_CONF=$D/example.conf "$AZML_BIN" check-config > /dev/null ||
	azml_fail "AZUREML_CONF not honoured"
mkdir "$D/etc" && cp "$D/example.conf" "$D/etc/azureml.conf"
SLURM_CONF=$D/etc/slurm.conf "$AZML_BIN" check-config | grep -q "^$D/etc/azureml.conf: OK" ||
	azml_fail "azureml.conf beside SLURM_CONF not found"
azml_pass "AZUREML_CONF, else azureml.conf beside slurm.conf"

"$AZML_BIN" catalog --json > "$D/catalog.json" || azml_fail "catalog --json"
python3 - "$D/catalog.json" <<'PY' || azml_fail "catalog --json schema"
import json, sys
d = json.load(open(sys.argv[1]))
assert set(d) == {"series", "gpu_architectures", "isolated_sizes"}, d.keys()
assert len(d["series"]) == 26
for s in d["series"]:
    assert set(s) == {"name", "category", "approval_required", "compute_cluster",
                      "compute_instance", "gpu_arch", "min_cuda"}, s
    assert s["category"] in ("general", "memory", "compute", "hpc", "storage", "gpu")
names = [s["name"] for s in d["series"]]
for a in d["gpu_architectures"]:
    for n in a["series"]:
        assert n in names, n
v = [a for a in d["gpu_architectures"] if a["arch"] == "Volta"][0]
assert v["series"] == ["NCv3", "NDv2"] and v["min_cuda"] == "9.0"
assert d["isolated_sizes"] == ["Standard_M128ms", "Standard_F72s_v2",
                               "Standard_NC24s_v3", "Standard_NC24rs_v3"]
PY
azml_pass "catalog --json has the schema of ARCHITECTURE.md"

out=$("$AZML_BIN" catalog --size Standard_NC24rs_v3 --json)
python3 -c '
import json, sys
d = json.loads(sys.argv[1])
assert d["size"] == "Standard_NC24rs_v3" and d["series"] == "NCv3"
assert d["isolated"] is True and d["rdma"] is True
' "$out" || azml_fail "catalog --size: $out"
err=$("$AZML_BIN" catalog --size 'Standard_Bogus9' 2>&1)
[ $? = 1 ] && grep -q "unknown VM size 'Standard_Bogus9'" <<<"$err" ||
	azml_fail "unknown size: $err"
azml_pass "catalog --size resolves a size and refuses an unknown one"

"$AZML_BIN" frobnicate > /dev/null 2>&1
[ $? = 2 ] || azml_fail "unknown command should exit 2"
"$AZML_BIN" generate --program-dir relative > /dev/null 2>&1
[ $? = 2 ] || azml_fail "relative --program-dir should exit 2"
azml_pass "usage errors exit 2"

# node-check, attach and detach refuse bad input with a message saying what.
cli() {	# cli WANT_RC WANT_TEXT ARGS...: run, check exit code and message
	local rc=$1 want=$2 out
	shift 2
	out=$("$AZML_BIN" "$@" 2>&1)
	local got=$?
	[ "$got" = "$rc" ] || azml_fail "'$*' exited $got, not $rc: $out"
	grep -qF -- "$want" <<<"$out" || azml_fail "'$*' said: $out"
}
cli 2 "node-check: /nonexistent.xml: No such file or directory" node-check --topology /nonexistent.xml
printf '<topology><object' > "$D/broken.xml"
cli 2 "$D/broken.xml" node-check --topology "$D/broken.xml"
cli 1 "MISMATCH: gres 'gpu:a:b:c': 'c' is not a count" node-check --gres gpu:a:b:c
cli 1 "MISMATCH: CUDA requirement 'twelve' is not X.Y" node-check --gres gpu:0 --cuda twelve
cli 2 "'../etc' is not a node name" node-check --node ../etc
cli 2 "slurm-azureml node-check: unexpected argument 'extra'" node-check extra
cli 2 "--ttl '0' is not 1-86400 seconds" attach --ttl 0
cli 2 "--address 'a/b' is not an address" attach --address a/b
cli 2 "slurm-azureml attach: unexpected argument 'b'" attach --accept a b
cp "$D/example.conf" "$D/azureml.conf"
: > "$D/empty.cred"
AZUREML_CONF=$D/azureml.conf cli 1 "$D/empty.cred: empty: no credential" attach --accept "$D/empty.cred"
AZUREML_CONF=$D/azureml.conf cli 1 "/nonexistent.cred: No such file or directory" attach --accept /nonexistent.cred
cli 2 "--wait 'soon' is not seconds" detach --wait soon lab01
AZUREML_CONF=$D/azureml.conf cli 2 "'gpu-v100-1' is not a node of an AttachedCompute target" detach gpu-v100-1
cli 2 "--since 'last tuesday': expected YYYY-MM-DD[THH:MM[:SS]], now, today, yesterday, now-N[s|m|h|d] or @EPOCH" cost --since 'last tuesday'
cli 2 "--until 'now-5y': expected" cost --until now-5y
cli 2 "--by 'node': expected job, user, account or target" cost --by node
cli 2 "--since must come before --until" cost --since now --until now-1h
cli 2 "--json and --csv: one of them" cost --json --csv
printf 'Prices=cheap\n' >> "$D/azureml.conf"
AZUREML_CONF=$D/azureml.conf cli 1 "Prices='cheap': expected 'retail' (the Azure Retail Prices API) or the absolute path of a file of prices" cost
sed -i '$d' "$D/azureml.conf"
printf 'StateDir=%s\nPrices=%s\n' "$D/state" "$D/prices" >> "$D/azureml.conf"
printf 'Standard_D2s_v3 dedicated 0.10\n' > "$D/prices"
chmod 666 "$D/prices"
AZUREML_CONF=$D/azureml.conf cli 1 "Prices=$D/prices: $D/prices is writable by its group or by others (mode 0666); refused (chmod go-w $D/prices)" cost
# a FIFO is refused at once, never waited on (issue 25, item 4)
rm -f "$D/prices" && mkfifo -m 644 "$D/prices"
out=$(AZUREML_CONF=$D/azureml.conf timeout 20 "$AZML_BIN" cost 2>&1)
rc=$?
[ $rc = 1 ] || azml_fail "cost with a FIFO as Prices= exited $rc: $out"
grep -qF "Prices=$D/prices: $D/prices is a FIFO; refused" <<<"$out" ||
	azml_fail "cost with a FIFO as Prices= said: $out"
rm -f "$D/prices"
printf 'Standard_D2s_v3 dedicated 0.10\n' > "$D/prices"
azml_pass "node-check, attach, detach and cost: bad input exits 1 or 2 with what was wrong"

# StateDir that others may write (issue 25, item 1): check-config names it
# (FILE:LINE), and every program that would open it refuses and changes
# nothing: what another user planted there is never used.
mkdir -m 0777 "$D/state" && chmod 0777 "$D/state"
mkdir -m 0777 "$D/state/sets" && chmod 0777 "$D/state/sets"
echo "demo-gpu-v100_00000001 gpu-v100-1 h 10.0.0.9 1" > "$D/state/sets/demo-gpu-v100"
ls -lR "$D/state" > "$D/state.before"
sline=$(grep -n '^StateDir=' "$D/azureml.conf" | cut -d: -f1)
"$AZML_BIN" check-config -f "$D/azureml.conf" > "$D/out" 2> "$D/err"
rc=$?
[ $rc = 1 ] || azml_fail "check-config exited $rc with a 0777 StateDir"
grep -qF "$D/azureml.conf:$sline: StateDir=$D/state: $D/state is writable by its group or by others (mode 0777); refused (chmod go-w $D/state)" "$D/err" ||
	azml_fail "check-config said: $(cat "$D/err")"
for args in cost "reconcile --dry-run" reconcile "instance stop dev-box" \
	    "attach --accept $D/empty.cred"; do
	# shellcheck disable=SC2086
	AZUREML_CONF=$D/azureml.conf cli 1 "StateDir $D/state is refused, nothing done: $D/state is writable by its group or by others (mode 0777)" $args
done
ls -lR "$D/state" > "$D/state.after"
cmp -s "$D/state.before" "$D/state.after" ||
	azml_fail "StateDir changed: $(diff "$D/state.before" "$D/state.after")"
chmod 0755 "$D/state"
"$AZML_BIN" check-config -f "$D/azureml.conf" > "$D/out" 2> "$D/err" ||
	azml_fail "check-config refused a mended StateDir: $(cat "$D/err")"
azml_pass "a StateDir others may write: check-config says FILE:LINE, cost, reconcile, instance and attach refuse it and change nothing"

# Every subcommand refuses bad options one way: "slurm-azureml CMD: <what>",
# then its usage, on stderr, exit 2; --help prints the usage on stdout, exit 0.
usage_error() {	# usage_error CMD WHAT ARGS...
	local cmd=$1 what=$2
	shift 2
	"$AZML_BIN" "$@" > "$D/out" 2> "$D/err"
	local got=$?
	[ "$got" = 2 ] || azml_fail "'$*' exited $got, not 2: $(cat "$D/err")"
	[ ! -s "$D/out" ] || azml_fail "'$*' printed on stdout: $(cat "$D/out")"
	[ "$(head -n 1 "$D/err")" = "slurm-azureml $cmd: $what" ] ||
		azml_fail "'$*' said: $(head -n 1 "$D/err")"
	sed -n 2p "$D/err" | grep -q "^usage: slurm-azureml $cmd " ||
		azml_fail "'$*' printed no usage: $(cat "$D/err")"
}
cmds=$("$AZML_BIN" --help | sed -n 's/^  \([a-z-]*\) .*/\1/p' | sort -u)
want="attach catalog check-config cost detach generate instance metrics node-check node-init quota reconcile targets userdata watch-events"
[ "$(echo $cmds)" = "$want" ] || azml_fail "--help lists: $(echo $cmds), not: $want"
for cmd in $cmds; do
	case $cmd in	# an option with an argument; arguments it takes
	catalog) argopt=--size args= ;;
	instance) argopt=--file args="stop dev-box" ;;
	detach) argopt=--file args=lab01 ;;
	userdata) argopt=--file args="cpu cpu-1" ;;
	node-init) argopt=--imds args= ;;
	*) argopt=--file args= ;;
	esac
	usage_error "$cmd" "unknown option '--frobnicate'" $cmd --frobnicate $args
	usage_error "$cmd" "unknown option '-Z'" $cmd -Z $args
	usage_error "$cmd" "option '$argopt' needs an argument" $cmd $args $argopt
	usage_error "$cmd" "unexpected argument 'stray'" $cmd $args stray
	"$AZML_BIN" $cmd --help > "$D/out" 2> "$D/err" ||
		azml_fail "$cmd --help exited $?"
	[ ! -s "$D/err" ] || azml_fail "$cmd --help wrote on stderr: $(cat "$D/err")"
	head -n 1 "$D/out" | grep -q "^usage: slurm-azureml $cmd " ||
		azml_fail "$cmd --help: $(cat "$D/out")"
	# the overview shows the same usage text
	grep -qF -- "$(head -n 1 "$D/out" | sed "s/^usage: slurm-azureml $cmd //" |
		cut -c1-40)" <("$AZML_BIN" --help) ||
		azml_fail "$cmd: --help and the overview differ"
done
azml_pass "every subcommand: unknown option, missing argument, stray argument exit 2 with its usage; --help exits 0"
echo "$AZML_PASSED passed, 0 failed"

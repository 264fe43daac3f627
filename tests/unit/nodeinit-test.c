/*
 * nodeinit-test.c - node-init's steps against an in-process server on
 * loopback playing IMDS (userData, identity tokens) and Key Vault: the munge
 * key written into a temporary directory, the console lines of each step and
 * of each failure, what a failure after munge reports (a stand-in for
 * slurmctld), a scale set's VM finding its node (a stand-in for slurmctld's
 * node table, and the matcher itself), and Slurm's slurmd version rule.  No
 * daemon is started (no_daemons); slurmd is a script that prints a version.
 */
#include "config.h"

#include <check.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "admin.h"
#include "bootdiag.h"
#include "hostile.h"
#include "node.h"
#include "nodes.h"
#include "testutil.h"
#include "userdata.h"

/* cli.c's table names every command; only node-init is linked here. */
#define STUB(f) \
	int f(const azml_cmd_t *cmd, int argc, char **argv) \
	{ (void) cmd; (void) argc; (void) argv; return 0; }
STUB(azml_cmd_check_config)
STUB(azml_cmd_generate)
STUB(azml_cmd_catalog)
STUB(azml_cmd_targets)
STUB(azml_cmd_reconcile)
STUB(azml_cmd_quota)
STUB(azml_cmd_cost)
STUB(azml_cmd_metrics)
STUB(azml_cmd_instance)
STUB(azml_cmd_node_check)
STUB(azml_cmd_attach)
STUB(azml_cmd_detach)
STUB(azml_cmd_userdata)
void azml_print_json(void *root) { (void) root; }

#define IDENTITY "/subscriptions/00000000-0000-0000-0000-000000000000/" \
	"resourceGroups/rg/providers/Microsoft.ManagedIdentity/" \
	"userAssignedIdentities/nodes"

/* What the server plays. */
typedef struct {
	char userdata[8192];
	int token_status;
	const char *token_body;
	int kv_status;
	char kv_body[1024];
	char compute[512];	/* /metadata/instance/compute's answer */
	/* what it saw */
	char msi_res_id[512], vm[64], auth[256];
	int requests;
} world_t;

static world_t *W;
static int port;
static char dir[64];		/* the test's temporary directory */

static void _serve(void *arg, const hs_req_t *req, hs_reply_t *out)
{
	world_t *w = arg;
	const char *v;

	w->requests++;
	if (!strncmp(req->path, "/metadata/", 10)) {
		if (!req->metadata || strcmp(req->metadata, "true")) {
			out->status = 400;
			return;
		}
		v = MHD_lookup_connection_value(req->conn,
						MHD_GET_ARGUMENT_KIND, "vm");
		snprintf(w->vm, sizeof(w->vm), "%s", v ? v : "");
	}
	if (!strcmp(req->path, "/metadata/instance/compute/userData")) {
		snprintf(out->body, sizeof(out->body), "%s", w->userdata);
	} else if (!strcmp(req->path, "/metadata/instance/compute")) {
		snprintf(out->body, sizeof(out->body), "%s", w->compute);
	} else if (!strcmp(req->path, "/metadata/identity/oauth2/token")) {
		v = MHD_lookup_connection_value(req->conn,
						MHD_GET_ARGUMENT_KIND,
						"msi_res_id");
		snprintf(w->msi_res_id, sizeof(w->msi_res_id), "%s",
			 v ? v : "");
		out->status = w->token_status;
		snprintf(out->body, sizeof(out->body), "%s", w->token_body);
	} else if (!strncmp(req->path, "/keyvault/", 10)) {
		snprintf(w->auth, sizeof(w->auth), "%s",
			 req->authorization ? req->authorization : "");
		out->status = w->kv_status;
		snprintf(out->body, sizeof(out->body), "%s", w->kv_body);
	} else {
		out->status = 404;
	}
}

static unsigned char key[64];
static const char *ud_node;	/* userData's node; NULL: a scale set's */

/* userData of node UD_NODE, with GPUS GPUs of ARCH and SCRIPT. */
static char *_userdata(int gpus, const char *arch, const char *script,
		       const char *version)
{
	char secret[200];
	azml_userdata_t u = {
		.version = 1, .cluster = "demo", .target = "gpu",
		.node = (char *) ud_node, .vm_size = "Standard_NC6s_v3",
		.slurmctld_host = "127.0.0.1:6817",
		.munge_key_secret = secret, .identity = IDENTITY,
		.setup_script = (char *) script, .gpus = gpus,
		.gpu_type = gpus ? "v100" : NULL, .gpu_arch = (char *) arch,
		.slurm_version = (char *) (version ? version : "22.05.8"),
	};

	snprintf(secret, sizeof(secret), "http://127.0.0.1:%d/keyvault/"
		 "vault1/secrets/munge", port);
	return azml_userdata_encode(&u);
}

static void _set_userdata(int gpus, const char *arch, const char *script,
			  const char *version)
{
	char *b = _userdata(gpus, arch, script, version);

	ck_assert_ptr_nonnull(b);
	snprintf(W->userdata, sizeof(W->userdata), "%s", b);
	free(b);
}

/* A file in the test's directory with TEXT and MODE. */
static char *_file(const char *name, const char *text, mode_t mode)
{
	char *p;
	FILE *fp;

	ck_assert_int_gt(asprintf(&p, "%s/%s", dir, name), 0);
	fp = fopen(p, "w");
	ck_assert_ptr_nonnull(fp);
	fputs(text, fp);
	fclose(fp);
	chmod(p, mode);
	return p;
}

static char reported[1024];
static int nreports;

static int _report(void *arg, const char *node, const char *reason)
{
	(void) arg;
	nreports++;
	snprintf(reported, sizeof(reported), "%s|%s", node, reason);
	return 0;
}

/* slurmctld's node table as a scale set's VM sees it: NODES once the
 * resume program paired the VM (from call PAIRED_ON on; 0: never), the
 * default NodeHostname/NodeAddr before. */
static struct {
	const azml_node_addr_t *nodes;
	size_t n;
	int paired_on;
	const char *addr;	/* this machine's address (NULL: the real ones) */
	int calls;
	char host[64];
} F;

static int _find_self(void *arg, const char *host, const char *const *addrs,
		      size_t naddrs, azml_node_self_t *out, char *err,
		      size_t en)
{
	static const azml_node_addr_t unpaired[] = {
		{ "gpu-1", "gpu-1", "gpu-1" }, { "gpu-2", "gpu-2", "gpu-2" },
		{ "gpu-3", "gpu-3", "gpu-3" },
	};
	const azml_node_addr_t *nodes = unpaired;
	const char *mine[] = { F.addr };
	size_t n = 3;
	bool by_addr = false;
	int i;

	(void) arg;
	F.calls++;
	snprintf(F.host, sizeof(F.host), "%s", host);
	if (F.addr) {
		addrs = mine;
		naddrs = 1;
	}
	if (F.paired_on && F.calls >= F.paired_on) {
		nodes = F.nodes;
		n = F.n;
	}
	i = azml_nodes_match_self(nodes, n, host, addrs, naddrs, &by_addr,
				  err, en);
	if (i == -2)
		return -1;
	if (i < 0) {
		err[0] = '\0';
		return 0;
	}
	snprintf(out->name, sizeof(out->name), "%s", nodes[i].name);
	snprintf(out->hostname, sizeof(out->hostname), "%s", nodes[i].hostname);
	snprintf(out->addr, sizeof(out->addr), "%s", nodes[i].addr);
	out->by_addr = by_addr;
	return 1;
}

/*
 * A stand-in nft: the chain's rules in DIR/nft.rules (one a line, with
 * "# handle N"), every call in DIR/nft.log.  No rule reaches the host's
 * packet filter.
 */
static char *_fake_nft(void)
{
	char text[2048];

	snprintf(text, sizeof(text),
		 "#!/bin/sh\n"
		 "D=%s\n"
		 "echo \"$*\" >> $D/nft.log\n"
		 "touch $D/nft.rules\n"
		 "case \"$1 $2\" in\n"
		 "'add table'|'add chain') exit 0;;\n"
		 "'-a list') echo 'table inet azureml {'\n"
		 "  echo '	chain imds { # handle 1'; cat $D/nft.rules\n"
		 "  echo '	}'; echo '}'; exit 0;;\n"
		 "'add rule') shift 5\n"
		 "  n=$(($(cat $D/nft.next 2>/dev/null || echo 2) + 1))\n"
		 "  echo $n > $D/nft.next\n"
		 "  echo \"		$* # handle $n\" >> $D/nft.rules; exit 0;;\n"
		 "'delete rule') grep -v \"# handle $7\\$\" $D/nft.rules "
		 "> $D/nft.t; mv $D/nft.t $D/nft.rules; exit 0;;\n"
		 "esac\nexit 1\n", dir);
	return _file("nft", text, 0755);
}

/* The count of lines of DIR/NAME that hold WHAT. */
static int _lines_with(const char *name, const char *what)
{
	char path[128], line[1024];
	FILE *fp;
	int k = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (!(fp = fopen(path, "r")))
		return 0;
	while (fgets(line, sizeof(line), fp))
		k += strstr(line, what) != NULL;
	fclose(fp);
	return k;
}

static hs_t *server;
static azml_node_init_opts_t opts;
static char console[16384];

static void _setup(void)
{
	char *b64 = azml_base64_encode(key, sizeof(key)), *slurmd;

	for (size_t i = 0; i < sizeof(key); i++)
		key[i] = (unsigned char) (i * 7 + 1);
	free(b64);
	b64 = azml_base64_encode(key, sizeof(key));
	snprintf(dir, sizeof(dir), "/tmp/azml-nodeinit-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	W = calloc(1, sizeof(*W));
	server = hs_start(_serve, W, &port);
	W->token_status = 200;
	W->token_body = "{\"access_token\":\"tok-123\",\"expires_in\":\"3600\","
			"\"token_type\":\"Bearer\"}";
	W->kv_status = 200;
	snprintf(W->kv_body, sizeof(W->kv_body), "{\"value\":\"%s\",\"id\":"
		 "\"x\",\"attributes\":{\"enabled\":true}}", b64);
	free(b64);
	ud_node = "gpu-1";
	_set_userdata(0, NULL, NULL, NULL);
	slurmd = _file("slurmd", "#!/bin/sh\necho 'slurm-wlm 22.05.8'\n", 0755);
	memset(&opts, 0, sizeof(opts));
	opts.imds = NULL;
	opts.slurmd = slurmd;
	opts.no_watch = true;
	opts.munge_dir = strdup(dir);
	opts.run_dir = strdup(dir);
	opts.hostname = "gpu-1";
	opts.no_daemons = true;
	opts.key_uid = (int) getuid();
	opts.key_gid = (int) getgid();
	opts.no_syslog = true;
	opts.report = _report;
	opts.find_self = _find_self;
	opts.filter_tool = _fake_nft();
	memset(&F, 0, sizeof(F));
	unsetenv("AZURE_EMULATOR_VM");
	unsetenv("AZUREML_NODE_TOPOLOGY");
	nreports = 0;
	reported[0] = '\0';
}

static void _teardown(void)
{
	char cmd[128];

	hs_stop(server);
	free(W);
	free((char *) opts.slurmd);
	free((char *) opts.munge_dir);
	free((char *) opts.run_dir);
	free((char *) opts.userdata_file);
	free((char *) opts.filter_tool);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
}

/* Run node-init against the server; its console into CONSOLE. */
static int _run(void)
{
	char imds[64];
	FILE *fp = tmpfile();
	size_t n;
	int rc;

	snprintf(imds, sizeof(imds), "http://127.0.0.1:%d", port);
	ck_assert_ptr_nonnull(fp);
	opts.imds = imds;
	opts.console = fp;
	rc = azml_node_init_run(&opts);
	rewind(fp);
	n = fread(console, 1, sizeof(console) - 1, fp);
	console[n] = '\0';
	fclose(fp);
	return rc;
}

/* The last line of the console. */
static const char *_last(void)
{
	static char line[2048];
	char *e = console + strlen(console), *s;

	while (e > console && e[-1] == '\n')
		e--;
	s = e;
	while (s > console && s[-1] != '\n')
		s--;
	snprintf(line, sizeof(line), "%.*s", (int) (e - s), s);
	return line;
}

START_TEST(all_steps)
{
	char path[128], buf[512];
	struct stat st;
	FILE *fp;

	ck_assert_int_eq(_run(), 0);
	ck_assert_msg(strstr(console, "node-init: userData: ok (node gpu-1 "
			     "of cluster demo, target gpu, Standard_NC6s_v3)\n"),
		      "%s", console);
	/* the IMDS filter, before the token is asked */
	snprintf(buf, sizeof(buf), "node-init: IMDS filter: ok (only root "
		 "reaches 127.0.0.1:%d; nftables rule added)\n", port);
	ck_assert_msg(strstr(console, buf), "%s", console);
	ck_assert_ptr_nonnull(strstr(console, "node-init: identity: ok (token for "
				     "https://vault.azure.net, identity nodes)\n"));
	ck_assert(strstr(console, buf) < strstr(console, "node-init: identity:"));
	snprintf(buf, sizeof(buf), "ip daddr 127.0.0.1 tcp dport %d meta skuid "
		 "!= 0 reject with tcp reset comment \"azureml-imds "
		 "127.0.0.1:%d\" # handle", port, port);
	ck_assert_int_eq(_lines_with("nft.rules", buf), 1);
	ck_assert_int_eq(_lines_with("nft.log", "flush"), 0);
	ck_assert_ptr_nonnull(strstr(console, "node-init: Key Vault: ok (secret "
				     "http://127.0.0.1:"));
	ck_assert_ptr_nonnull(strstr(console, "node-init: munge: ok (key "
				     "installed, 64 bytes"));
	ck_assert_ptr_nonnull(strstr(console, "node-init: setup script: ok "
				     "(none)\n"));
	ck_assert_ptr_nonnull(strstr(console, "node-init: GPU check: ok "
				     "(Standard_NC6s_v3 needs no GPU)\n"));
	ck_assert_ptr_nonnull(strstr(console, "node-init: slurmd: ok (slurm-wlm "
				     "22.05.8 accepted by slurmctld 22.05.8"));
	ck_assert_ptr_nonnull(strstr(console, "--conf-server 127.0.0.1:6817"));
	/* userData names the node: slurmctld is not asked, no -N */
	ck_assert_ptr_nonnull(strstr(console, "node-init: node name: ok (node "
				     "gpu-1, named by userData)\n"));
	ck_assert_int_eq(F.calls, 0);
	ck_assert_ptr_null(strstr(console, " -N "));
	ck_assert_str_eq(_last(), "node-init: events: ok (not watching: "
			 "--no-watch)");
	/* never the token nor the key */
	ck_assert_ptr_null(strstr(console, "tok-123"));
	/* what IMDS and Key Vault were asked */
	ck_assert_str_eq(W->msi_res_id, IDENTITY);
	ck_assert_str_eq(W->vm, "gpu-1");
	ck_assert_str_eq(W->auth, "Bearer tok-123");
	/* the key: its bytes, 0400 */
	snprintf(path, sizeof(path), "%s/munge.key", dir);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0400);
	fp = fopen(path, "r");
	ck_assert_ptr_nonnull(fp);
	ck_assert_uint_eq(fread(buf, 1, sizeof(buf), fp), sizeof(key));
	fclose(fp);
	ck_assert_int_eq(memcmp(buf, key, sizeof(key)), 0);
	ck_assert_int_eq(nreports, 0);
	/* again (a stopped-and-started instance): the key stays */
	setenv("AZURE_EMULATOR_VM", "vm-77", 1);
	ck_assert_int_eq(_run(), 0);
	ck_assert_ptr_nonnull(strstr(console, "node-init: munge: ok (key unchanged"));
	ck_assert_str_eq(W->vm, "vm-77");
	/* the rule is there once: not added again */
	ck_assert_ptr_nonnull(strstr(console, "nftables rule already there)"));
	ck_assert_int_eq(_lines_with("nft.rules", "azureml-imds"), 1);
}
END_TEST

START_TEST(secret_not_found)
{
	W->kv_status = 404;
	snprintf(W->kv_body, sizeof(W->kv_body), "{\"error\":{\"code\":"
		 "\"SecretNotFound\",\"message\":\"A secret with (name/id) "
		 "munge was not found in this key vault\"}}");
	ck_assert_int_eq(_run(), 1);
	ck_assert_str_eq(_last(), "node-init: Key Vault: failed: SecretNotFound: "
			 "A secret with (name/id) munge was not found in this "
			 "key vault");
	ck_assert_int_eq(nreports, 0);	/* before munge: the console only */
}
END_TEST

/*
 * No filter, no token: node-init stops before anything asks IMDS for one,
 * before munge and slurmd.  Before munge it cannot sign a report to
 * slurmctld: by design its console line is what reaches the node's reason,
 * through ResumeFailProgram's boot diagnostics (azml_bootdiag_reason; the
 * program's side: resume-test.c resume_fail_reads_the_boot_log).
 */
START_TEST(filter_refused)
{
	char reason[AZML_BOOTDIAG_REASON_MAX + 1], path[128];
	struct stat st;

	free((char *) opts.filter_tool);
	opts.filter_tool = _file("nft", "#!/bin/sh\necho 'Error: Could not "
				 "process rule: Operation not permitted' >&2\n"
				 "exit 1\n", 0755);
	/* a slurmd that says when it is run at all */
	free((char *) opts.slurmd);
	snprintf(path, sizeof(path), "%s/slurmd.ran", dir);
	opts.slurmd = _file("slurmd", "#!/bin/sh\necho \"$*\" >> \"$0.ran\"\n"
			    "echo 'slurm-wlm 22.05.8'\n", 0755);
	ck_assert_int_eq(_run(), 1);
	ck_assert_str_eq(_last(), "node-init: IMDS filter: failed: couldn't add "
			 "nftables table inet azureml: Error: Could not process "
			 "rule: Operation not permitted; not going on: a job "
			 "could read the munge key through IMDS");
	ck_assert_str_eq(W->msi_res_id, "");
	ck_assert_str_eq(W->auth, "");
	ck_assert_int_eq(nreports, 0);	/* before munge: the console only */
	/* nothing after the filter: no key, no munge, no slurmd */
	ck_assert_ptr_null(strstr(console, "node-init: identity:"));
	ck_assert_ptr_null(strstr(console, "node-init: munge:"));
	ck_assert_ptr_null(strstr(console, "node-init: slurmd:"));
	ck_assert_int_ne(stat(path, &st), 0);
	snprintf(path, sizeof(path), "%s/munge.key", dir);
	ck_assert_int_ne(stat(path, &st), 0);
	/* the node's reason, as ResumeFailProgram reads it from the console */
	ck_assert_int_eq(azml_bootdiag_reason(console, strlen(console), reason,
					      sizeof(reason)), 1);
	ck_assert_str_eq(reason, "azureml: node-init: IMDS filter: couldn't "
			 "add nftables table inet azureml: Error: Could not "
			 "process rule: Operation not permitted; not going on: "
			 "a job could read the munge key through IMDS");
	/* no such tool */
	free((char *) opts.filter_tool);
	opts.filter_tool = strdup("/nonexistent/nft");
	ck_assert_int_eq(_run(), 1);
	ck_assert_ptr_nonnull(strstr(_last(), "node-init: IMDS filter: failed: "
				     "couldn't add nftables table"));
}
END_TEST

/* Remove takes only our rules for that endpoint, by handle. */
START_TEST(filter_remove)
{
	char err[256], what[256];
	int removed = -1;

	ck_assert_int_eq(azml_imds_filter_install("http://127.0.0.1:8001",
		opts.filter_tool, what, sizeof(what), err, sizeof(err)), 0);
	ck_assert_int_eq(azml_imds_filter_install("http://127.0.0.1:8002",
		opts.filter_tool, what, sizeof(what), err, sizeof(err)), 0);
	ck_assert_int_eq(azml_imds_filter_install("http://127.0.0.1:8001",
		opts.filter_tool, what, sizeof(what), err, sizeof(err)), 0);
	ck_assert_str_eq(what, "only root reaches 127.0.0.1:8001; nftables "
			 "rule already there");
	ck_assert_int_eq(_lines_with("nft.rules", "azureml-imds"), 2);
	ck_assert_int_eq(azml_imds_filter_remove("http://127.0.0.1:8001",
		opts.filter_tool, &removed, err, sizeof(err)), 0);
	ck_assert_int_eq(removed, 1);
	ck_assert_int_eq(_lines_with("nft.rules", "127.0.0.1:8001"), 0);
	ck_assert_int_eq(_lines_with("nft.rules", "127.0.0.1:8002\""), 1);
	ck_assert_int_eq(_lines_with("nft.log", "delete rule inet azureml "
				     "imds handle 3"), 1);
	/* a host name is refused: the rule needs an address */
	ck_assert_int_eq(azml_imds_filter_install("http://localhost:8001",
		opts.filter_tool, what, sizeof(what), err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "'localhost' is not an IPv4"));
}
END_TEST

START_TEST(identity_missing)
{
	W->token_status = 400;
	W->token_body = "{\"error\":\"invalid_request\",\"error_description\":"
			"\"Identity not found\"}";
	ck_assert_int_eq(_run(), 1);
	ck_assert_str_eq(_last(), "node-init: identity: failed: IMDS refused the "
			 "token request (HTTP 400): invalid_request: Identity "
			 "not found");
	ck_assert_int_eq(nreports, 0);
}
END_TEST

START_TEST(key_not_base64_or_short)
{
	snprintf(W->kv_body, sizeof(W->kv_body), "{\"value\":\"***\"}");
	ck_assert_int_eq(_run(), 1);
	ck_assert_ptr_nonnull(strstr(_last(), "node-init: munge: failed: the "
				     "secret http://"));
	ck_assert_ptr_nonnull(strstr(_last(), "is not base64"));
	snprintf(W->kv_body, sizeof(W->kv_body), "{\"value\":\"c2hvcnQ=\"}");
	ck_assert_int_eq(_run(), 1);
	ck_assert_ptr_nonnull(strstr(_last(), "is 5 bytes; munged needs 32 to"));
}
END_TEST

START_TEST(bad_userdata)
{
	static const struct {
		const char *text, *want;
	} cases[] = {
		{ "!!! not base64 !!!", "node-init: userData: failed: not base64" },
		/* {"version":1} */
		{ "eyJ2ZXJzaW9uIjoxfQ==", "node-init: userData: failed: field '" },
		/* {"version":"1"} */
		{ "eyJ2ZXJzaW9uIjoiMSJ9", "node-init: userData: failed: field "
		  "'version'" },
		{ "", "node-init: userData: failed: empty" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *f = _file("ud", cases[i].text, 0644);

		opts.userdata_file = f;
		ck_assert_int_eq(_run(), 1);
		ck_assert_msg(!strncmp(_last(), cases[i].want,
				       strlen(cases[i].want)),
			      "case %zu: %s", i, _last());
		free(f);
		opts.userdata_file = NULL;
	}
	/* served by IMDS: the same */
	opts.userdata_file = NULL;
	snprintf(W->userdata, sizeof(W->userdata), "eyJ2ZXJzaW9uIjoxfQ==");
	ck_assert_int_eq(_run(), 1);
	ck_assert_ptr_nonnull(strstr(_last(), "userData: failed: field '"));
	/* a file with good userData works */
	_set_userdata(0, NULL, NULL, NULL);
	opts.userdata_file = _file("ud", W->userdata, 0644);
	W->userdata[0] = '\0';
	ck_assert_int_eq(_run(), 0);
	ck_assert_int_eq(nreports, 0);
}
END_TEST

START_TEST(hostname_differs)
{
	opts.hostname = "gpu-2";
	ck_assert_int_eq(_run(), 1);
	ck_assert_str_eq(_last(), "node-init: userData: failed: userData names "
			 "node 'gpu-1' but this VM's hostname is 'gpu-2' "
			 "(computerName must be the node name)");
}
END_TEST

START_TEST(setup_script)
{
	char *ok = _file("ok.sh", "#!/bin/sh\necho hello from setup\n", 0755);
	char *bad = _file("bad.sh", "#!/bin/sh\nexit 3\n", 0755);
	char *ww = _file("ww.sh", "#!/bin/sh\nexit 0\n", 0775);
	char want[512];

	_set_userdata(0, NULL, ok, NULL);
	ck_assert_int_eq(_run(), 0);
	ck_assert_ptr_nonnull(strstr(console, "node-init: setup script: "
				     "running"));
	ck_assert_ptr_nonnull(strstr(console, "hello from setup\n"));
	ck_assert_ptr_nonnull(strstr(console, "node-init: setup script: ok ("));
	_set_userdata(0, NULL, bad, NULL);
	ck_assert_int_eq(_run(), 1);
	snprintf(want, sizeof(want), "node-init: setup script: failed: %s "
		 "ended with exit status 3", bad);
	ck_assert_str_eq(_last(), want);
	/* after munge works: the node reports itself */
	ck_assert_int_eq(nreports, 1);
	snprintf(want, sizeof(want), "gpu-1|azureml: node-init: setup script: "
		 "%s ended with exit status 3", bad);
	ck_assert_str_eq(reported, want);
	_set_userdata(0, NULL, ww, NULL);
	ck_assert_int_eq(_run(), 1);
	ck_assert_ptr_nonnull(strstr(_last(), "writable by its group or by "
				     "others (mode 0775)"));
	free(ok);
	free(bad);
	free(ww);
}
END_TEST

/* NodeSetupScript (issue 25, item 5): a script in a folder others may
 * write, or reached through a link, is refused and never run; the script
 * judged is the one run (fexecve of the same descriptor). */
START_TEST(setup_script_folders)
{
	char sub[PATH_MAX], path[PATH_MAX + 32], mark[PATH_MAX + 32];
	char text[PATH_MAX + 64], link[PATH_MAX + 32];
	struct stat st;

	snprintf(sub, sizeof(sub), "%s/open", dir);
	ck_assert_int_eq(mkdir(sub, 0777), 0);
	ck_assert_int_eq(chmod(sub, 0777), 0);
	snprintf(path, sizeof(path), "%s/s.sh", sub);
	snprintf(mark, sizeof(mark), "%s/ran", dir);
	snprintf(text, sizeof(text), "#!/bin/sh\ntouch %s\n", mark);
	free(_file("open/s.sh", text, 0755));
	_set_userdata(0, NULL, path, NULL);
	ck_assert_int_eq(_run(), 1);
	ck_assert_msg(strstr(_last(), "node-init: setup script: failed: "
			     "refusing the script: folder ") &&
		      strstr(_last(), "/open is writable by its group or by "
			     "others (mode 0777)"), "%s", _last());
	ck_assert_int_ne(stat(mark, &st), 0);	/* never run */

	/* a root-owned sticky folder (as /tmp): no one else may rename or
	 * remove root's script there, so it runs */
	ck_assert_int_eq(chmod(sub, 01777), 0);
	ck_assert_int_eq(_run(), geteuid() == 0 ? 0 : 1);
	ck_assert_int_eq(chmod(sub, 0755), 0);
	unlink(mark);

	/* through a symbolic link: refused, not followed */
	snprintf(link, sizeof(link), "%s/link.sh", dir);
	ck_assert_int_eq(symlink(path, link), 0);
	_set_userdata(0, NULL, link, NULL);
	ck_assert_int_eq(_run(), 1);
	ck_assert_msg(strstr(_last(), "it is a symbolic link; refused"), "%s",
		      _last());
	ck_assert_int_ne(stat(mark, &st), 0);

	/* a safe one runs, from the descriptor judged */
	_set_userdata(0, NULL, path, NULL);
	ck_assert_int_eq(_run(), 0);
	ck_assert_int_eq(stat(mark, &st), 0);
}
END_TEST

START_TEST(gpu_check)
{
	char topo[512];

	snprintf(topo, sizeof(topo), "%s/hwloc-topologies/nvidiaDGX2.xml",
		 tu_shared_dir());
	setenv("AZUREML_NODE_TOPOLOGY", topo, 1);
	_set_userdata(16, "Volta", NULL, NULL);
	ck_assert_int_eq(_run(), 0);
	ck_assert_msg(strstr(console, "node-init: GPU check: ok (16 GPUs: "
			     "Volta; Standard_NC6s_v3 needs 16 (v100, Volta))\n"),
		      "%s", console);
	_set_userdata(8, "Volta", NULL, NULL);
	ck_assert_int_eq(_run(), 1);
	ck_assert_str_eq(_last(), "node-init: GPU check: failed: found 16 GPUs "
			 "(Volta); Standard_NC6s_v3 needs 8 (v100, Volta)");
	ck_assert_str_eq(reported, "gpu-1|azureml: node-init: GPU check: found "
			 "16 GPUs (Volta); Standard_NC6s_v3 needs 8 (v100, "
			 "Volta)");
	_set_userdata(16, "Ampere", NULL, NULL);
	ck_assert_int_eq(_run(), 1);
	ck_assert_str_eq(_last(), "node-init: GPU check: failed: found 16 GPUs "
			 "(Volta); Standard_NC6s_v3 needs 16 (v100, Ampere)");
	snprintf(topo, sizeof(topo), "%s/hwloc-topologies/"
		 "32em64t-2n8c2t-pci-normalio.xml", tu_shared_dir());
	setenv("AZUREML_NODE_TOPOLOGY", topo, 1);
	_set_userdata(1, "Volta", NULL, NULL);
	ck_assert_int_eq(_run(), 1);
	ck_assert_str_eq(_last(), "node-init: GPU check: failed: found 4 GPUs "
			 "(Fermi, Kepler, unknown); Standard_NC6s_v3 needs 1 "
			 "(v100, Volta)");
}
END_TEST

START_TEST(slurmd_refused)
{
	free((char *) opts.slurmd);
	opts.slurmd = _file("slurmd", "#!/bin/sh\necho 'slurm 25.05.0'\n",
			    0755);
	_set_userdata(0, NULL, NULL, "24.11.5");
	ck_assert_int_eq(_run(), 1);
	ck_assert_str_eq(_last(), "node-init: slurmd: failed: slurmd 25.05.0 is "
			 "newer than slurmctld 24.11.5; install slurmd 24.11 or "
			 "older (down to 23.02) on the image");
	ck_assert_int_eq(nreports, 1);
	free((char *) opts.slurmd);
	opts.slurmd = strdup("/nonexistent/slurmd");
	ck_assert_int_eq(_run(), 1);
	ck_assert_str_eq(_last(), "node-init: slurmd: failed: /nonexistent/"
			 "slurmd not found; install slurmd on the image");
}
END_TEST

/* slurmd 23.02 or later starts with --instance-id and --instance-type from
 * IMDS's compute document (its first registration sets the node's
 * InstanceId/InstanceType); older, or a document without them or with
 * words unsafe on a command line: without, and the console says why. */
START_TEST(slurmd_instance_options)
{
	free((char *) opts.slurmd);
	opts.slurmd = _file("slurmd", "#!/bin/sh\necho 'slurm 24.11.5'\n",
			    0755);
	_set_userdata(0, NULL, NULL, "24.11.5");
	snprintf(W->compute, sizeof(W->compute), "{\"vmId\":"
		 "\"0f6e3c1a-1b2c-4d5e-8f90-a1b2c3d4e5f6\",\"vmSize\":"
		 "\"Standard_D4s_v3\",\"name\":\"gpu-1\"}");
	ck_assert_int_eq(_run(), 0);
	ck_assert_msg(strstr(console, "--conf-server 127.0.0.1:6817 "
			     "--instance-id 0f6e3c1a-1b2c-4d5e-8f90-a1b2c3d4e5f6 "
			     "--instance-type Standard_D4s_v3)"), "%s", console);
	/* a vmSize with a space: not passed on */
	snprintf(W->compute, sizeof(W->compute), "{\"vmId\":\"x\",\"vmSize\":"
		 "\"Standard_D4s_v3 --extra=evil\"}");
	ck_assert_int_eq(_run(), 0);
	ck_assert_ptr_null(strstr(console, "--instance-type"));
	ck_assert_ptr_nonnull(strstr(console, "node-init: instance: IMDS gave "
				     "no usable vmId and vmSize; slurmd starts "
				     "without --instance-id\n"));
	/* slurmd 22.05: not asked */
	free((char *) opts.slurmd);
	opts.slurmd = _file("slurmd", "#!/bin/sh\necho 'slurm-wlm 22.05.8'\n",
			    0755);
	_set_userdata(0, NULL, NULL, NULL);
	ck_assert_int_eq(_run(), 0);
	ck_assert_ptr_null(strstr(console, "instance"));
}
END_TEST

START_TEST(slurmd_versions)
{
	static const struct {
		const char *slurmd, *ctld;
		int ok;
		const char *why;
	} cases[] = {
		{ "slurm-wlm 22.05.8", "22.05.8", 1, NULL },
		{ "slurm 22.05.9", "22.05.8", 1, NULL },	/* same release */
		{ "slurm 21.08.5", "22.05.8", 1, NULL },
		{ "slurm 20.11.9", "22.05.8", 1, NULL },
		{ "slurm 20.02.7", "22.05.8", 0, "slurmd 20.02.7 is too old for "
		  "slurmctld 22.05.8 (2 major releases back at most); install "
		  "slurmd 20.11 to 22.05 on the image" },
		{ "slurm 23.02.1", "22.05.8", 0, "slurmd 23.02.1 is newer than "
		  "slurmctld 22.05.8; install slurmd 22.05 or older (down to "
		  "20.11) on the image" },
		{ "slurm 24.11.5", "24.11.5", 1, NULL },
		{ "slurm 24.05.1", "24.11.5", 1, NULL },
		{ "slurm 23.11.10", "24.11.5", 1, NULL },
		{ "slurm 23.02.7", "24.11.5", 1, NULL },	/* 3 back from 24.11 */
		{ "slurm 22.05.8", "24.11.5", 0, "slurmd 22.05.8 is too old for "
		  "slurmctld 24.11.5 (3 major releases back at most); install "
		  "slurmd 23.02 to 24.11 on the image" },
		{ "slurm 25.05.0", "24.11.5", 0, "slurmd 25.05.0 is newer than "
		  "slurmctld 24.11.5; install slurmd 24.11 or older (down to "
		  "23.02) on the image" },
		{ "slurm 24.11.0", "25.05.2", 1, NULL },
		{ "slurm 24.05.0", "25.11.0", 1, NULL },
		{ "slurm 24.05.0", "26.05.0", 0, NULL },
		{ "slurm 99.05.0", "24.11.5", 0, NULL },
		{ "slurm 22.06.0", "22.05.8", 0, NULL },
		{ "garbage", "22.05.8", 0, "can't read slurmd's version from "
		  "'garbage'" },
		{ "slurm 22.05.8", "", 0, NULL },
	};
	char why[300];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = azml_slurmd_version_ok(cases[i].slurmd, cases[i].ctld,
						why, sizeof(why));

		ck_assert_msg((rc == 0) == cases[i].ok, "case %zu (%s vs %s): "
			      "%d %s", i, cases[i].slurmd, cases[i].ctld, rc,
			      rc ? why : "");
		if (cases[i].why)
			ck_assert_str_eq(why, cases[i].why);
	}
}
END_TEST


/* ---- a scale set's VM ---- */

#define VMSS_HOST "vmss-a1b2c3"

static void _scale_set(const azml_node_addr_t *nodes, size_t n, int paired_on)
{
	ud_node = NULL;
	_set_userdata(0, NULL, NULL, NULL);
	opts.hostname = VMSS_HOST;
	F.nodes = nodes;
	F.n = n;
	F.paired_on = paired_on;
}

START_TEST(scale_set_found_at_once)
{
	static const azml_node_addr_t paired[] = {
		{ "gpu-1", "gpu-1", "gpu-1" },
		{ "gpu-2", VMSS_HOST, "10.0.0.5" },
		{ "gpu-3", "gpu-3", "gpu-3" },
	};

	_scale_set(paired, 3, 1);
	ck_assert_int_eq(_run(), 0);
	ck_assert_msg(strstr(console, "node-init: userData: ok (scale-set VM "
			     VMSS_HOST " of cluster demo, target gpu, "
			     "Standard_NC6s_v3; node name from slurmctld)\n"),
		      "%s", console);
	ck_assert_msg(strstr(console, "node-init: node name: ok (node gpu-2: "
			     "NodeHostname=" VMSS_HOST ", NodeAddr=10.0.0.5; "
			     "found by NodeHostname after 0 s)\n"), "%s",
		      console);
	ck_assert_ptr_null(strstr(console, "waiting"));
	ck_assert_int_eq(F.calls, 1);
	ck_assert_str_eq(F.host, VMSS_HOST);
	/* its hostname is not its node name: slurmd is told */
	ck_assert_msg(strstr(console, "--conf-server 127.0.0.1:6817 -N gpu-2)"),
		      "%s", console);
	/* the step comes after munge, before the setup script */
	{
		const char *m = strstr(console, "node-init: munge: ok");
		const char *nn = strstr(console, "node-init: node name: ok");
		const char *su = strstr(console, "node-init: setup script: ok");

		ck_assert(m && nn && su && m < nn && nn < su);
	}
}
END_TEST

START_TEST(scale_set_found_on_third_poll)
{
	static const azml_node_addr_t paired[] = {
		{ "gpu-1", "gpu-1", "gpu-1" },
		{ "gpu-3", VMSS_HOST, "10.0.0.7" },
	};

	_scale_set(paired, 2, 3);
	ck_assert_int_eq(_run(), 0);
	ck_assert_int_eq(F.calls, 3);
	ck_assert_msg(strstr(console, "node-init: node name: waiting up to "
			     "300 s for slurmctld 127.0.0.1:6817 to pair this "
			     "VM with a node (NodeHostname=" VMSS_HOST
			     " or NodeAddr in {"), "%s", console);
	ck_assert_msg(strstr(console, "node-init: node name: ok (node gpu-3: "
			     "NodeHostname=" VMSS_HOST ", NodeAddr=10.0.0.7; "
			     "found by NodeHostname after 4 s)\n"), "%s",
		      console);
	ck_assert_ptr_nonnull(strstr(console, "-N gpu-3)"));
	/* a failure after it is reported for the node found */
	_set_userdata(0, NULL, "/nonexistent/setup.sh", NULL);
	F.calls = 0;
	F.paired_on = 1;
	ck_assert_int_eq(_run(), 1);
	ck_assert_str_eq(reported, "gpu-3|azureml: node-init: setup script: "
			 "/nonexistent/setup.sh: No such file or directory");
}
END_TEST

START_TEST(scale_set_ambiguous)
{
	static const azml_node_addr_t paired[] = {
		{ "gpu-1", "gpu-1", "gpu-1" },
		{ "gpu-2", VMSS_HOST, "10.0.0.5" },
		{ "gpu-3", "VMSS-A1B2C3", "10.0.0.6" },
	};

	_scale_set(paired, 3, 1);
	ck_assert_int_eq(_run(), 1);
	ck_assert_str_eq(_last(), "node-init: node name: failed: 2 nodes have "
			 "NodeHostname=" VMSS_HOST ": gpu-2, gpu-3");
	ck_assert_int_eq(F.calls, 1);
	/* no node known: the console line is all */
	ck_assert_int_eq(nreports, 0);
	ck_assert_ptr_null(strstr(console, "setup script"));
}
END_TEST

START_TEST(scale_set_never_paired)
{
	time_t t0 = time(NULL);

	_scale_set(NULL, 0, 0);
	opts.node_wait = 3;
	F.addr = "10.0.0.5";
	ck_assert_int_eq(_run(), 1);
	/* asked at 0, 2 and 3 s */
	ck_assert_int_eq(F.calls, 3);
	ck_assert_int_le(time(NULL) - t0, 5);
	ck_assert_msg(strstr(_last(), "node-init: node name: failed: no node "
			     "of slurmctld 127.0.0.1:6817 has NodeHostname="
			     VMSS_HOST " or NodeAddr in {"), "%s", _last());
	ck_assert_msg(strstr(_last(), "} after 3 s; the resume program pairs a "
			     "scale-set VM with its node"), "%s", _last());
	ck_assert_ptr_nonnull(strstr(console, "waiting up to 3 s"));
	ck_assert_int_eq(nreports, 0);
}
END_TEST

START_TEST(scale_set_by_addr)
{
	/* the resume program set NodeAddr; NodeHostname still the default */
	static const azml_node_addr_t by_addr[] = {
		{ "gpu-1", "gpu-1", "gpu-1" },
		{ "gpu-2", "gpu-2", "10.0.0.5" },
	};
	/* a NodeHostname match wins over another node's NodeAddr */
	static const azml_node_addr_t both[] = {
		{ "gpu-2", "gpu-2", "10.0.0.5" },
		{ "gpu-3", VMSS_HOST, "10.0.0.9" },
	};
	/* what slurmctld names must be a node name */
	static const azml_node_addr_t odd[] = {
		{ "gpu-2 -D", VMSS_HOST, "10.0.0.5" },
	};

	_scale_set(by_addr, 2, 1);
	F.addr = "10.0.0.5";
	ck_assert_int_eq(_run(), 0);
	ck_assert_msg(strstr(console, "node-init: node name: ok (node gpu-2: "
			     "NodeHostname=gpu-2, NodeAddr=10.0.0.5; found by "
			     "NodeAddr after 0 s)\n"), "%s", console);
	ck_assert_ptr_nonnull(strstr(console, "-N gpu-2)"));
	F.nodes = both;
	ck_assert_int_eq(_run(), 0);
	ck_assert_ptr_nonnull(strstr(console, "node-init: node name: ok (node "
				     "gpu-3: NodeHostname=" VMSS_HOST));
	F.nodes = odd;
	F.n = 1;
	ck_assert_int_eq(_run(), 1);
	ck_assert_str_eq(_last(), "node-init: node name: failed: slurmctld "
			 "127.0.0.1:6817 named node 'gpu-2 -D', not a usable "
			 "node name");
}
END_TEST

/* The matcher itself, without slurmctld. */
START_TEST(match_self)
{
	static const azml_node_addr_t t[] = {
		{ "c-1", "c-1", "c-1" },		/* never paired */
		{ "c-2", "vmss-0001", "10.0.0.4" },
		{ "c-3", "vmss-0002", "fd00::5" },
		{ "c-4", NULL, NULL },
		{ "c-5", "c-5", "10.0.0.8" },		/* paired by address */
		{ NULL, "vmss-0009", "10.0.0.9" },	/* no name: skipped */
	};
	static const azml_node_addr_t dup[] = {
		{ "d-1", "h", "10.1.0.1" }, { "d-2", "H", "10.1.0.2" },
		{ "d-3", "x", "10.1.0.1" }, { "d-4", "y", "10.1.0.1" },
	};
	const char *none[] = { NULL };
	const char *a4[] = { "192.168.1.1", "10.0.0.4" };
	const char *a6[] = { "fd00:0:0::5" };
	const char *a8[] = { "10.0.0.8" };
	const char *a9[] = { "10.0.0.9" };
	const char *ac1[] = { "c-1" };
	const char *ad[] = { "10.1.0.1" };
	char why[256] = "";
	bool by = true;

	/* by NodeHostname, case-insensitive */
	ck_assert_int_eq(azml_nodes_match_self(t, 6, "VMSS-0001", none, 0, &by,
					       why, sizeof(why)), 1);
	ck_assert(!by);
	/* an unpaired node is only itself */
	ck_assert_int_eq(azml_nodes_match_self(t, 6, "c-1", none, 0, &by, why,
					       sizeof(why)), 0);
	ck_assert_int_eq(azml_nodes_match_self(t, 6, "c-1x", none, 0, NULL,
					       why, sizeof(why)), -1);
	/* by NodeAddr when no NodeHostname is the host */
	ck_assert_int_eq(azml_nodes_match_self(t, 6, "vmss-0042", a4, 2, &by,
					       why, sizeof(why)), 1);
	ck_assert(by);
	ck_assert_int_eq(azml_nodes_match_self(t, 6, "vmss-0042", a6, 1, &by,
					       why, sizeof(why)), 2);
	ck_assert_int_eq(azml_nodes_match_self(t, 6, "vmss-0042", a8, 1, &by,
					       why, sizeof(why)), 4);
	/* the hostname first, whatever the addresses say */
	ck_assert_int_eq(azml_nodes_match_self(t, 6, "vmss-0002", a8, 1, &by,
					       why, sizeof(why)), 2);
	ck_assert(!by);
	/* a nameless entry, a NodeAddr that is a name, an empty host */
	ck_assert_int_eq(azml_nodes_match_self(t, 6, "vmss-0009", a9, 1, &by,
					       why, sizeof(why)), -1);
	ck_assert_int_eq(azml_nodes_match_self(t, 6, "", ac1, 1, &by, why,
					       sizeof(why)), 0);
	ck_assert_int_eq(azml_nodes_match_self(t, 6, "", none, 0, &by, why,
					       sizeof(why)), -1);
	ck_assert_int_eq(azml_nodes_match_self(NULL, 0, "h", a4, 2, &by, why,
					       sizeof(why)), -1);
	/* several: refused, named */
	ck_assert_int_eq(azml_nodes_match_self(dup, 4, "h", ad, 1, &by, why,
					       sizeof(why)), -2);
	ck_assert_str_eq(why, "2 nodes have NodeHostname=h: d-1, d-2");
	ck_assert_int_eq(azml_nodes_match_self(dup, 4, "z", ad, 1, &by, why,
					       sizeof(why)), -2);
	ck_assert_str_eq(why, "3 nodes have a NodeAddr of this machine: d-1, "
			 "d-3, d-4");
	/* WHY cut to its size */
	ck_assert_int_eq(azml_nodes_match_self(dup, 4, "z", ad, 1, &by, why,
					       8), -2);
	ck_assert_str_eq(why, "3 nodes");
}
END_TEST

int main(void)
{
	TCase *tc = tcase_create("nodeinit");

	tcase_add_checked_fixture(tc, _setup, _teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, all_steps);
	tcase_add_test(tc, secret_not_found);
	tcase_add_test(tc, identity_missing);
	tcase_add_test(tc, filter_refused);
	tcase_add_test(tc, filter_remove);
	tcase_add_test(tc, key_not_base64_or_short);
	tcase_add_test(tc, bad_userdata);
	tcase_add_test(tc, hostname_differs);
	tcase_add_test(tc, setup_script);
	tcase_add_test(tc, setup_script_folders);
	tu_add_shared_test(tc, gpu_check);
	tcase_add_test(tc, slurmd_refused);
	tcase_add_test(tc, slurmd_versions);
	tcase_add_test(tc, slurmd_instance_options);
	tcase_add_test(tc, scale_set_found_at_once);
	tcase_add_test(tc, scale_set_found_on_third_poll);
	tcase_add_test(tc, scale_set_ambiguous);
	tcase_add_test(tc, scale_set_never_paired);
	tcase_add_test(tc, scale_set_by_addr);
	tcase_add_test(tc, match_self);
	return tu_run("nodeinit", tc);
}

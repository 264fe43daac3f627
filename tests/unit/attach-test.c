/*
 * attach-test.c - node reports sealed with munge and judged by the
 * controller.  Two private munged daemons run with their own keys and
 * sockets (as root): the cluster's, and a stranger's.
 */
#include "config.h"

#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "attach.h"
#include "conf.h"
#include "gpu.h"
#include "testutil.h"

#define TOPO AZML_TOP_SRCDIR "/../shared/hwloc-topologies/"
/* A topology for tests that only need some report: the DGX-2 export when
 * ../shared is there, else this machine's. */
#define ANY_TOPO (tu_shared_dir() ? TOPO "nvidiaDGX2.xml" : NULL)

static char dir[] = "/tmp/azml-attach-test-XXXXXX";
static char sock_a[256], sock_b[256];

static void _munged(const char *name, char *sock, size_t n)
{
	char cmd[2048];

	snprintf(sock, n, "%s/%s.sock", dir, name);
	snprintf(cmd, sizeof(cmd),
		 "dd if=/dev/urandom of=%s/%s.key bs=1024 count=1 status=none && "
		 "chmod 600 %s/%s.key && "
		 "munged --force --socket=%s --key-file=%s/%s.key "
		 "--log-file=%s/%s.log --pid-file=%s/%s.pid --seed-file=%s/%s.seed",
		 dir, name, dir, name, sock, dir, name, dir, name, dir, name,
		 dir, name);
	if (system(cmd) != 0) {
		fprintf(stderr, "attach-test: munged did not start (%s)\n", cmd);
		exit(1);
	}
}

static void _stop_munged(void)
{
	char cmd[1024];

	snprintf(cmd, sizeof(cmd), "for p in %s/*.pid; do kill $(cat $p) 2>/dev/null; "
		 "done; sleep 0.2; rm -rf %s", dir, dir);
	if (system(cmd) != 0)
		fprintf(stderr, "attach-test: cleanup failed\n");
}

static cJSON *_report(const char *node, const char *topology)
{
	azml_inventory_t *inv = calloc(1, sizeof(*inv));
	azml_check_req_t req = { 0 };
	char err[256];
	bool ok;
	cJSON *r;

	ck_assert_int_eq(azml_gpu_inventory(topology, inv, err, sizeof(err)), 0);
	r = azml_attach_report(node, "labhost", "127.0.0.1", inv,
			       azml_node_check(inv, &req, &ok));
	free(inv);
	return r;
}

static char *_seal_report(const char *sock, int ttl, const cJSON *r)
{
	char err[256] = "", *cred = azml_attach_seal(sock, ttl, r, err, sizeof(err));

	ck_assert_msg(cred != NULL, "%s", err);
	return cred;
}

static char *_seal(const char *sock, int ttl)
{
	cJSON *r = _report("lab-1", ANY_TOPO);
	char *cred = _seal_report(sock, ttl, r);

	cJSON_Delete(r);
	return cred;
}

START_TEST(seal_and_open)
{
	char *cred = _seal(sock_a, 60), err[256];
	cJSON *r = azml_attach_open(sock_a, cred, 64030, err, sizeof(err));
	cJSON *want = _report("lab-1", ANY_TOPO);

	ck_assert_msg(r != NULL, "%s", err);
	ck_assert_str_eq(cJSON_GetObjectItem(r, "node")->valuestring, "lab-1");
	ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(
		cJSON_GetObjectItem(r, "check"), "gpus")),
		cJSON_GetArraySize(cJSON_GetObjectItem(
		cJSON_GetObjectItem(want, "check"), "gpus")));
	if (tu_shared_dir())	/* the DGX-2 export */
		ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(
			cJSON_GetObjectItem(r, "check"), "gpus")), 16);
	cJSON_Delete(want);
	cJSON_Delete(r);
	free(cred);
}
END_TEST

static void _refused(const char *cred, uid_t slurm_uid, const char *want)
{
	char err[512] = "";
	cJSON *r = azml_attach_open(sock_a, cred, slurm_uid, err, sizeof(err));

	ck_assert(r == NULL);
	ck_assert_msg(strstr(err, want) != NULL, "'%s' lacks '%s'", err, want);
}

START_TEST(another_key)
{
	char *cred = _seal(sock_b, 60);

	_refused(cred, 0, "credential refused: it was not made with this "
		 "cluster's munge key, or it was altered");
	free(cred);
}
END_TEST

START_TEST(expired)
{
	char *cred = _seal(sock_a, 1);

	sleep(3);
	_refused(cred, 0, "credential refused: it has expired");
	free(cred);
}
END_TEST

START_TEST(replayed)
{
	char *cred = _seal(sock_a, 60), err[256];
	cJSON *r = azml_attach_open(sock_a, cred, 0, err, sizeof(err));

	ck_assert_msg(r != NULL, "%s", err);
	cJSON_Delete(r);
	_refused(cred, 0, "credential refused: it was already used once (replayed)");
	free(cred);
}
END_TEST

START_TEST(truncated_and_garbage)
{
	char *cred = _seal(sock_a, 60);

	cred[strlen(cred) / 2] = '\0';
	_refused(cred, 0, "credential refused: it is not a whole munge credential");
	_refused("hello", 0, "credential refused: it is not a whole munge credential");
	/* one character changed in the middle of a whole credential */
	free(cred);
	cred = _seal(sock_a, 60);
	cred[strlen(cred) / 2] = cred[strlen(cred) / 2] == 'A' ? 'B' : 'A';
	_refused(cred, 0, "credential refused: it was not made with this "
		 "cluster's munge key, or it was altered");
	free(cred);
}
END_TEST

/* A credential made by 'nobody' (uid 65534), read back through a pipe.
 * The report is made first: nobody may not read the topology files. */
static void _seal_as_nobody(char *buf, size_t n)
{
	int fd[2];
	pid_t pid;
	ssize_t got = 0, r;
	cJSON *rep = _report("lab-1", ANY_TOPO);

	ck_assert_int_eq(pipe(fd), 0);
	if ((pid = fork()) == 0) {
		char *cred;

		close(fd[0]);
		if (setgid(65534) || setuid(65534))
			_exit(3);
		cred = _seal_report(sock_a, 60, rep);
		if (write(fd[1], cred, strlen(cred)) < 0)
			_exit(4);
		_exit(0);
	}
	close(fd[1]);
	while ((r = read(fd[0], buf + got, n - 1 - (size_t) got)) > 0)
		got += r;
	close(fd[0]);
	waitpid(pid, NULL, 0);
	cJSON_Delete(rep);
	ck_assert_int_gt(got, 0);
	buf[got] = '\0';
}

START_TEST(maker_uid)
{
	char buf[4096], err[256];
	cJSON *r;

	_seal_as_nobody(buf, sizeof(buf));
	_refused(buf, 64030, "credential refused: made by uid 65534, not by root "
		 "or SlurmUser (uid 64030)");
	/* the same user as SlurmUser is accepted (a fresh credential: munged
	 * counted the refused one as used) */
	_seal_as_nobody(buf, sizeof(buf));
	r = azml_attach_open(sock_a, buf, 65534, err, sizeof(err));
	ck_assert_msg(r != NULL, "%s", err);
	cJSON_Delete(r);
}
END_TEST

static const char *conf_text =
	"ClusterName=t\nSubscriptionId=00000000-0000-0000-0000-000000000001\n"
	"ResourceGroup=rg\nLocation=eastus\n"
	"AttachedCompute=lab Nodes=lab-[1-2] Gres=gpu:v100:16 CPUs=2 RealMemory=100\n"
	"AttachedCompute=cpu Nodes=box-1\n"
	"AttachedCompute=old Nodes=old-1 Gres=gpu:4 Cuda=12.0\n"
	"ComputeCluster=cloud VmSize=Standard_D2s_v3 MaxNodes=2\n";

/* The judge's reasons joined by '|'. */
static bool _judge(const cJSON *report, char *out, size_t n)
{
	azml_conf_t *conf = azml_conf_load_string(conf_text, "azureml.conf");
	cJSON *reasons = cJSON_CreateArray(), *r;
	const azml_target_t *t;
	bool ok;

	ck_assert_uint_eq(conf->nerrors, 0);
	ok = azml_attach_judge(conf, report, &t, reasons);
	out[0] = '\0';
	cJSON_ArrayForEach(r, reasons) {
		if (out[0])
			strncat(out, "|", n - strlen(out) - 1);
		strncat(out, r->valuestring, n - strlen(out) - 1);
	}
	cJSON_Delete(reasons);
	azml_conf_destroy(conf);
	return ok;
}

START_TEST(judged_against_the_target)
{
	char r[2048];
	cJSON *rep = _report("lab-2", TOPO "nvidiaDGX2.xml");

	ck_assert_msg(_judge(rep, r, sizeof(r)), "%s", r);
	/* fewer CPUs or memory than azureml.conf says */
	cJSON_ReplaceItemInObject(rep, "cpus", cJSON_CreateNumber(1));
	cJSON_ReplaceItemInObject(rep, "memory_mib", cJSON_CreateNumber(50));
	ck_assert(!_judge(rep, r, sizeof(r)));
	ck_assert_str_eq(r, "lab declares CPUs=2, the node has 1|"
			 "lab declares RealMemory=100 MiB, the node has 50 MiB");
	cJSON_Delete(rep);

	/* the wrong machine: the node's own "ok" is not trusted */
	rep = _report("lab-1", TOPO "32em64t-2n8c2t-pci-normalio.xml");
	ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(cJSON_GetObjectItem(rep, "check"), "ok")));
	ck_assert(!_judge(rep, r, sizeof(r)));
	ck_assert_str_eq(r, "gres/gpu declared 16, found 4 (target lab)|"
			 "gres/gpu:v100 declared 16, found 0 (target lab)");
	cJSON_Delete(rep);

	/* the right count, but GPUs that cannot run the target's CUDA */
	rep = _report("old-1", TOPO "32em64t-2n8c2t-pci-normalio.xml");
	ck_assert(!_judge(rep, r, sizeof(r)));
	ck_assert_msg(strstr(r, "GPU 0000:84:00.0 (Tesla K40m, Kepler) does not run "
			     "CUDA 12.0 (Kepler: CUDA 9.0 to 11.8) (target old)") != NULL, "%s", r);
	ck_assert(strstr(r, "gres/gpu declared") == NULL);
	cJSON_Delete(rep);

	/* a node with GPUs in a target that declares none */
	rep = _report("box-1", TOPO "nvidiaDGX2.xml");
	ck_assert(!_judge(rep, r, sizeof(r)));
	ck_assert_str_eq(r, "gres/gpu declared 0, found 16 (target cpu)");
	cJSON_Delete(rep);

	/* not an attached node, or not a node at all */
	rep = _report("cloud-1", TOPO "16intel64-manyVFs.xml");
	ck_assert(!_judge(rep, r, sizeof(r)));
	ck_assert_str_eq(r, "node cloud-1 is not in an AttachedCompute target of azureml.conf");
	cJSON_ReplaceItemInObject(rep, "node", cJSON_CreateString("../../etc"));
	ck_assert(!_judge(rep, r, sizeof(r)));
	ck_assert_str_eq(r, "the report names no valid node");
	cJSON_ReplaceItemInObject(rep, "node", cJSON_CreateString("box-1"));
	cJSON_ReplaceItemInObject(rep, "address", cJSON_CreateString("1.2.3.4/evil"));
	ck_assert(!_judge(rep, r, sizeof(r)));
	ck_assert_str_eq(r, "the report's address or hostname is not valid");
	/* what only the node saw is carried over */
	cJSON_ReplaceItemInObject(rep, "address", cJSON_CreateString("10.0.0.7"));
	cJSON_AddItemToArray(cJSON_GetObjectItem(cJSON_GetObjectItem(rep, "check"), "reasons"),
			     cJSON_CreateString("gres.conf File=/dev/nvidia3: No such file or directory"));
	ck_assert(!_judge(rep, r, sizeof(r)));
	ck_assert_str_eq(r, "on the node: gres.conf File=/dev/nvidia3: No such file or directory");
	cJSON_Delete(rep);
}
END_TEST

/* The way a node is admitted: the slot or node slurmctld has first, else
 * a dynamic node where the running controller takes them. */
START_TEST(way_of_admission)
{
	ck_assert_int_eq(azml_attach_way(true, "22.05.8"), AZML_ATTACH_UPDATE);
	ck_assert_int_eq(azml_attach_way(true, "26.05.5"), AZML_ATTACH_UPDATE);
	ck_assert_int_eq(azml_attach_way(false, "24.11.5"), AZML_ATTACH_CREATE);
	ck_assert_int_eq(azml_attach_way(false, "26.05.5"), AZML_ATTACH_CREATE);
	ck_assert_int_eq(azml_attach_way(false, "22.05.8"), AZML_ATTACH_NO_NODE);
	ck_assert_int_eq(azml_attach_way(false, "24.05.1"), AZML_ATTACH_NO_NODE);
	ck_assert_int_eq(azml_attach_way(false, NULL), AZML_ATTACH_NO_NODE);
}
END_TEST

int main(void)
{
	int rc;
	TCase *tc = tcase_create("attach");

	if (!mkdtemp(dir) || chmod(dir, 0755) < 0)	/* 'nobody' makes one too */
		return 1;
	_munged("cluster", sock_a, sizeof(sock_a));
	_munged("stranger", sock_b, sizeof(sock_b));
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, seal_and_open);
	tcase_add_test(tc, another_key);
	tcase_add_test(tc, expired);
	tcase_add_test(tc, replayed);
	tcase_add_test(tc, truncated_and_garbage);
	tcase_add_test(tc, maker_uid);
	tu_add_shared_test(tc, judged_against_the_target);
	tcase_add_test(tc, way_of_admission);
	rc = tu_run("attach", tc);
	_stop_munged();
	return rc;
}

/*
 * arm-bench.c - create then delete N VMs through the ARM client against
 * azure-emulator, with its latency and async-operation time, at full
 * concurrency and with one request in flight (the baseline); then again
 * with ARM's documented write throttle (token bucket 200, refilled 10/s).
 * Prints wall times, requests sent, 429s; asserts nothing.
 *
 *   arm-bench [N...]          default: 100 1000
 *   env: AZML_BENCH_LATENCY_MS (100), AZML_BENCH_ASYNC_MS (2000),
 *        AZML_BENCH_BASELINE_N (50)
 */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "arm.h"

static int port;
static pid_t emu;
static int ok_count, fail_count;

static double _mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int _admin(const char *method, const char *path, const char *body,
		  char **out)
{
	CURL *e = curl_easy_init();
	char url[256];
	FILE *mem = NULL;
	char *buf = NULL;
	size_t len = 0;
	long st = 0;

	snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, path);
	if (out)
		mem = open_memstream(&buf, &len);
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
	if (body)
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, mem ? mem : fopen("/dev/null", "w"));
	if (curl_easy_perform(e) == CURLE_OK)
		curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &st);
	curl_easy_cleanup(e);
	if (mem) {
		fclose(mem);
		*out = buf;
	}
	return (int) st;
}

static void _start(int latency, int async_ms)
{
	char listen[64], lat[16], as[16];
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t l = sizeof(a);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	bind(s, (struct sockaddr *) &a, sizeof(a));
	getsockname(s, (struct sockaddr *) &a, &l);
	port = ntohs(a.sin_port);
	close(s);
	snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
	snprintf(lat, sizeof(lat), "%d", latency);
	snprintf(as, sizeof(as), "%d", async_ms);
	emu = fork();
	if (emu == 0) {
		freopen("/dev/null", "w", stderr);
		execl(AZML_BUILD_DIR "/contrib/emulator/azure-emulator",
		      "azure-emulator", "--listen", listen, "--latency-ms", lat,
		      "--async-ms", as, "--client-secret", "bench", (char *) NULL);
		_exit(127);
	}
	for (int i = 0; i < 100 && _admin("GET", "/emulator/stats", NULL, NULL) != 200; i++)
		usleep(50000);
}

static void _stop(void)
{
	_admin("POST", "/emulator/reset", NULL, NULL);
	kill(emu, SIGTERM);
	waitpid(emu, NULL, 0);
}

static void _done(void *arg, const azml_vm_result_t *r)
{
	if (r->ok)
		ok_count++;
	else if (fail_count++ < 3)
		fprintf(stderr, "  %s: %s: %s\n", r->name, r->code, r->message);
}

static long _emu_stat(const char *key)
{
	char *out = NULL, *p;
	long v = -1;

	_admin("GET", "/emulator/stats", NULL, &out);
	if (out && (p = strstr(out, key)))
		v = atol(p + strlen(key) + 1);
	free(out);
	return v;
}

/* One round: create N, then delete N.  Prints a line per phase. */
static void _round(azml_conf_t *conf, int n, int in_flight, const char *label)
{
	azml_http_opts_t o = { .max_in_flight = in_flight, .retry_for = 600 };
	char err[512], node[32];
	azml_arm_t *arm = azml_arm_create(conf, &o, err, sizeof(err));
	const azml_target_t *t = &conf->targets[0];
	double t0;
	unsigned long req0, thr0;

	if (!arm) {
		fprintf(stderr, "arm-bench: %s\n", err);
		exit(1);
	}
	for (int phase = 0; phase < 2; phase++) {
		long creates0 = _emu_stat("\"creates\""),
		     deletes0 = _emu_stat("\"deletes\"");

		ok_count = fail_count = 0;
		req0 = azml_arm_stats(arm)->requests;
		thr0 = azml_arm_stats(arm)->throttled;
		t0 = _mono();
		for (int i = 1; i <= n; i++) {
			snprintf(node, sizeof(node), "bench-%d", i);
			if (phase == 0)
				azml_arm_vm_create(arm, t, node, _done, NULL);
			else
				azml_arm_vm_delete(arm, node, _done, NULL);
		}
		azml_arm_run(arm);
		printf("%-26s %5d %-6s %8.2f s %9.1f VM/s %8lu req %5.2f req/VM "
		       "%6lu 429s %4d failed, emulator saw %ld %s\n", label, n,
		       phase ? "delete" : "create", _mono() - t0,
		       n / (_mono() - t0), azml_arm_stats(arm)->requests - req0,
		       (double) (azml_arm_stats(arm)->requests - req0) / n,
		       azml_arm_stats(arm)->throttled - thr0, fail_count,
		       phase ? _emu_stat("\"deletes\"") - deletes0 :
			       _emu_stat("\"creates\"") - creates0,
		       phase ? "deletes" : "creates");
		fflush(stdout);
	}
	azml_arm_destroy(arm);
}

int main(int argc, char **argv)
{
	int latency = getenv("AZML_BENCH_LATENCY_MS") ? atoi(getenv("AZML_BENCH_LATENCY_MS")) : 100;
	int async_ms = getenv("AZML_BENCH_ASYNC_MS") ? atoi(getenv("AZML_BENCH_ASYNC_MS")) : 2000;
	int base_n = getenv("AZML_BENCH_BASELINE_N") ? atoi(getenv("AZML_BENCH_BASELINE_N")) : 50;
	int ns[8] = { 100, 1000 }, nn = 2;
	char *text, secret[] = "/tmp/azml-bench-secret-XXXXXX";
	int fd = mkstemp(secret);
	azml_conf_t *conf;

	if (argc > 1)
		for (nn = 0; nn < argc - 1 && nn < 8; nn++)
			ns[nn] = atoi(argv[nn + 1]);
	if (write(fd, "bench\n", 6) != 6)
		return 1;
	close(fd);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	_start(latency, async_ms);
	if (asprintf(&text, "ClusterName=bench\nSubscriptionId=00000000-0000-0000-0000-000000000001\n"
		     "ResourceGroup=rg\nLocation=eastus\nArmEndpoint=http://127.0.0.1:%d\n"
		     "AuthorityHost=http://127.0.0.1:%d\nCredential=client-secret:%s\n"
		     "TenantId=11111111-1111-1111-1111-111111111111\n"
		     "ClientId=22222222-2222-2222-2222-222222222222\n"
		     "ComputeCluster=bench VmSize=Standard_D2s_v3 MaxNodes=10000\n",
		     port, port, secret) < 0)
		return 1;
	conf = azml_conf_load_string(text, "bench.conf");
	free(text);
	if (conf->nerrors) {
		fprintf(stderr, "%s\n", conf->errors[0]);
		return 1;
	}
	printf("emulator: %d ms a request, %d ms an async operation; client: 64 "
	       "in flight\n\n", latency, async_ms);
	{
		double t0 = _mono(), per_vm_base, best = 0;

		_round(conf, base_n, 1, "baseline (1 in flight)");
		per_vm_base = (_mono() - t0) / base_n / 2;
		for (int i = 0; i < nn; i++) {
			double t1 = _mono(), per_vm;

			_round(conf, ns[i], 64, "concurrent (64 in flight)");
			per_vm = (_mono() - t1) / ns[i] / 2;
			printf("  -> %d VMs: %.1fx the baseline's VMs per second\n",
			       ns[i], per_vm_base / per_vm);
			best = per_vm_base / per_vm;
		}
		(void) best;
	}
	/* ARM's documented subscription write limit. */
	_admin("POST", "/emulator/faults",
	       "{\"write_burst\":200,\"write_rate\":10}", NULL);
	printf("\nwith ARM's write throttle (bucket 200, +10/s):\n");
	_round(conf, ns[nn - 1], 64, "throttled (64 in flight)");
	_stop();
	azml_conf_destroy(conf);
	unlink(secret);
	return 0;
}

/*
 * testutil.c - see testutil.h.
 */
#include "config.h"

#include <check.h>
#include <dirent.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "testutil.h"

static int nskipped;

const char *tu_shared_dir(void)
{
	const char *shared = getenv("AZML_SHARED");
	struct stat st;

	if (!shared)
		shared = AZML_TOP_SRCDIR "/../shared";
	return stat(shared, &st) == 0 && S_ISDIR(st.st_mode) ? shared : NULL;
}

void tu_skipped(const char *test)
{
	nskipped++;
	printf("SKIP: %s needs ../shared, which is absent\n", test);
}

cJSON *tu_example(const char *rel)
{
	char path[1024];
	FILE *fp;
	long len;
	char *text;
	cJSON *j;
	const char *shared = tu_shared_dir();

	snprintf(path, sizeof(path), "%s/azure-rest-examples/%s",
		 shared ? shared : AZML_TOP_SRCDIR "/../shared", rel);
	fp = fopen(path, "r");
	ck_assert_msg(fp != NULL, "missing example %s", path);
	fseek(fp, 0, SEEK_END);
	len = ftell(fp);
	rewind(fp);
	text = calloc(1, len + 1);
	ck_assert_int_eq(fread(text, 1, len, fp), len);
	fclose(fp);
	j = cJSON_Parse(text);
	free(text);
	ck_assert_msg(j != NULL, "%s is not JSON", path);
	return j;
}

const cJSON *tu_response_body(const cJSON *ex, const char *status)
{
	return cJSON_GetObjectItem(cJSON_GetObjectItem(
		cJSON_GetObjectItem(ex, "responses"), status), "body");
}

static int _free_port(void)
{
	int s = socket(AF_INET, SOCK_STREAM, 0), port;
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t l = sizeof(a);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	bind(s, (struct sockaddr *) &a, sizeof(a));
	getsockname(s, (struct sockaddr *) &a, &l);
	port = ntohs(a.sin_port);
	close(s);
	return port;
}

pid_t tu_emulator_start(int *port, const char *const *args)
{
	char listen[64];
	const char *argv[64];
	int n = 0;
	pid_t pid;

	*port = _free_port();
	snprintf(listen, sizeof(listen), "127.0.0.1:%d", *port);
	argv[n++] = AZML_BUILD_DIR "/contrib/emulator/azure-emulator";
	argv[n++] = "--listen";
	argv[n++] = listen;
	for (int i = 0; args && args[i] && n < 62; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	pid = fork();
	if (pid == 0) {
		if (!getenv("AZML_TEST_VERBOSE")) {
			freopen("/dev/null", "w", stderr);
			freopen("/dev/null", "w", stdout);
		}
		execv(argv[0], (char **) argv);
		_exit(127);
	}
	for (int i = 0; i < 100; i++) {
		char *out = NULL;
		int st = tu_http("GET", *port, "/emulator/stats", NULL, NULL, &out);

		free(out);
		if (st == 200)
			return pid;
		usleep(50000);
	}
	ck_abort_msg("the emulator did not start");
	return -1;
}

void tu_emulator_stop(pid_t pid, int port)
{
	/* stop the VMs' boot commands too: the emulator keeps them across its
	 * own restarts */
	tu_http("POST", port, "/emulator/reset", NULL, NULL, NULL);
	if (pid > 0) {
		kill(pid, SIGTERM);
		waitpid(pid, NULL, 0);
	}
}

typedef struct { char *b; size_t n; } buf_t;

static size_t _w(char *d, size_t s, size_t n, void *a)
{
	buf_t *b = a;

	b->b = realloc(b->b, b->n + s * n + 1);
	memcpy(b->b + b->n, d, s * n);
	b->n += s * n;
	b->b[b->n] = '\0';
	return s * n;
}

int tu_http_h(const char *method, int port, const char *path,
	      const char *body, const char *const *headers, char **out,
	      char **hout)
{
	CURL *e = curl_easy_init();
	struct curl_slist *h = NULL;
	char url[2048];
	buf_t b = { 0 }, hd = { 0 };
	long status = 0;

	snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, path);
	for (int i = 0; headers && headers[i]; i++)
		h = curl_slist_append(h, headers[i]);
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
	if (body)
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, _w);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, &b);
	if (hout) {
		curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, _w);
		curl_easy_setopt(e, CURLOPT_HEADERDATA, &hd);
	}
	curl_easy_setopt(e, CURLOPT_TIMEOUT, 10L);
	if (curl_easy_perform(e) == CURLE_OK)
		curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(h);
	curl_easy_cleanup(e);
	if (out)
		*out = b.b;
	else
		free(b.b);
	if (hout)
		*hout = hd.b;
	return (int) status;
}

int tu_http(const char *method, int port, const char *path, const char *body,
	    const char *const *headers, char **out)
{
	return tu_http_h(method, port, path, body, headers, out, NULL);
}

int tu_same_keys(const cJSON *a, const cJSON *b, char *missing, size_t n)
{
	const cJSON *it;

	cJSON_ArrayForEach(it, a) {
		const cJSON *o = cJSON_GetObjectItem(b, it->string);

		if (!o) {
			snprintf(missing, n, "%s", it->string);
			return -1;
		}
		if (cJSON_IsObject(it) && cJSON_IsObject(o) &&
		    tu_same_keys(it, o, missing, n))
			return -1;
	}
	return 0;
}

int tu_run(const char *name, TCase *tc)
{
	Suite *s = suite_create(name);
	SRunner *sr;
	int failed;

	int ran;

	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	ran = srunner_ntests_run(sr);
	srunner_free(sr);
	if (nskipped)
		printf("%s: %d test(s) skipped: ../shared is absent\n", name,
		       nskipped);
	if (!ran && nskipped)
		return 77;
	return failed ? 1 : 0;
}

azml_conf_t *tu_conf(const char *name, const char *fmt, ...)
{
	azml_conf_t *c;
	char *text;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&text, fmt, ap);
	va_end(ap);
	ck_assert_int_ge(n, 0);
	c = azml_conf_load_string(text, name);
	free(text);
	ck_assert_ptr_nonnull(c);
	return c;
}

size_t tu_fuzz_regress(const char *target,
		       void (*fn)(const char *data, size_t len,
				  const char *path))
{
	char dir[1024], path[2048];
	struct dirent *de;
	size_t count = 0;
	DIR *d;

	snprintf(dir, sizeof(dir), "%s/tests/fuzz/regress/%s", AZML_TOP_SRCDIR,
		 target);
	d = opendir(dir);
	ck_assert_msg(d != NULL, "cannot read %s", dir);
	while ((de = readdir(d))) {
		FILE *fp;
		char *data;
		long len;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		fp = fopen(path, "r");
		ck_assert_msg(fp != NULL, "cannot read %s", path);
		fseek(fp, 0, SEEK_END);
		len = ftell(fp);
		rewind(fp);
		data = calloc(1, len + 1);
		ck_assert_int_eq(fread(data, 1, len, fp), len);
		fclose(fp);
		fn(data, (size_t) len, path);
		free(data);
		count++;
	}
	closedir(d);
	return count;
}

void tu_ssh_key(const char *dir)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), "ssh-keygen -q -t ed25519 -N '' -C azml-test "
		 "-f '%s/id' < /dev/null > /dev/null", dir);
	ck_assert_msg(system(cmd) == 0, "ssh-keygen failed (package "
		      "openssh-client)");
}

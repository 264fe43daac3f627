/*
 * gres-test.c - the one gres parser: Slurm's Gres= syntax, the five ways it
 * used to be read (gpu.c, conf.c twice, route.c, generate.c) and where they
 * disagreed, what slurmctld takes on a NodeName line, and the limits of the
 * gres.conf reader.
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "generate.h"
#include "gres.h"
#include "testutil.h"

#define HEAD "ClusterName=t\nSubscriptionId=00000000-0000-0000-0000-000000000000\n" \
	"ResourceGroup=rg\nLocation=eastus\n"

static azml_gres_t g;
static char err[512];

static void _parse_ok(const char *spec)
{
	err[0] = '\0';
	ck_assert_msg(azml_gres_parse(spec, &g, err, sizeof(err)) == 0,
		      "%s: %s", spec, err);
}

START_TEST(syntax)
{
	_parse_ok("gpu");
	ck_assert_uint_eq(g.n, 1);
	ck_assert_str_eq(g.ent[0].name, "gpu");
	ck_assert_str_eq(g.ent[0].type, "");
	ck_assert_uint_eq(g.ent[0].count, 1);
	ck_assert_int_eq(g.gpus, 1);

	_parse_ok("gpu:4");
	ck_assert_str_eq(g.ent[0].type, "");
	ck_assert_int_eq(g.gpus, 4);

	_parse_ok("gpu:a100");
	ck_assert_str_eq(g.ent[0].type, "a100");
	ck_assert_int_eq(g.gpus, 1);

	_parse_ok("gpu:v100:4,gpu:t4:2,mps:100");
	ck_assert_uint_eq(g.n, 3);
	ck_assert_int_eq(g.gpus, 6);
	ck_assert_uint_eq(g.gpu_types, 2);
	ck_assert_str_eq(g.ent[0].type, "v100");
	ck_assert_uint_eq(g.ent[1].count, 2);
	ck_assert_str_eq(g.ent[2].name, "mps");
	ck_assert_uint_eq(g.ent[2].count, 100);
	ck_assert_ptr_null(azml_gres_gpu_type(&g));

	/* A MIG type starts with a digit but is no count. */
	_parse_ok("gpu:3g.20gb:2");
	ck_assert_str_eq(g.ent[0].type, "3g.20gb");
	_parse_ok("gpu:3g.20gb");
	ck_assert_str_eq(g.ent[0].type, "3g.20gb");
	ck_assert_int_eq(g.gpus, 1);

	/* slurm.conf(5)'s own example */
	_parse_ok("gpu:tesla:1,gpu:kepler:1,bandwidth:lustre:no_consume:4G");
	ck_assert_int_eq(g.gpus, 2);
	ck_assert_str_eq(g.ent[2].name, "bandwidth");
	ck_assert_str_eq(g.ent[2].type, "lustre");
	ck_assert(g.ent[2].no_consume);
	ck_assert_uint_eq(g.ent[2].count, 4ULL << 30);

	_parse_ok("gpu:no_consume:8");
	ck_assert_str_eq(g.ent[0].type, "");
	ck_assert(g.ent[0].no_consume);
	ck_assert_int_eq(g.gpus, 8);
	_parse_ok("gpu:h100:NO_CONSUME");
	ck_assert_str_eq(g.ent[0].type, "h100");
	ck_assert(g.ent[0].no_consume);

	/* What scontrol shows: socket bindings, commas inside them. */
	_parse_ok("gpu:v100:16(S:0-1),mps:400");
	ck_assert_int_eq(g.gpus, 16);
	ck_assert(g.ent[0].sockets);
	_parse_ok("gpu:h100:8(S:0,1),nic:2");
	ck_assert_uint_eq(g.n, 2);
	ck_assert_int_eq(g.gpus, 8);

	/* Repeats of one type add up; types compare case-insensitively. */
	_parse_ok("gpu:V100:8,gpu:v100:8");
	ck_assert_uint_eq(g.n, 1);
	ck_assert_int_eq(g.gpus, 16);
	ck_assert_uint_eq(g.gpu_types, 1);
	ck_assert_str_eq(azml_gres_gpu_type(&g), "V100");

	_parse_ok(NULL);
	ck_assert_uint_eq(g.n, 0);
	ck_assert_int_eq(g.gpus, 0);
}
END_TEST

START_TEST(counts_with_suffixes)
{
	_parse_ok("mps:1K");
	ck_assert_uint_eq(g.ent[0].count, 1024);
	_parse_ok("mps:2m");
	ck_assert_uint_eq(g.ent[0].count, 2ULL << 20);
	_parse_ok("bandwidth:3G");
	ck_assert_uint_eq(g.ent[0].count, 3ULL << 30);
	_parse_ok("bandwidth:1T,nic:1P");
	ck_assert_uint_eq(g.ent[0].count, 1ULL << 40);
	ck_assert_uint_eq(g.ent[1].count, 1ULL << 50);
	_parse_ok("gpu:1k");
	ck_assert_int_eq(g.gpus, AZML_GRES_MAX_GPUS);
	_parse_ok("gpu:0");
	ck_assert_int_eq(g.gpus, 0);
	_parse_ok("bandwidth:9223372036854775807");
	ck_assert_uint_eq(g.ent[0].count, 9223372036854775807ULL);
}
END_TEST

static const struct {
	const char *spec, *err;
} bad[] = {
	{ "", "empty" },
	{ "gpu:v100:x", "'x' is not a count" },
	{ "gpu:a:b:c", "'c' is not a count" },
	{ "gpu:a:no_consume:4:5", "'gpu:a:no_consume:4:5': too many ':' fields" },
	{ "gpu:a:b:4", "'gpu:a:b:4': too many ':' fields" },
	{ "gpu:v1 00:2", "'v1 00' is not a type (letters, digits, '_', '-' and '.')" },
	{ ":2", "':2': an entry has an empty field" },
	{ "gpu::2", "'gpu::2': an entry has an empty field" },
	{ "gpu:v100:", "'gpu:v100:': an entry has an empty field" },
	{ "g%u:2", "'g%u' is not a gres name (lower-case letters, digits and "
	  "'_', starting with a letter)" },
	{ "GPU:4", "'GPU' is not a gres name (lower-case letters, digits and "
	  "'_', starting with a letter)" },
	{ "gpu:99999999999", "more than 1024 GPUs" },
	{ "gpu:2k", "more than 1024 GPUs" },
	{ "gpu:1g", "more than 1024 GPUs" },
	{ "gpu:a100:1000,gpu:t4:25", "more than 1024 GPUs" },
	{ "mps:99999999999999999999", "'99999999999999999999' is not a count (too large)" },
	{ "mps:9000000000000000000K", "'9000000000000000000K' is not a count (too large)" },
	{ "gpu:-1", "'-1' is not a type (letters, digits, '_', '-' and '.')" },
	{ "gpu:4:no_consume", "'gpu:4:no_consume': the count comes last, after "
	  "the type and no_consume" },
	{ "gpu:4,", "an empty entry (',' at the start, at the end or twice)" },
	{ ",gpu:4", "an empty entry (',' at the start, at the end or twice)" },
	{ "gpu:4,,mps:1", "an empty entry (',' at the start, at the end or twice)" },
	{ " gpu:4", "' gpu' is not a gres name (lower-case letters, digits and "
	  "'_', starting with a letter)" },
	{ "gpu:8(S:0-1", "'(S:0-1' is not a socket binding like (S:0-1)" },
	{ "gpu:8(x)", "'(x)' is not a socket binding like (S:0-1)" },
	{ "gpu(S:0):8", "'(S:0):8' is not a socket binding like (S:0-1)" },
	{ "gpu:\x01", "'\\x01' is not a type (letters, digits, '_', '-' and '.')" },
	{ "a:1,b:1,c:1,d:1,e:1,f:1,g:1,h:1,i:1,j:1,k:1,l:1,m:1,n:1,o:1,p:1,q:1",
	  "more than 16 different entries" },
	{ "bandwidth:4611686018427387904,bandwidth:4611686018427387904",
	  "the bandwidth counts add up to more than a count can be" },
};

START_TEST(bad_input)
{
	azml_gres_t before;

	memset(&g, 0x5a, sizeof(g));
	before = g;
	err[0] = '\0';
	ck_assert_msg(azml_gres_parse(bad[_i].spec, &g, err, sizeof(err)) == -1,
		      "accepted: %s", bad[_i].spec);
	ck_assert_str_eq(err, bad[_i].err);
	/* out-parameters are written only on success */
	ck_assert(!memcmp(&g, &before, sizeof(g)));
}
END_TEST

START_TEST(too_long)
{
	char spec[AZML_GRES_MAX_LEN + 2];

	memset(spec, 'a', sizeof(spec) - 1);
	spec[sizeof(spec) - 1] = '\0';
	ck_assert_int_eq(azml_gres_parse(spec, &g, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "longer than 1024 characters");
	spec[AZML_GRES_MAX_LEN - 1] = '\0';	/* 1023 a's: one long name */
	ck_assert_int_eq(azml_gres_parse(spec, &g, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "...' is not a gres name"));
	/* a NULL or empty error buffer is not written */
	ck_assert_int_eq(azml_gres_parse("gpu:x:y", &g, NULL, 0), -1);
}
END_TEST

START_TEST(what_slurmctld_takes)
{
	char why[256];

	_parse_ok("mps:100,gpu:a100:4");
	ck_assert_int_eq(azml_gres_check_node(&g, why, sizeof(why)), 0);
	_parse_ok("gpu:a100:0");
	ck_assert_int_eq(azml_gres_check_node(&g, why, sizeof(why)), -1);
	ck_assert_str_eq(why, "gpu:a100 has a count of 0 (leave it out)");
	_parse_ok("gpu:k40:3,gpu:1");
	ck_assert_int_eq(azml_gres_check_node(&g, why, sizeof(why)), -1);
	ck_assert_str_eq(why, "gpu is given both with and without a type, "
			 "which Slurm refuses");
	_parse_ok("gpu:8(S:0-1)");
	ck_assert_int_eq(azml_gres_check_node(&g, why, sizeof(why)), -1);
	ck_assert_ptr_nonnull(strstr(why, "gres.conf Cores="));
}
END_TEST

START_TEST(written_back)
{
	char *s;

	_parse_ok("mps:1K,gpu:a100:2,gpu:A100:2,bandwidth:lustre:no_consume:4G");
	s = azml_gres_string(&g);
	ck_assert_str_eq(s, "mps:1024,gpu:a100:4,"
			 "bandwidth:lustre:no_consume:4294967296");
	free(s);
	_parse_ok(NULL);
	s = azml_gres_string(&g);
	ck_assert_str_eq(s, "");
	free(s);
}
END_TEST

/* ---- the former disagreements, through conf, route and generate ----- */

static azml_conf_t *_load(const char *line)
{
	return tu_conf("gres.conf", HEAD "%s\n", line);
}

static const azml_target_t *_target(azml_conf_t *c)
{
	for (size_t i = 0; i < c->nerrors; i++)
		fprintf(stderr, "%s\n", c->errors[i]);
	ck_assert_uint_eq(c->nerrors, 0);
	ck_assert_uint_eq(c->ntargets, 1);
	return &c->targets[0];
}

/* "mps before gpu": routing saw no GPU (strncmp(gres, "gpu")). */
START_TEST(mps_before_gpu)
{
	azml_conf_t *c = _load("AttachedCompute=lab Nodes=lab[1-4] "
			       "Gres=mps:100,gpu:a100:4 Cuda=12.0");
	const azml_target_t *t = _target(c);
	char *out;

	ck_assert_int_eq(t->gpus, 4);
	ck_assert_str_eq(t->gpu_type, "a100");
	ck_assert_ptr_nonnull(t->gpu_arch);
	ck_assert_str_eq(t->gpu_arch->arch, "Ampere");
	out = azml_generate_slurm_conf(c, NULL);
	ck_assert_ptr_nonnull(strstr(out, "\nGresTypes=gpu,mps\n"));
	ck_assert_ptr_nonnull(strstr(out, " Gres=mps:100,gpu:a100:4 "));
	free(out);
	out = azml_generate_gres_conf(c);
	ck_assert_ptr_nonnull(strstr(out, "NodeName=lab[1-4] Name=mps Count=100\n"));
	ck_assert_ptr_nonnull(strstr(out, "NodeName=lab[1-4] Name=gpu Type=a100 "
				     "File=/dev/nvidia[0-3]\n"));
	free(out);
	azml_conf_destroy(c);
}
END_TEST

/* Typed and untyped: conf took only COUNT last, gpu.c took "gpu:a100". */
START_TEST(typed_and_untyped)
{
	azml_conf_t *c = _load("AttachedCompute=lab Nodes=lab1 Gres=gpu:4");
	const azml_target_t *t = _target(c);

	ck_assert_int_eq(t->gpus, 4);
	ck_assert_ptr_null(t->gpu_type);
	ck_assert_ptr_null(t->gpu_arch);
	azml_conf_destroy(c);

	c = _load("AttachedCompute=lab Nodes=lab1 Gres=gpu:a100");
	t = _target(c);
	ck_assert_int_eq(t->gpus, 1);
	ck_assert_str_eq(t->gpu_type, "a100");
	azml_conf_destroy(c);

	/* Two types: every GPU counts, the Cuda= check sees each type (it
	 * looked at the first "gpu:" only), and the devices do not overlap. */
	c = _load("AttachedCompute=lab Nodes=lab1 Gres=gpu:a100:2,gpu:k80:2 "
		  "Cuda=12.0");
	ck_assert_uint_eq(c->nerrors, 1);
	ck_assert_str_eq(c->errors[0], "gres.conf:5: Cuda=12.0: the k80 GPUs of "
			 "Gres=gpu:a100:2,gpu:k80:2 are Kepler, which runs CUDA "
			 "9.0 to 11.8");
	azml_conf_destroy(c);
	c = _load("AttachedCompute=lab Nodes=lab1 Gres=gpu:a100:2,gpu:t4:2");
	t = _target(c);
	ck_assert_int_eq(t->gpus, 4);
	ck_assert_ptr_null(t->gpu_type);
	ck_assert_ptr_null(t->gpu_arch);	/* Ampere and Turing */
	{
		char *out = azml_generate_gres_conf(c);

		ck_assert_ptr_nonnull(strstr(out, "Type=a100 File=/dev/nvidia[0-1]\n"));
		ck_assert_ptr_nonnull(strstr(out, "Type=t4 File=/dev/nvidia[2-3]\n"));
		free(out);
	}
	azml_conf_destroy(c);

	/* A VM size's GPUs come through the same parser. */
	c = _load("ComputeCluster=vv VmSize=Standard_NC12s_v3 MaxNodes=2 "
		  "QuotaApproved=yes");
	t = _target(c);
	ck_assert_str_eq(t->gres, "gpu:v100:2");
	ck_assert_int_eq(t->gpus, 2);
	ck_assert_str_eq(t->gpu_type, "v100");
	ck_assert_str_eq(t->gpu_arch->arch, "Volta");
	azml_conf_destroy(c);
	c = _load("ComputeCluster=dd VmSize=Standard_D4s_v3 MaxNodes=2");
	t = _target(c);
	ck_assert_ptr_null(t->gres);
	ck_assert_int_eq(t->gpus, 0);
	ck_assert_ptr_null(t->gpu_type);
	azml_conf_destroy(c);
}
END_TEST

/* Suffixes: conf refused them, gpu.c took K and M, generate used atoi. */
START_TEST(conf_counts_with_suffixes)
{
	azml_conf_t *c = _load("AttachedCompute=lab Nodes=lab1 "
			       "Gres=gpu:v100:2,mps:2K");
	char *out;

	ck_assert_int_eq(_target(c)->gpus, 2);
	out = azml_generate_gres_conf(c);
	ck_assert_ptr_nonnull(strstr(out, "NodeName=lab1 Name=mps Count=2048\n"));
	free(out);
	azml_conf_destroy(c);
}
END_TEST

static const struct {
	const char *line, *message;
} conf_bad[] = {
	{ "AttachedCompute=lab Nodes=lab1 Gres=gpu:a100:x",
	  "gres.conf:5: Gres='gpu:a100:x': expected NAME[:TYPE]:COUNT[,...] like "
	  "gpu:a100:4: 'x' is not a count" },
	{ "AttachedCompute=lab Nodes=lab1 Gres=gpu:1G",
	  "gres.conf:5: Gres='gpu:1G': expected NAME[:TYPE]:COUNT[,...] like "
	  "gpu:a100:4: more than 1024 GPUs" },
	{ "AttachedCompute=lab Nodes=lab1 Gres=GPU:4",
	  "gres.conf:5: Gres='GPU:4': expected NAME[:TYPE]:COUNT[,...] like "
	  "gpu:a100:4: 'GPU' is not a gres name" },
	{ "AttachedCompute=lab Nodes=lab1 Gres=gpu:a100:4,gpu:2",
	  "gres.conf:5: Gres='gpu:a100:4,gpu:2': gpu is given both with and "
	  "without a type, which Slurm refuses" },
	{ "AttachedCompute=lab Nodes=lab1 Gres=mps:0,gpu:1",
	  "gres.conf:5: Gres='mps:0,gpu:1': mps has a count of 0 (leave it out)" },
	{ "AttachedCompute=lab Nodes=lab1 Gres=gpu:2(S:0-1)",
	  "gres.conf:5: Gres='gpu:2(S:0-1)': '(S:...)' is how scontrol shows" },
	{ "AttachedCompute=lab Nodes=lab1 Gres=gpu:2,",
	  "gres.conf:5: Gres='gpu:2,': expected NAME[:TYPE]:COUNT[,...] like "
	  "gpu:a100:4: an empty entry" },
};

START_TEST(conf_bad_input)
{
	azml_conf_t *c = _load(conf_bad[_i].line);
	bool found = false;

	for (size_t i = 0; i < c->nerrors; i++)
		if (!strncmp(c->errors[i], conf_bad[_i].message,
			     strlen(conf_bad[_i].message)))
			found = true;
	if (!found)
		for (size_t i = 0; i < c->nerrors; i++)
			fprintf(stderr, "got: %s\n", c->errors[i]);
	ck_assert_msg(found, "wanted: %s", conf_bad[_i].message);
	azml_conf_destroy(c);
}
END_TEST

/* Whatever bytes come in, the parser answers 0 or -1 with a message (what
 * a libFuzzer target on azml_gres_parse checks at scale). */
START_TEST(random_input)
{
	static const char *const pieces[] = {
		"gpu", "mps", ":", ",", "a100", "4", "1K", "no_consume", "(S:0-1)",
		"(", ")", "99999999999999999999", "", "\xff", "G", "-", "0",
	};
	unsigned int seed = 12;

	for (int i = 0; i < 20000; i++) {
		char spec[256] = "";
		int n = rand_r(&seed) % 12;

		for (int j = 0; j < n; j++)
			strcat(spec, pieces[rand_r(&seed) %
					    (sizeof(pieces) / sizeof(pieces[0]))]);
		err[0] = '\0';
		if (azml_gres_parse(spec, &g, err, sizeof(err)) == 0) {
			char *s = azml_gres_string(&g);
			azml_gres_t again;

			ck_assert_int_le(g.gpus, AZML_GRES_MAX_GPUS);
			/* what it writes back reads back the same */
			ck_assert_msg(!*s || azml_gres_parse(s, &again, err,
							     sizeof(err)) == 0,
				      "%s -> %s: %s", spec, s, err);
			ck_assert(!*s || again.gpus == g.gpus);
			free(s);
		} else {
			ck_assert_msg(err[0], "no message for '%s'", spec);
		}
	}
}
END_TEST

/* ---- gres.conf limits ------------------------------------------------ */

static char *_gres_conf(const char *text)
{
	char *path = strdup("/tmp/azml-gres-test-XXXXXX");
	int fd = mkstemp(path);

	ck_assert_int_ge(fd, 0);
	ck_assert(write(fd, text, strlen(text)) == (ssize_t) strlen(text));
	close(fd);
	return path;
}

START_TEST(gres_conf_long_line)
{
	char *text = NULL, *path, **files = (char **) 1, want[300];
	size_t len = 0;
	FILE *fp = open_memstream(&text, &len);

	/* a comment of 5000 bytes: the rest of it was read as a line */
	fputs("Name=gpu File=/dev/nvidia0\n# ", fp);
	for (int i = 0; i < 5000; i++)
		fputc(i % 100 ? 'x' : ' ', fp);
	fputs(" Name=gpu File=/dev/nvidia9\n", fp);
	fclose(fp);
	path = _gres_conf(text);
	ck_assert_int_eq(azml_gres_conf_files(path, "n1", &files, err,
					      sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s:2: line longer than 4095 bytes", path);
	ck_assert_str_eq(err, want);
	ck_assert_ptr_eq(files, (char **) 1);	/* untouched on error */
	unlink(path);
	free(path);
	free(text);
}
END_TEST

START_TEST(gres_conf_huge_range)
{
	char *path = _gres_conf("NodeName=n[1-2] Name=gpu File=/dev/nvidia[0-65535]\n"),
	     **files = NULL, want[300];
	struct timespec a, b;

	clock_gettime(CLOCK_MONOTONIC, &a);
	ck_assert_int_eq(azml_gres_conf_files(path, "n1", &files, err,
					      sizeof(err)), -1);
	clock_gettime(CLOCK_MONOTONIC, &b);
	snprintf(want, sizeof(want), "%s:1: File='/dev/nvidia[0-65535]': more "
		 "than 1024 devices", path);
	ck_assert_str_eq(err, want);
	/* it took 14 s and 1.5 GB; refused before anything is expanded */
	ck_assert_int_lt(b.tv_sec - a.tv_sec, 2);
	/* a line for another node is not expanded at all */
	ck_assert_int_eq(azml_gres_conf_files(path, "n3", &files, err,
					      sizeof(err)), 0);
	azml_strv_free(files, 0);
	unlink(path);
	free(path);
}
END_TEST

START_TEST(gres_conf_limit_per_node)
{
	char *path = _gres_conf("Name=gpu File=/dev/a[0-1023]\n"
				"Name=gpu File=/dev/b0\n"), **files = NULL;
	char want[300];
	int n;

	ck_assert_int_eq(azml_gres_conf_files(path, "n1", &files, err,
					      sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s:2: File='/dev/b0': more than 1024 "
		 "devices for this node", path);
	ck_assert_str_eq(err, want);
	unlink(path);
	free(path);

	path = _gres_conf("Name=gpu File=/dev/a[0-1023]\n");
	n = azml_gres_conf_files(path, "n1", &files, err, sizeof(err));
	ck_assert_int_eq(n, 1024);
	ck_assert_str_eq(files[1023], "/dev/a1023");
	azml_strv_free(files, (size_t) n);
	unlink(path);
	free(path);

}
END_TEST

/* Ranges libslurm would spend minutes and gigabytes on (every bracket but
 * the last is expanded), and brackets it should never see: refused with
 * what was wrong, before libslurm reads them. */
static const struct {
	const char *file, *why;
} bad_ranges[] = {
	{ "/dev/nvidia[0-7222222222222][0-3]", "a number over 2147483647 in a "
	  "range" },
	{ "/dev/nvidia[0-2000000000][0-3]", "more than 1024 devices" },
	{ "/dev/nvidia[0-99][0-99]", "more than 1024 devices" },
	{ "/dev/nvidia[0-1],/dev/x[0-1023]", "more than 1024 devices" },
	{ "/dev/nvidia[3-1]", "a range 3-1 that runs backwards" },
	{ "/dev/nvidia[0-3", "a '[' without its ']'" },
	{ "/dev/nvidia0-3]", "a ']' without its '['" },
	{ "/dev/nvidia[]", "expected N or N-M inside [ ]" },
	{ "/dev/nvidia[a]", "expected N or N-M inside [ ]" },
	{ "/dev/nvidia[1-]", "expected N or N-M inside [ ]" },
	{ "/dev/nvidia[1-2-3]", "expected ',' or ']' in a range" },
	{ "/dev/nvidia[[1]]", "expected N or N-M inside [ ]" },
};

START_TEST(gres_conf_bad_ranges)
{
	char text[300], *path, **files = (char **) 1, want[400];

	snprintf(text, sizeof(text), "Name=gpu File=%s\n",
		 bad_ranges[_i].file);
	path = _gres_conf(text);
	ck_assert_int_eq(azml_gres_conf_files(path, "n1", &files, err,
					      sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s:1: File='%s': %s", path,
		 bad_ranges[_i].file, bad_ranges[_i].why);
	ck_assert_str_eq(err, want);
	ck_assert_ptr_eq(files, (char **) 1);
	unlink(path);
	free(path);
}
END_TEST

START_TEST(gres_conf_ranges)
{
	char *path = _gres_conf("Name=gpu File=/dev/nvidia[0-1][2-3,5]\n"
				"NodeName=n[0-7222222222222][0-3] Name=gpu "
				"File=/dev/x[0-7222222222222][0-3]\n"
				"NodeName=n[1-2]x] Name=gpu File=/dev/y[\n"
				"Name=gpu File=/dev/z[0-31][0-31],/dev/w\n"),
	     **files = NULL;
	int n;

	/* the NodeName= lines name no node: their File= is never read */
	n = azml_gres_conf_files(path, "n1", &files, err, sizeof(err));
	ck_assert_msg(n == -1 && strstr(err, ":4: File='/dev/z[0-31][0-31],"
			"/dev/w': more than 1024 devices"), "%d %s", n, err);
	unlink(path);
	free(path);
	path = _gres_conf("Name=gpu File=/dev/nvidia[0-1][2-3,5]\n"
			  "Name=gpu File=/dev/z[00-31][0-29]\n");
	n = azml_gres_conf_files(path, "n1", &files, err, sizeof(err));
	ck_assert_msg(n == 6 + 960, "%d %s", n, err);
	ck_assert_str_eq(files[0], "/dev/nvidia02");
	ck_assert_str_eq(files[5], "/dev/nvidia15");
	ck_assert_str_eq(files[6], "/dev/z000");
	azml_strv_free(files, (size_t) n);
	unlink(path);
	free(path);
}
END_TEST

int main(void)
{
	TCase *tc = tcase_create("gres");

	tcase_add_test(tc, syntax);
	tcase_add_test(tc, counts_with_suffixes);
	tcase_add_loop_test(tc, bad_input, 0, sizeof(bad) / sizeof(bad[0]));
	tcase_add_test(tc, too_long);
	tcase_add_test(tc, what_slurmctld_takes);
	tcase_add_test(tc, written_back);
	tcase_add_test(tc, mps_before_gpu);
	tcase_add_test(tc, typed_and_untyped);
	tcase_add_test(tc, conf_counts_with_suffixes);
	tcase_add_loop_test(tc, conf_bad_input, 0,
			    sizeof(conf_bad) / sizeof(conf_bad[0]));
	tcase_add_test(tc, random_input);
	tcase_add_test(tc, gres_conf_long_line);
	tcase_add_test(tc, gres_conf_huge_range);
	tcase_add_test(tc, gres_conf_limit_per_node);
	tcase_add_loop_test(tc, gres_conf_bad_ranges, 0,
			    sizeof(bad_ranges) / sizeof(bad_ranges[0]));
	tcase_add_test(tc, gres_conf_ranges);
	return tu_run("gres", tc);
}

/*
 * admin-test.c - the admin command's table (plugins/admin/cli.c): every
 * usage text names exactly the options its command accepts, and the one
 * option parser answers bad options the same way for every command.
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/wait.h>

#include <cjson/cJSON.h>

#include "admin.h"
#include "userdata.h"
#include "testutil.h"

/* cli.c's table points at the subcommands; none runs here. */
#define STUB(f) \
	int f(const azml_cmd_t *cmd, int argc, char **argv) \
	{ \
		(void) cmd; (void) argc; (void) argv; \
		return 0; \
	}
STUB(azml_cmd_check_config)
STUB(azml_cmd_generate)
STUB(azml_cmd_catalog)
STUB(azml_cmd_userdata)
STUB(azml_cmd_targets)
STUB(azml_cmd_reconcile)
STUB(azml_cmd_quota)
STUB(azml_cmd_cost)
STUB(azml_cmd_metrics)
STUB(azml_cmd_instance)
STUB(azml_cmd_watch_events)
STUB(azml_cmd_node_init)
STUB(azml_cmd_node_check)
STUB(azml_cmd_attach)
STUB(azml_cmd_detach)

/* Whether the usage U has the word W (ending at a space, ']', '|', '\n'). */
static bool _has_word(const char *u, const char *w)
{
	size_t n = strlen(w);

	for (const char *s = strstr(u, w); s; s = strstr(s + 1, w))
		if ((s == u || strchr(" [|\n", s[-1])) && strchr(" ]|\n", s[n]))
			return true;
	return false;
}

START_TEST(usage_names_every_option)
{
	for (size_t i = 0; i < azml_ncmds; i++) {
		const azml_cmd_t *c = &azml_cmds[i];

		for (const struct option *o = c->opts; o->name; o++) {
			char w[64];

			if (o->val == 'h')
				continue;
			snprintf(w, sizeof(w), "--%s", o->name);
			if (!strcmp(o->name, "file"))	/* shown as -f */
				snprintf(w, sizeof(w), "-f");
			ck_assert_msg(_has_word(c->usage, w), "%s: usage '%s' "
				      "lacks %s", c->name, c->usage, w);
			/* a short form for each is in shortopts, with ':'
			 * exactly when the option takes an argument */
			if (strchr(c->shortopts, o->val)) {
				const char *p = strchr(c->shortopts, o->val);

				ck_assert_msg((p[1] == ':') ==
					      (o->has_arg == required_argument),
					      "%s: -%c", c->name, o->val);
			}
		}
		ck_assert_msg(strchr(c->shortopts, 'h'), "%s: no -h", c->name);
	}
}
END_TEST

START_TEST(usage_names_nothing_else)
{
	for (size_t i = 0; i < azml_ncmds; i++) {
		const azml_cmd_t *c = &azml_cmds[i];
		char *u = strdup(c->usage), *save = NULL;

		for (char *w = strtok_r(u, " []|\n", &save); w;
		     w = strtok_r(NULL, " []|\n", &save)) {
			bool known = false;

			if (w[0] != '-' || !strcmp(w, "-"))
				continue;
			for (const struct option *o = c->opts; o->name; o++)
				known = known ||
					(!strncmp(w, "--", 2) &&
					 !strcmp(w + 2, o->name)) ||
					(w[2] == '\0' && w[1] == o->val &&
					 strchr(c->shortopts, o->val));
			ck_assert_msg(known, "%s: usage names %s, which it does "
				      "not accept", c->name, w);
		}
		free(u);
	}
}
END_TEST

/* Run azml_cmd_getopt over ARGV in a child; its exit status and stderr. */
static int _parse(const char *cmd, char **argv, int argc, char *err, size_t n)
{
	const azml_cmd_t *c = azml_cmd_find(cmd);
	char path[] = "/tmp/azml-admin-test.XXXXXX";
	int fd = mkstemp(path), rc = 0, opt;
	FILE *fp;

	ck_assert(c && fd >= 0);
	fflush(stderr);
	dup2(fd, STDERR_FILENO);
	optind = 0;
	while ((opt = azml_cmd_getopt(c, argc, argv, &rc)) != -1)
		if (opt == AZML_OPT_EXIT)
			break;
	if (opt == -1)
		rc = azml_cmd_args(c, argc, argv, 0, 0);
	fflush(stderr);
	fp = fopen(path, "r");
	n = fread(err, 1, n - 1, fp);
	err[n] = '\0';
	fclose(fp);
	unlink(path);
	return rc;
}

static bool _starts(const char *s, const char *prefix)
{
	return !strncmp(s, prefix, strlen(prefix));
}

START_TEST(bad_options_one_way)
{
	char err[1024];
	char *unknown[] = { "targets", "--bogus=1", NULL };
	char *missing[] = { "generate", "--program-dir", NULL };
	char *noarg[] = { "catalog", "--json=yes", NULL };
	char *stray[] = { "check-config", "-f", "x", "y", NULL };

	ck_assert_int_eq(_parse("targets", unknown, 2, err, sizeof(err)), 2);
	ck_assert_str_eq(err, "slurm-azureml targets: unknown option '--bogus'\n"
			 "usage: slurm-azureml targets [-f FILE] [--json]\n");
	ck_assert_int_eq(_parse("generate", missing, 2, err, sizeof(err)), 2);
	ck_assert_msg(_starts(err, "slurm-azureml generate: option "
			       "'--program-dir' needs an argument\nusage: "),
		      "%s", err);
	ck_assert_int_eq(_parse("catalog", noarg, 2, err, sizeof(err)), 2);
	ck_assert_msg(_starts(err, "slurm-azureml catalog: option '--json' "
			       "takes no argument\n"), "%s", err);
	ck_assert_int_eq(_parse("check-config", stray, 4, err, sizeof(err)), 2);
	ck_assert_msg(_starts(err, "slurm-azureml check-config: unexpected "
			       "argument 'y'\n"), "%s", err);
}
END_TEST

/* Run the built slurm-azureml with ARGS (a shell word list) on a config
 * file holding TEXT, without slurm.conf; its stdout and stderr in OUT. */
static int _admin(const char *text, const char *args, char *out, size_t n)
{
	char conf[] = "/tmp/azml-admin-conf.XXXXXX", *cmd;
	int fd = mkstemp(conf), rc;
	FILE *fp;

	ck_assert(fd >= 0 && write(fd, text, strlen(text)) == (ssize_t) strlen(text));
	close(fd);
	ck_assert_int_gt(asprintf(&cmd, "SLURM_CONF=/nonexistent/slurm.conf "
		AZML_BUILD_DIR "/plugins/admin/slurm-azureml userdata -f %s %s "
		"2>&1", conf, args), 0);
	fp = popen(cmd, "r");
	n = fread(out, 1, n - 1, fp);
	out[n] = '\0';
	rc = pclose(fp);
	free(cmd);
	unlink(conf);
	return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

START_TEST(userdata_command)
{
	const char *text = "ClusterName=demo\n"
		"SubscriptionId=00000000-0000-0000-0000-000000000000\n"
		"ResourceGroup=rg\nLocation=eastus\n"
		"MungeKeySecret=https://myvault.vault.azure.net/secrets/munge\n"
		"Identity=/subscriptions/00000000-0000-0000-0000-000000000000/"
		"resourceGroups/rg/providers/Microsoft.ManagedIdentity/"
		"userAssignedIdentities/nodes\n"
		"ComputeCluster=gpu VmSize=Standard_NC6s_v3 MaxNodes=2 "
		"QuotaApproved=yes SlurmctldHost=10.0.0.4:6817\n"
		"ComputeCluster=cpu VmSize=Standard_D4s_v3 MaxNodes=2\n"
		"AttachedCompute=lab Nodes=lab1\n";
	char out[8192], err[256];
	azml_userdata_t u;
	cJSON *j;

	ck_assert_int_eq(_admin(text, "gpu", out, sizeof(out)), 0);
	j = cJSON_Parse(out);
	ck_assert_msg(j != NULL, "%s", out);
	ck_assert_ptr_nonnull(strstr(out, "\n\t\"node\":\t\"gpu-1\",\n"));
	ck_assert_str_eq(cJSON_GetObjectItem(j, "slurmctld_host")->valuestring,
			 "10.0.0.4:6817");
	ck_assert_str_eq(cJSON_GetObjectItem(j, "munge_key_secret")->valuestring,
			 "https://myvault.vault.azure.net/secrets/munge");
	ck_assert_str_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "gpus"),
					     "arch")->valuestring, "Volta");
	cJSON_Delete(j);

	ck_assert_int_eq(_admin(text, "--base64 GPU gpu-2", out, sizeof(out)), 0);
	ck_assert_int_eq(azml_userdata_parse(out, strlen(out), &u, err,
					     sizeof(err)), 0);
	ck_assert_str_eq(u.node, "gpu-2");
	ck_assert_str_eq(u.target, "gpu");
	azml_userdata_free(&u);

	ck_assert_int_eq(_admin(text, "nope", out, sizeof(out)), 1);
	ck_assert_msg(strstr(out, "slurm-azureml userdata: no compute target "
			     "'nope' in ") && strstr(out, "; compute clusters "
			     "and instances: gpu, cpu\n"), "%s", out);
	ck_assert_int_eq(_admin(text, "lab", out, sizeof(out)), 1);
	ck_assert_msg(strstr(out, "'lab' is attached compute"), "%s", out);
	ck_assert_int_eq(_admin(text, "gpu gpu-3", out, sizeof(out)), 1);
	ck_assert_str_eq(out, "slurm-azureml userdata: 'gpu-3' is not a node of "
			 "'gpu' (its nodes: gpu-[1-2])\n");
	/* no SlurmctldHost= and no slurm.conf: said, not guessed */
	ck_assert_int_eq(_admin(text, "cpu", out, sizeof(out)), 1);
	ck_assert_msg(strstr(out, "cpu has no SlurmctldHost= and slurm.conf's "
			     "is unknown"), "%s", out);
	ck_assert_int_eq(_admin(text, "", out, sizeof(out)), 2);
	ck_assert_msg(strstr(out, "usage: slurm-azureml userdata [-f FILE] "
			     "[--base64] TARGET [NODE]"), "%s", out);
}
END_TEST

int main(void)
{
	TCase *tc = tcase_create("admin");

	tcase_add_test(tc, usage_names_every_option);
	tcase_add_test(tc, usage_names_nothing_else);
	tcase_add_test(tc, bad_options_one_way);
	tcase_add_test(tc, userdata_command);
	return tu_run("admin", tc);
}

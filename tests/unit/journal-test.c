/*
 * journal-test.c - the VM lifecycle journal: its records' text (made,
 * parsed, refused), their folding into billed spans (repeats counted once,
 * names that come back, stops and starts, evictions), and its file in
 * StateDir (appends, a line cut by a crash, repair, rotation that carries
 * what is alive, reading from a time on).
 */
#include "config.h"

#include <check.h>
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "journal.h"
#include "state.h"
#include "testutil.h"

static char dir[PATH_MAX];
static azml_conf_t conf;

static void _setup(void)
{
	char err[512];

	snprintf(dir, sizeof(dir), "/tmp/azml-journal-test.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	memset(&conf, 0, sizeof(conf));
	conf.state_dir = dir;
	ck_assert_msg(azml_state_init(&conf, err, sizeof(err)) == 0, "%s", err);
	azml_state_journal_rotate_at(0);
}

static void _teardown(void)
{
	char cmd[PATH_MAX + 16];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd))
		fprintf(stderr, "couldn't remove %s\n", dir);
}

static azml_jrec_t _rec(azml_jkind_t k, long at, const char *vm, const char *id)
{
	azml_jrec_t r;

	ck_assert_int_eq(azml_jrec_make(&r, k, at, vm, id, vm, "cpu",
					"Standard_D4s_v3", false, NULL), 0);
	return r;
}

START_TEST(record_text)
{
	azml_jrec_t r, back;
	char line[AZML_JLINE];
	size_t len;

	ck_assert_int_eq(azml_jrec_make(&r, AZML_J_CREATED, 1796000000, "cpu-1",
		"0f8fad5b-d9cb-469f-a165-70867728950e", "cpu-1", "cpu",
		"Standard_D4s_v3", true, "2"), 0);
	len = azml_jrec_format(&r, line, sizeof(line));
	ck_assert_str_eq(line, "1796000000 created vm=cpu-1 "
			 "id=0f8fad5b-d9cb-469f-a165-70867728950e node=cpu-1 "
			 "target=cpu size=Standard_D4s_v3 prio=spot zone=2\n");
	ck_assert_uint_eq(len, strlen(line));
	line[len - 1] = '\0';
	ck_assert_int_eq(azml_jrec_parse(line, &back), 0);
	ck_assert_int_eq(back.at, 1796000000);
	ck_assert_int_eq(back.kind, AZML_J_CREATED);
	ck_assert_str_eq(back.id, r.id);
	ck_assert_str_eq(back.prio, "spot");
	ck_assert_str_eq(back.zone, "2");
	/* unknown fields are "-" */
	ck_assert_int_eq(azml_jrec_make(&r, AZML_J_DELETED, 5, "x", NULL, "",
					NULL, NULL, false, NULL), 0);
	azml_jrec_format(&r, line, sizeof(line));
	ck_assert_str_eq(line, "5 deleted vm=x id=- node=- target=- size=- "
			 "prio=dedicated zone=-\n");
	/* what is not a name is refused, and R stays as it was */
	ck_assert_int_ne(azml_jrec_make(&r, AZML_J_CREATED, 5, "a b", NULL,
					NULL, NULL, NULL, false, NULL), 0);
	ck_assert_int_ne(azml_jrec_make(&r, AZML_J_CREATED, 5, "x", "../id",
					NULL, NULL, NULL, false, NULL), 0);
	ck_assert_int_ne(azml_jrec_make(&r, AZML_J_CREATED, 5, "x", NULL,
					"n\nm", NULL, NULL, false, NULL), 0);
	ck_assert_int_ne(azml_jrec_make(&r, AZML_J_CREATED, 0, "x", NULL,
					NULL, NULL, NULL, false, NULL), 0);
	ck_assert_str_eq(r.vm, "x");
	/* lines that are not records */
	{
		const char *bad[] = {
			"", "5", "5 created", "x created vm=a id=- node=- "
			"target=- size=- prio=dedicated zone=-",
			"5 made vm=a id=- node=- target=- size=- prio=dedicated zone=-",
			"5 created vm=a id=- node=- target=- size=- prio=cheap zone=-",
			"5 created vm=a id=- node=- target=- size=- prio=spot",
			"5 created vm=a id=- node=- target=- size=- prio=spot zone=- x=y",
			"5 created vm=a/b id=- node=- target=- size=- prio=spot zone=-",
			"5 created id=- vm=a node=- target=- size=- prio=spot zone=-",
			"5 created vm= id=- node=- target=- size=- prio=spot zone=-",
			"5 created vm=a  id=- node=- target=- size=- prio=spot zone=-",
			"-5 created vm=a id=- node=- target=- size=- prio=spot zone=-",
			"05 created vm=a id=- node=- target=- size=- prio=spot zone=-",
			"1234567890123 created vm=a id=- node=- target=- size=- "
			"prio=spot zone=-",
			"5 created vm=a id=- node=- target=- size=- prio=spot zone=1234",
		};

		for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
			ck_assert_msg(azml_jrec_parse(bad[i], &back) != 0,
				      "taken: '%s'", bad[i]);
	}
}
END_TEST

START_TEST(fold_lives)
{
	azml_jrec_t r[] = {
		/* a: created, registered, deallocated, started, deleted; its
		 * records out of order and some twice */
		_rec(AZML_J_DELETED, 1000, "a", "A"),
		_rec(AZML_J_CREATED, 100, "a", "A"),
		_rec(AZML_J_RUNNING, 130, "a", "A"),
		_rec(AZML_J_REGISTERED, 160, "a", "A"),
		_rec(AZML_J_CREATED, 100, "a", "A"),
		_rec(AZML_J_DEALLOCATED, 400, "a", "A"),
		_rec(AZML_J_DEALLOCATED, 400, "a", "A"),
		_rec(AZML_J_STARTED, 700, "a", "A"),
		_rec(AZML_J_REGISTERED, 730, "a", "A"),
		_rec(AZML_J_DELETED, 1000, "a", "A"),
		/* b: the same name later, another VM (another id), still
		 * running at NOW */
		_rec(AZML_J_CREATED, 1200, "a", "B"),
		/* c: evicted; what follows its end is ignored */
		_rec(AZML_J_CREATED, 50, "c", "C"),
		_rec(AZML_J_EVICTED, 90, "c", "C"),
		_rec(AZML_J_STARTED, 95, "c", "C"),
		/* d: no id, the name comes back */
		_rec(AZML_J_CREATED, 10, "d", NULL),
		_rec(AZML_J_DELETED, 20, "d", NULL),
		_rec(AZML_J_CREATED, 30, "d", NULL),
		_rec(AZML_J_DELETED, 45, "d", NULL),
	};
	size_t n;
	azml_jvm_t *v = azml_journal_fold(r, sizeof(r) / sizeof(*r), 1500, &n);
	const azml_jvm_t *a = NULL, *b = NULL, *c = NULL, *d1 = NULL, *d2 = NULL;

	ck_assert_uint_eq(n, 5);
	for (size_t i = 0; i < n; i++) {
		if (!strcmp(v[i].first.id, "A"))
			a = &v[i];
		else if (!strcmp(v[i].first.id, "B"))
			b = &v[i];
		else if (!strcmp(v[i].first.id, "C"))
			c = &v[i];
		else if (v[i].first.at == 10)
			d1 = &v[i];
		else if (v[i].first.at == 30)
			d2 = &v[i];
	}
	ck_assert(a && b && c && d1 && d2);
	ck_assert_uint_eq(a->nspans, 3);
	ck_assert_int_eq(a->span[0].from, 100);
	ck_assert_int_eq(a->span[0].to, 400);
	ck_assert(a->span[0].running);
	ck_assert_int_eq(a->span[0].booted, 160);
	ck_assert_int_eq(a->span[1].from, 400);
	ck_assert_int_eq(a->span[1].to, 700);
	ck_assert(!a->span[1].running);
	ck_assert_int_eq(a->span[2].from, 700);
	ck_assert_int_eq(a->span[2].to, 1000);
	ck_assert_int_eq(a->span[2].booted, 730);
	ck_assert_int_eq(a->end, 1000);
	ck_assert_uint_eq(b->nspans, 1);
	ck_assert_int_eq(b->span[0].from, 1200);
	ck_assert_int_eq(b->span[0].to, 1500);
	ck_assert_int_eq(b->span[0].booted, 0);
	ck_assert_int_eq(b->end, 0);
	ck_assert(c->evicted);
	ck_assert_uint_eq(c->nspans, 1);
	ck_assert_int_eq(c->span[0].to, 90);
	ck_assert_int_eq(d1->span[0].to, 20);
	ck_assert_int_eq(d2->span[0].from, 30);
	ck_assert_int_eq(d2->span[0].to, 45);
	azml_journal_free(v, n);
}
END_TEST

static char *_current(void)
{
	char path[PATH_MAX + 32], *text = malloc(1 << 20);
	FILE *fp;
	size_t len;

	snprintf(path, sizeof(path), "%s/journal/current", dir);
	fp = fopen(path, "r");
	ck_assert_ptr_nonnull(fp);
	len = fread(text, 1, (1 << 20) - 1, fp);
	text[len] = '\0';
	fclose(fp);
	return text;
}

START_TEST(file_cut_and_repaired)
{
	azml_jrec_t r[2] = { _rec(AZML_J_CREATED, 100, "a", "A"),
			     _rec(AZML_J_REGISTERED, 150, "a", "A") }, *got;
	char path[PATH_MAX + 32], *text;
	size_t n, bad;
	struct stat st;
	int fd;

	ck_assert_int_eq(azml_state_journal_add(&conf, r, 2), 0);
	snprintf(path, sizeof(path), "%s/journal/current", dir);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0600);
	/* a program dies in the middle of its line */
	fd = open(path, O_WRONLY | O_APPEND);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, "400 deallocated vm=a id=A no", 28), 28);
	close(fd);
	ck_assert_int_eq(azml_state_journal_read(&conf, 0, &got, &n, &bad), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_uint_eq(bad, 1);
	free(got);
	/* the next program's line is not glued to it */
	r[0] = _rec(AZML_J_DELETED, 500, "a", "A");
	ck_assert_int_eq(azml_state_journal_add(&conf, r, 1), 0);
	ck_assert_int_eq(azml_state_journal_read(&conf, 0, &got, &n, &bad), 0);
	ck_assert_uint_eq(n, 3);
	ck_assert_uint_eq(bad, 1);
	ck_assert_int_eq(got[2].kind, AZML_J_DELETED);
	free(got);
	/* repair: a cut at the end goes, a whole file is left as it is */
	fd = open(path, O_WRONLY | O_APPEND);
	ck_assert_int_eq(write(fd, "600 crea", 8), 8);
	close(fd);
	ck_assert_int_eq(azml_state_journal_repair(&conf), 8);
	ck_assert_int_eq(azml_state_journal_repair(&conf), 0);
	text = _current();
	ck_assert_ptr_null(strstr(text, "600 crea"));
	ck_assert_int_eq(text[strlen(text) - 1], '\n');
	free(text);
	/* a symbolic link in its place is refused, and written through never */
	unlink(path);
	ck_assert_int_eq(symlink("/tmp/azml-journal-victim", path), 0);
	ck_assert_int_ne(azml_state_journal_add(&conf, r, 1), 0);
	ck_assert_int_ne(access("/tmp/azml-journal-victim", F_OK), 0);
}
END_TEST

START_TEST(a_delete_knows_the_name_only)
{
	azml_jrec_t r[2], *got;
	size_t n, bad;

	ck_assert_int_eq(azml_jrec_make(&r[0], AZML_J_CREATED, 100, "ss_1a",
		"0f8fad5b-d9cb-469f-a165-70867728950e", "ss-1", "ss",
		"Standard_D2s_v3", true, "1"), 0);
	ck_assert_int_eq(azml_state_journal_add(&conf, r, 1), 0);
	/* reconcile's delete, and one of a VM the journal never knew */
	ck_assert_int_eq(azml_jrec_make(&r[0], AZML_J_DELETED, 200, "ss_1a",
		NULL, NULL, NULL, NULL, false, NULL), 0);
	ck_assert_int_eq(azml_jrec_make(&r[1], AZML_J_DELETED, 200, "other",
		NULL, NULL, NULL, NULL, false, NULL), 0);
	ck_assert_int_eq(azml_state_journal_add(&conf, r, 2), 0);
	ck_assert_int_eq(azml_state_journal_read(&conf, 0, &got, &n, &bad), 0);
	ck_assert_uint_eq(n, 3);
	ck_assert_str_eq(got[1].id, "0f8fad5b-d9cb-469f-a165-70867728950e");
	ck_assert_str_eq(got[1].node, "ss-1");
	ck_assert_str_eq(got[1].size, "Standard_D2s_v3");
	ck_assert_str_eq(got[1].prio, "spot");
	ck_assert_str_eq(got[1].zone, "1");
	ck_assert_str_eq(got[2].id, "-");
	free(got);
}
END_TEST

static size_t _rotated(void)
{
	char path[PATH_MAX + 32];
	DIR *d;
	struct dirent *e;
	size_t n = 0;

	snprintf(path, sizeof(path), "%s/journal", dir);
	d = opendir(path);
	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d)))
		if (e->d_name[0] != '.' && strcmp(e->d_name, "current"))
			n++;
	closedir(d);
	return n;
}

START_TEST(rotation_carries_the_living)
{
	azml_jrec_t r[4], *got;
	size_t n, bad, nvm;
	azml_jvm_t *v;
	long now = time(NULL);
	char *text;

	azml_state_journal_rotate_at(400);
	/* a: alive, stopped once; b: gone before the rotation */
	r[0] = _rec(AZML_J_CREATED, now - 900, "a", "A");
	r[1] = _rec(AZML_J_REGISTERED, now - 880, "a", "A");
	r[2] = _rec(AZML_J_DEALLOCATED, now - 800, "a", "A");
	r[3] = _rec(AZML_J_CREATED, now - 700, "b", "B");
	ck_assert_int_eq(azml_state_journal_add(&conf, r, 4), 0);
	r[0] = _rec(AZML_J_DELETED, now - 600, "b", "B");
	ck_assert_int_eq(azml_state_journal_add(&conf, r, 1), 0);
	ck_assert_uint_eq(_rotated(), 0);
	/* over 400 bytes: the next add rotates first */
	r[0] = _rec(AZML_J_STARTED, now - 100, "a", "A");
	ck_assert_int_eq(azml_state_journal_add(&conf, r, 1), 0);
	ck_assert_uint_eq(_rotated(), 1);
	text = _current();
	/* the new file begins with a's life, not b's */
	ck_assert_msg(strstr(text, " created vm=a id=A "), "%s", text);
	ck_assert_msg(strstr(text, " registered vm=a id=A "), "%s", text);
	ck_assert_msg(strstr(text, " deallocated vm=a id=A "), "%s", text);
	ck_assert_msg(strstr(text, " started vm=a id=A "), "%s", text);
	ck_assert_ptr_null(strstr(text, "vm=b"));
	free(text);
	/* read from after the rotation: the current file alone tells a's
	 * whole life */
	ck_assert_int_eq(azml_state_journal_read(&conf, now + 5, &got, &n, &bad), 0);
	ck_assert_uint_eq(bad, 0);
	v = azml_journal_fold(got, n, now, &nvm);
	ck_assert_uint_eq(nvm, 1);
	ck_assert_uint_eq(v[0].nspans, 3);
	ck_assert_int_eq(v[0].span[0].from, now - 900);
	ck_assert_int_eq(v[0].span[0].booted, now - 880);
	ck_assert_int_eq(v[0].span[1].to, now - 100);
	azml_journal_free(v, nvm);
	free(got);
	/* read from before: both files, and a's records (twice over) once */
	ck_assert_int_eq(azml_state_journal_read(&conf, now - 3600, &got, &n, &bad), 0);
	v = azml_journal_fold(got, n, now, &nvm);
	ck_assert_uint_eq(nvm, 2);
	for (size_t i = 0; i < nvm; i++)
		if (!strcmp(v[i].first.id, "A"))
			ck_assert_uint_eq(v[i].nspans, 3);
		else
			ck_assert_int_eq(v[i].end, now - 600);
	azml_journal_free(v, nvm);
	free(got);
}
END_TEST

int main(void)
{
	TCase *tc = tcase_create("journal");

	tcase_add_checked_fixture(tc, _setup, _teardown);
	tcase_add_test(tc, record_text);
	tcase_add_test(tc, fold_lives);
	tcase_add_test(tc, file_cut_and_repaired);
	tcase_add_test(tc, a_delete_knows_the_name_only);
	tcase_add_test(tc, rotation_carries_the_living);
	return tu_run("journal", tc);
}

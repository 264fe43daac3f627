/*
 * state-test.c - StateDir: intents (one operation a node, the last request
 * wins, takeover of dead or overstaying programs), failures, holds and
 * attached records, and the files' safety (names, owners, errors).
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "state.h"
#include "testutil.h"

static char dir[PATH_MAX];
static azml_conf_t conf;

static void _setup(void)
{
	char err[512];

	snprintf(dir, sizeof(dir), "/tmp/azml-state-test.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	memset(&conf, 0, sizeof(conf));
	conf.state_dir = dir;
	ck_assert_msg(azml_state_init(&conf, err, sizeof(err)) == 0, "%s", err);
}

static void _teardown(void)
{
	char cmd[PATH_MAX + 16];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd))
		fprintf(stderr, "couldn't remove %s\n", dir);
}

/* A stand-in for another slurm-azureml program: a child that sleeps until
 * it is killed.  Its pid is what the test claims nodes for. */
static pid_t _program(void)
{
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		for (;;)
			pause();
	}
	return pid;
}

static void _kill(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

static void _write_file(const char *rel, const char *text)
{
	char path[PATH_MAX + 64];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	fp = fopen(path, "w");
	ck_assert_ptr_nonnull(fp);
	fputs(text, fp);
	fclose(fp);
}

START_TEST(test_begin_end)
{
	pid_t a = _program();
	azml_turn_info_t info;
	char err[512];

	ck_assert_int_eq(azml_state_intent_begin(&conf, "cpu-1", AZML_OP_CREATE,
						 a, &info, err, sizeof(err)),
			 AZML_TURN_RUN);
	ck_assert_int_eq(info.op, AZML_OP_NONE);	/* nothing taken over */
	ck_assert(azml_state_intent_active(&conf, "cpu-1"));
	ck_assert(!azml_state_intent_active(&conf, "cpu-2"));
	ck_assert_int_eq(azml_state_intent_end(&conf, "cpu-1", AZML_OP_CREATE, a,
					       true, NULL, err, sizeof(err)), 0);
	ck_assert(!azml_state_intent_active(&conf, "cpu-1"));
	_kill(a);
}
END_TEST

/* The same operation twice: the second waits, then joins the first's
 * outcome instead of doing it again. */
START_TEST(test_same_op_joins)
{
	pid_t a = _program(), b = _program();
	azml_turn_info_t info;
	char err[512];

	ck_assert_int_eq(azml_state_intent_begin(&conf, "n1", AZML_OP_CREATE, a,
						 &info, err, sizeof(err)),
			 AZML_TURN_RUN);
	ck_assert_int_eq(azml_state_intent_begin(&conf, "n1", AZML_OP_CREATE, b,
						 &info, err, sizeof(err)),
			 AZML_TURN_WAIT);
	ck_assert_int_eq(info.op, AZML_OP_CREATE);
	ck_assert_int_eq(info.pid, a);
	ck_assert_int_eq(azml_state_intent_poll(&conf, "n1", AZML_OP_CREATE, b,
						&info, err, sizeof(err)),
			 AZML_TURN_WAIT);
	azml_state_intent_end(&conf, "n1", AZML_OP_CREATE, a, false,
			      "AllocationFailed", err, sizeof(err));
	ck_assert_int_eq(azml_state_intent_poll(&conf, "n1", AZML_OP_CREATE, b,
						&info, err, sizeof(err)),
			 AZML_TURN_JOINED);
	ck_assert(!info.ok);
	ck_assert_str_eq(info.code, "AllocationFailed");
	ck_assert(!azml_state_intent_active(&conf, "n1"));
	_kill(a);
	_kill(b);
}
END_TEST

/* delete (A) in flight; create (B) waits; delete (C) replaces B; B learns
 * it was replaced; C joins A's delete.  Then a create after a failed
 * delete is refused with the delete's code. */
START_TEST(test_last_request_wins)
{
	pid_t a = _program(), b = _program(), c = _program(), d = _program();
	azml_turn_info_t info;
	char err[512];

	ck_assert_int_eq(azml_state_intent_begin(&conf, "n1", AZML_OP_DELETE, a,
						 &info, err, sizeof(err)),
			 AZML_TURN_RUN);
	ck_assert_int_eq(azml_state_intent_begin(&conf, "n1", AZML_OP_CREATE, b,
						 &info, err, sizeof(err)),
			 AZML_TURN_WAIT);
	ck_assert_int_eq(azml_state_intent_begin(&conf, "n1", AZML_OP_DELETE, c,
						 &info, err, sizeof(err)),
			 AZML_TURN_WAIT);
	ck_assert_int_eq(azml_state_intent_poll(&conf, "n1", AZML_OP_CREATE, b,
						&info, err, sizeof(err)),
			 AZML_TURN_SUPERSEDED);
	ck_assert_int_eq(info.op, AZML_OP_DELETE);
	ck_assert_int_eq(info.pid, c);
	azml_state_intent_end(&conf, "n1", AZML_OP_DELETE, a, true, NULL, err,
			      sizeof(err));
	ck_assert_int_eq(azml_state_intent_poll(&conf, "n1", AZML_OP_DELETE, c,
						&info, err, sizeof(err)),
			 AZML_TURN_JOINED);
	ck_assert(info.ok);

	/* a create waiting on a delete that fails is refused with its code */
	ck_assert_int_eq(azml_state_intent_begin(&conf, "n2", AZML_OP_DELETE, a,
						 &info, err, sizeof(err)),
			 AZML_TURN_RUN);
	ck_assert_int_eq(azml_state_intent_begin(&conf, "n2", AZML_OP_CREATE, d,
						 &info, err, sizeof(err)),
			 AZML_TURN_WAIT);
	azml_state_intent_end(&conf, "n2", AZML_OP_DELETE, a, false,
			      "ScopeLocked", err, sizeof(err));
	ck_assert_int_eq(azml_state_intent_poll(&conf, "n2", AZML_OP_CREATE, d,
						&info, err, sizeof(err)),
			 AZML_TURN_FAILED);
	ck_assert_str_eq(info.code, "ScopeLocked");

	/* a create waiting on a delete that succeeds creates */
	ck_assert_int_eq(azml_state_intent_begin(&conf, "n3", AZML_OP_DELETE, a,
						 &info, err, sizeof(err)),
			 AZML_TURN_RUN);
	ck_assert_int_eq(azml_state_intent_begin(&conf, "n3", AZML_OP_CREATE, d,
						 &info, err, sizeof(err)),
			 AZML_TURN_WAIT);
	azml_state_intent_end(&conf, "n3", AZML_OP_DELETE, a, true, NULL, err,
			      sizeof(err));
	ck_assert_int_eq(azml_state_intent_poll(&conf, "n3", AZML_OP_CREATE, d,
						&info, err, sizeof(err)),
			 AZML_TURN_RUN);
	ck_assert(azml_state_intent_active(&conf, "n3"));
	_kill(a);
	_kill(b);
	_kill(c);
	_kill(d);
}
END_TEST

/* A program killed mid-operation: the next one takes over, and a create
 * after an interrupted delete finishes the delete first. */
START_TEST(test_takeover_after_kill)
{
	pid_t a = _program(), b = _program(), c = _program();
	azml_turn_info_t info;
	char err[512];

	ck_assert_int_eq(azml_state_intent_begin(&conf, "n1", AZML_OP_DELETE, a,
						 &info, err, sizeof(err)),
			 AZML_TURN_RUN);
	ck_assert_int_eq(azml_state_intent_begin(&conf, "n1", AZML_OP_CREATE, b,
						 &info, err, sizeof(err)),
			 AZML_TURN_WAIT);
	_kill(a);
	ck_assert_int_eq(azml_state_intent_poll(&conf, "n1", AZML_OP_CREATE, b,
						&info, err, sizeof(err)),
			 AZML_TURN_DELETE_FIRST);
	ck_assert_int_eq(info.op, AZML_OP_DELETE);
	/* b dies too, before it ends: c's create does the same */
	_kill(b);
	ck_assert(!azml_state_intent_active(&conf, "n1"));
	ck_assert_int_eq(azml_state_intent_begin(&conf, "n1", AZML_OP_CREATE, c,
						 &info, err, sizeof(err)),
			 AZML_TURN_RUN);	/* b's create was interrupted, not a delete */
	ck_assert_int_eq(info.op, AZML_OP_CREATE);
	_kill(c);
}
END_TEST

/* A pid that was reused names another process: its start time differs, so
 * the intent is not held by it.  An owner past its expiry is taken over. */
START_TEST(test_pid_reuse_and_expiry)
{
	azml_turn_info_t info;
	char err[512], text[256];
	pid_t a = _program();

	/* our own pid, with a start time that is not ours */
	snprintf(text, sizeof(text), "owner delete %ld 2 %ld %ld\n",
		 (long) getpid(), (long) time(NULL), (long) time(NULL) + 600);
	_write_file("intent/n1", text);
	ck_assert(!azml_state_intent_active(&conf, "n1"));
	ck_assert_int_eq(azml_state_intent_begin(&conf, "n1", AZML_OP_CREATE, a,
						 &info, err, sizeof(err)),
			 AZML_TURN_DELETE_FIRST);

	/* a live owner whose expiry has passed */
	ck_assert_int_eq(azml_state_intent_begin(&conf, "n2", AZML_OP_CREATE, a,
						 &info, err, sizeof(err)),
			 AZML_TURN_RUN);
	{
		char path[PATH_MAX + 32], buf[256], *p;
		FILE *fp;

		snprintf(path, sizeof(path), "%s/intent/n2", dir);
		fp = fopen(path, "r");
		ck_assert_ptr_nonnull(fp);
		ck_assert_ptr_nonnull(fgets(buf, sizeof(buf), fp));
		fclose(fp);
		/* "owner create PID START SINCE UNTIL": UNTIL into the past */
		p = strrchr(buf, ' ');
		ck_assert_ptr_nonnull(p);
		snprintf(p, sizeof(buf) - (p - buf), " %ld\n",
			 (long) time(NULL) - 1);
		_write_file("intent/n2", buf);
	}
	ck_assert(!azml_state_intent_active(&conf, "n2"));
	ck_assert_int_eq(azml_state_intent_begin(&conf, "n2", AZML_OP_DELETE,
						 getpid(), &info, err,
						 sizeof(err)), AZML_TURN_RUN);
	ck_assert_int_eq(info.op, AZML_OP_CREATE);	/* taken over */
	/* the overstaying owner ends late: not its node any more, and what
	 * it did is not recorded as the node's last outcome */
	ck_assert_int_eq(azml_state_intent_end(&conf, "n2", AZML_OP_CREATE, a,
					       true, NULL, err, sizeof(err)), 1);
	ck_assert(azml_state_intent_active(&conf, "n2"));
	ck_assert_int_eq(azml_state_intent_end(&conf, "n2", AZML_OP_DELETE,
					       getpid(), true, NULL, err,
					       sizeof(err)), 0);
	_kill(a);
}
END_TEST

/* A program killed but not reaped (a zombie) is dead. */
START_TEST(test_zombie_is_dead)
{
	pid_t z = fork();
	azml_turn_info_t info;
	char err[512];

	ck_assert_int_ge(z, 0);
	if (z == 0) {
		for (;;)
			pause();
	}
	ck_assert_int_eq(azml_state_intent_begin(&conf, "n1", AZML_OP_DELETE, z,
						 &info, err, sizeof(err)),
			 AZML_TURN_RUN);
	ck_assert(azml_state_intent_active(&conf, "n1"));
	kill(z, SIGKILL);
	usleep(200 * 1000);	/* not reaped yet: a zombie */
	ck_assert(!azml_state_intent_active(&conf, "n1"));
	ck_assert_int_eq(azml_state_intent_begin(&conf, "n1", AZML_OP_CREATE,
						 getpid(), &info, err,
						 sizeof(err)),
			 AZML_TURN_DELETE_FIRST);
	waitpid(z, NULL, 0);
}
END_TEST

/* A folder of StateDir replaced by a symbolic link is refused, and root
 * gives away nothing through it. */
START_TEST(test_symlinks_refused)
{
	char err[512], path[PATH_MAX + 64], victim[PATH_MAX + 64];
	struct stat st;

	snprintf(victim, sizeof(victim), "%s/victim", dir);
	ck_assert_int_eq(mkdir(victim, 0755), 0);
	_write_file("victim/secret", "x");
	snprintf(path, sizeof(path), "%s/intent", dir);
	ck_assert_int_eq(rmdir(path), 0);
	ck_assert_int_eq(symlink(victim, path), 0);
	if (geteuid() == 0)
		ck_assert_int_eq(chown(dir, 65534, 65534), 0);
	ck_assert_int_eq(azml_state_init(&conf, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "symbolic link"));
	ck_assert_int_eq(azml_state_intent_begin(&conf, "n1", AZML_OP_CREATE,
						 getpid(), NULL, err,
						 sizeof(err)), AZML_TURN_ERROR);
	snprintf(path, sizeof(path), "%s/victim/secret", dir);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_uint_eq(st.st_uid, geteuid());	/* not given away */
	snprintf(path, sizeof(path), "%s/victim/n1", dir);
	ck_assert_int_ne(stat(path, &st), 0);	/* nothing written there */
}
END_TEST

/* Many programs asking for one node at once: exactly one runs. */
START_TEST(test_race)
{
	enum { N = 12, TRIALS = 20 };

	for (int trial = 0; trial < TRIALS; trial++) {
		int go[2], res[2], runs = 0, waits = 0;
		pid_t kids[N];
		char node[32], c = 0;

		snprintf(node, sizeof(node), "race-%d", trial);
		ck_assert_int_eq(pipe(go), 0);
		ck_assert_int_eq(pipe(res), 0);
		for (int i = 0; i < N; i++) {
			kids[i] = fork();
			ck_assert_int_ge(kids[i], 0);
			if (kids[i] == 0) {
				char err[512], r, x;

				close(go[1]);
				if (read(go[0], &x, 1) < 0)
					_exit(1);
				r = (char) azml_state_intent_begin(&conf, node,
					AZML_OP_CREATE, getpid(), NULL, err,
					sizeof(err));
				if (write(res[1], &r, 1) != 1)
					_exit(1);
				for (;;)
					pause();	/* stay alive: a live owner */
			}
		}
		close(go[0]);
		close(go[1]);	/* EOF: every child goes at once */
		for (int i = 0; i < N; i++) {
			ck_assert_int_eq(read(res[0], &c, 1), 1);
			runs += c == AZML_TURN_RUN;
			waits += c == AZML_TURN_WAIT;
		}
		for (int i = 0; i < N; i++)
			_kill(kids[i]);
		close(res[0]);
		close(res[1]);
		ck_assert_msg(runs == 1 && waits == N - 1,
			      "trial %d: %d ran, %d waited", trial, runs, waits);
	}
}
END_TEST

/* Names never leave StateDir; unwritable state is an error, not "busy". */
/* Scale sets: pairings kept whole, bad lines and bad set names refused. */
static int _pairs_add(void *arg, azml_pair_t **p, size_t *n)
{
	const char *const *add = arg;
	azml_pair_t *more;

	for (int i = 0; add[i]; i += 2) {
		more = realloc(*p, (*n + 1) * sizeof(**p));
		ck_assert_ptr_nonnull(more);
		*p = more;
		memset(&(*p)[*n], 0, sizeof(**p));
		snprintf((*p)[*n].vm, sizeof((*p)[*n].vm), "%s", add[i]);
		snprintf((*p)[*n].node, sizeof((*p)[*n].node), "%s", add[i + 1]);
		snprintf((*p)[*n].ip, sizeof((*p)[*n].ip), "10.0.0.%d", i + 4);
		(*n)++;
	}
	return 1;
}

START_TEST(test_scale_set_pairs)
{
	const char *add[] = { "t-ss_0a1b2c3d", "ss-1", "t-ss_44444444", "ss-2",
			      "bad vm", "ss-3", "t-ss_55555555", "../x", NULL };
	azml_pair_t p;

	ck_assert_int_eq(azml_state_pairs(&conf, "t-ss", _pairs_add, add), 0);
	ck_assert_int_eq(azml_state_pair_get(&conf, "t-ss", "ss-2", &p), 1);
	ck_assert_str_eq(p.vm, "t-ss_44444444");
	ck_assert_str_eq(p.ip, "10.0.0.6");
	ck_assert_str_eq(p.computer, "t-ss_44444444");	/* none given: the VM */
	/* what is not a pairing is never written */
	ck_assert_int_eq(azml_state_pair_get(&conf, "t-ss", "ss-3", &p), 0);
	ck_assert_int_eq(azml_state_pair_get(&conf, "t-ss", "../x", &p), 0);
	ck_assert_int_eq(azml_state_pair_drop(&conf, "t-ss", "ss-1"), 0);
	ck_assert_int_eq(azml_state_pair_get(&conf, "t-ss", "ss-1", &p), 0);
	ck_assert_int_eq(azml_state_pair_get(&conf, "t-ss", "ss-2", &p), 1);
	/* a hand-edited line that is not one is skipped, the rest kept */
	_write_file("sets/t-ss", "t-ss_44444444 ss-2 h 10.0.0.6 1\n"
		    "garbage\nt-ss_1 ss-9 h 10.0.0.7; 1\n");
	ck_assert_int_eq(azml_state_pair_get(&conf, "t-ss", "ss-2", &p), 1);
	ck_assert_int_eq(azml_state_pair_get(&conf, "t-ss", "ss-9", &p), 0);
	/* set names never leave sets/ */
	ck_assert_int_eq(azml_state_pair_get(&conf, "../intent", "ss-2", &p), -1);
	ck_assert_int_eq(azml_state_pair_get(&conf, "..", "ss-2", &p), -1);
	/* a pairing that could not be written back says so first: a
	 * computerName Azure sent that is no host name */
	{
		azml_pair_t q = { .vm = "t-ss_1a2b3c4d", .node = "ss-3",
				  .computer = "ss-abc123", .since = 1 };

		ck_assert(azml_state_pair_ok(&q));
		snprintf(q.computer, sizeof(q.computer), "ss x");
		ck_assert(!azml_state_pair_ok(&q));
		snprintf(q.computer, sizeof(q.computer), "../etc");
		ck_assert(!azml_state_pair_ok(&q));
		snprintf(q.computer, sizeof(q.computer), "ss-\x1b[2J");
		ck_assert(!azml_state_pair_ok(&q));
		q.computer[0] = '\0';	/* none: the VM's name stands */
		ck_assert(azml_state_pair_ok(&q));
	}
	/* the last pairing gone: the file goes */
	ck_assert_int_eq(azml_state_pair_drop(&conf, "t-ss", "ss-2"), 0);
	ck_assert_int_eq(azml_state_pair_get(&conf, "t-ss", "ss-2", &p), 0);
}
END_TEST

START_TEST(test_bad_names_and_errors)
{
	char err[512], path[PATH_MAX + 64];
	cJSON *rep = cJSON_Parse("{\"address\":\"10.0.0.4\"}");
	struct stat st;

	ck_assert_int_eq(azml_state_intent_begin(&conf, "../victim",
						 AZML_OP_CREATE, getpid(), NULL,
						 err, sizeof(err)),
			 AZML_TURN_ERROR);
	ck_assert_ptr_nonnull(strstr(err, "not a node name"));
	ck_assert_int_eq(azml_state_attached_save(&conf, "../../victim", rep,
						  err, sizeof(err)), -1);
	ck_assert_int_eq(azml_state_failure_add(&conf, "../x", "Code"), -1);
	snprintf(path, sizeof(path), "%s/victim", dir);
	ck_assert_int_ne(stat(path, &st), 0);
	snprintf(path, sizeof(path), "%s/../victim.json", dir);
	ck_assert_int_ne(stat(path, &st), 0);

	/* intent/ is not a folder: every begin is an error naming it */
	snprintf(path, sizeof(path), "%s/intent", dir);
	ck_assert_int_eq(rmdir(path), 0);
	_write_file("intent", "x");
	ck_assert_int_eq(azml_state_intent_begin(&conf, "n1", AZML_OP_CREATE,
						 getpid(), NULL, err,
						 sizeof(err)), AZML_TURN_ERROR);
	ck_assert_ptr_nonnull(strstr(err, "/intent"));
	ck_assert_int_eq(azml_state_init(&conf, err, sizeof(err)), -1);
	cJSON_Delete(rep);
}
END_TEST

/* Run as root, StateDir's files belong to its owner (SlurmUser). */
START_TEST(test_root_gives_files_to_owner)
{
	char err[512], path[PATH_MAX + 64];
	struct stat st;
	const uid_t nobody = 65534;

	if (geteuid() != 0)
		return;	/* only root can give files away */
	ck_assert_int_eq(chown(dir, nobody, nobody), 0);
	ck_assert_int_eq(azml_state_init(&conf, err, sizeof(err)), 0);
	ck_assert_int_eq(azml_state_intent_begin(&conf, "n1", AZML_OP_CREATE,
						 getpid(), NULL, err,
						 sizeof(err)), AZML_TURN_RUN);
	ck_assert_int_eq(azml_state_failure_add(&conf, "n1", "X"), 1);
	snprintf(path, sizeof(path), "%s/intent/n1", dir);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_uint_eq(st.st_uid, nobody);
	ck_assert_uint_eq(st.st_mode & 0777, 0600);
	snprintf(path, sizeof(path), "%s/failures/n1", dir);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_uint_eq(st.st_uid, nobody);
	snprintf(path, sizeof(path), "%s/intent", dir);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_uint_eq(st.st_uid, nobody);	/* made by root earlier: given */
}
END_TEST

static int seen;
static void _each(void *arg, const char *node, const cJSON *rep)
{
	const char *addr = cJSON_GetStringValue(cJSON_GetObjectItem(rep,
								  "address"));

	if (!strcmp(node, "lab-1"))
		ck_assert_str_eq(addr, "10.0.0.4");
	else
		ck_assert_ptr_null(rep);	/* not a report */
	seen++;
}

START_TEST(test_failures_holds_attached)
{
	char err[512], reason[400];
	cJSON *rep = cJSON_Parse("{\"address\":\"10.0.0.4\"}");

	ck_assert_int_eq(azml_state_failure_age(&conf, "n1"), -1);
	ck_assert_int_eq(azml_state_failure_add(&conf, "n1", "QuotaExceeded"), 1);
	ck_assert_int_eq(azml_state_failure_add(&conf, "n1", "QuotaExceeded"), 2);
	ck_assert_int_le(azml_state_failure_age(&conf, "n1"), 1);
	azml_state_failure_clear(&conf, "n1");
	ck_assert_int_eq(azml_state_failure_add(&conf, "n1", "X"), 1);

	azml_state_held_reason(reason, sizeof(reason), 3, "AllocationFailed",
			       "no capacity");
	ck_assert(azml_state_is_held(reason));
	ck_assert(!azml_state_is_held("azureml: AllocationFailed: x"));
	ck_assert(!azml_state_is_held(NULL));

	ck_assert_int_eq(azml_state_attached_save(&conf, "lab-1", rep, err,
						  sizeof(err)), 0);
	_write_file("attached/lab-2.json", "not json");
	seen = 0;
	azml_state_attached_each(&conf, _each, NULL);
	ck_assert_int_eq(seen, 2);
	azml_state_attached_remove(&conf, "lab-1");
	azml_state_attached_remove(&conf, "lab-2");
	seen = 0;
	azml_state_attached_each(&conf, _each, NULL);
	ck_assert_int_eq(seen, 0);
	cJSON_Delete(rep);
}
END_TEST

/* Rewrite TARGET's hold record as CONTENT (a hold moved in time). */
static void _hold_file(const char *target, const char *content)
{
	char path[PATH_MAX + 64];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/holds/%s", dir, target);
	ck_assert_ptr_nonnull(fp = fopen(path, "w"));
	fputs(content, fp);
	fclose(fp);
}

/* A capacity hold: its length doubles per outage since the last good
 * create, up to an hour; one in force is joined, not doubled; lifted holds
 * are remembered; a good create starts over. */
START_TEST(test_capacity_holds)
{
	azml_target_t t = { .name = "gpu-a", .capacity_backoff = 600 };
	azml_target_t big = { .name = "big", .capacity_backoff = 7200 };
	azml_target_t bad = { .name = "../x", .capacity_backoff = 10 };
	azml_hold_t h, g;
	char reason[256], rec[128];
	long now = time(NULL);

	ck_assert(azml_capacity_code("AllocationFailed"));
	ck_assert(azml_capacity_code("ZonalAllocationFailed"));
	ck_assert(azml_capacity_code("OverconstrainedZonalAllocationRequest"));
	ck_assert(!azml_capacity_code("QuotaExceeded"));
	ck_assert(!azml_capacity_code("allocationfailed"));
	ck_assert(!azml_capacity_code(NULL));

	ck_assert_int_eq(azml_state_hold_get(&conf, &t, &h), 0);
	ck_assert_int_eq(azml_state_hold_add(&conf, &t, "AllocationFailed", &h), 0);
	ck_assert_int_eq(h.level, 1);
	ck_assert(h.until - now >= 600 && h.until - now <= 602);
	ck_assert_int_eq(azml_state_hold_get(&conf, &t, &g), 1);
	ck_assert_str_eq(g.code, "AllocationFailed");
	/* the same outage, seen by another node: joined, not doubled */
	ck_assert_int_eq(azml_state_hold_add(&conf, &t, "SkuNotAvailable", &h), 0);
	ck_assert_int_eq(h.level, 1);
	ck_assert_str_eq(h.code, "AllocationFailed");
	azml_state_hold_reason(reason, sizeof(reason), &h);
	ck_assert_msg(!strncmp(reason, "azureml: capacity: AllocationFailed; "
			       "retry after ", 49) && strlen(reason) == 57,
		      "%s", reason);
	ck_assert(azml_state_is_capacity_reason(reason));
	ck_assert(!azml_state_is_capacity_reason("azureml: QuotaExceeded: x"));

	/* not over yet: lifting leaves it */
	ck_assert_int_eq(azml_state_hold_lifted(&conf, &t), 0);
	ck_assert_int_eq(azml_state_hold_get(&conf, &t, &g), 1);
	/* over, then lifted */
	snprintf(rec, sizeof(rec), "AllocationFailed %ld 1 %ld 0\n", now - 1,
		 now - 601);
	_hold_file("gpu-a", rec);
	ck_assert_int_eq(azml_state_hold_get(&conf, &t, &g), 0);
	ck_assert_int_eq(g.level, 1);
	ck_assert(!g.lifted);
	ck_assert_int_eq(azml_state_hold_lifted(&conf, &t), 0);
	ck_assert_int_eq(azml_state_hold_get(&conf, &t, &g), 0);
	ck_assert(g.lifted);
	/* the next outage doubles, and the next, up to an hour */
	ck_assert_int_eq(azml_state_hold_add(&conf, &t, "ZonalAllocationFailed", &h), 0);
	ck_assert_int_eq(h.level, 2);
	ck_assert_int_eq(h.until - h.since, 1200);
	for (int i = 0; i < 5; i++) {
		snprintf(rec, sizeof(rec), "X %ld %d %ld 1\n", now - 1, h.level,
			 now - 2);
		_hold_file("gpu-a", rec);
		ck_assert_int_eq(azml_state_hold_add(&conf, &t, "AllocationFailed", &h), 0);
	}
	ck_assert_int_eq(h.level, 7);
	ck_assert_int_eq(h.until - h.since, 3600);
	/* a good create (another node of the target) during the hold: the
	 * hold stays, its nodes are still to be let go; the doubling starts
	 * over */
	azml_state_hold_clear(&conf, &t);
	ck_assert_int_eq(azml_state_hold_get(&conf, &t, &g), 1);
	ck_assert_int_eq(g.level, 0);
	/* over but not let go: still recorded, for the lift */
	snprintf(rec, sizeof(rec), "AllocationFailed %ld 0 %ld 0\n", now - 1,
		 now - 601);
	_hold_file("gpu-a", rec);
	azml_state_hold_clear(&conf, &t);
	ck_assert_int_eq(azml_state_hold_get(&conf, &t, &g), 0);
	ck_assert(g.since > 0 && !g.lifted);
	ck_assert_int_eq(azml_state_hold_add(&conf, &t, "AllocationFailed", &h), 0);
	ck_assert_int_eq(h.level, 1);
	/* let go, then a good create: forgotten */
	snprintf(rec, sizeof(rec), "AllocationFailed %ld 3 %ld 1\n", now - 1,
		 now - 601);
	_hold_file("gpu-a", rec);
	azml_state_hold_clear(&conf, &t);
	ck_assert_int_eq(azml_state_hold_get(&conf, &t, &g), 0);
	ck_assert_int_eq(g.since, 0);
	ck_assert_int_eq(azml_state_hold_add(&conf, &t, "AllocationFailed", &h), 0);
	ck_assert_int_eq(h.level, 1);
	/* a CapacityBackoff over an hour is its own ceiling */
	ck_assert_int_eq(azml_state_hold_add(&conf, &big, "AllocationFailed", &h), 0);
	ck_assert_int_eq(h.until - h.since, 7200);
	/* a record that is not one is an error, never a hold */
	_hold_file("big", "garbage\n");
	ck_assert_int_eq(azml_state_hold_get(&conf, &big, &g), -1);
	/* names are StateDir's: no path */
	ck_assert_int_eq(azml_state_hold_add(&conf, &bad, "AllocationFailed", &h), -1);
}
END_TEST

typedef struct {
	int calls;
	long seen_current;
	long take;
} usage_probe_t;

static void _probe(void *arg, azml_usage_t *u, size_t n)
{
	usage_probe_t *p = arg;

	p->calls++;
	for (size_t i = 0; i < n; i++)
		if (!strcmp(u[i].name, "cores")) {
			p->seen_current = u[i].current;
			u[i].current += p->take;
		}
}

static void _usages_file(const char *content)
{
	char path[PATH_MAX + 64];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/quota/usages", dir);
	ck_assert_ptr_nonnull(fp = fopen(path, "w"));
	fputs(content, fp);
	fclose(fp);
}

/* The usages cache: fresh answers are kept with their time, what a resume
 * takes stays taken, and the cache never gets younger by being used. */
START_TEST(test_usages_cache)
{
	azml_usage_t fresh[2] = { { "cores", 10, 100 },
				  { "standardDSv3Family", 4, 20 } };
	usage_probe_t p = { 0 };
	char rec[128];

	/* nothing cached: FN is not called */
	ck_assert_int_eq(azml_state_usages(&conf, 5, NULL, 0, _probe, &p), 1);
	ck_assert_int_eq(p.calls, 0);
	p.take = 6;
	ck_assert_int_eq(azml_state_usages(&conf, 5, fresh, 2, _probe, &p), 0);
	ck_assert_int_eq(p.seen_current, 10);
	p.take = 2;
	ck_assert_int_eq(azml_state_usages(&conf, 5, NULL, 0, _probe, &p), 0);
	ck_assert_int_eq(p.seen_current, 16);	/* the first resume's 6 */
	ck_assert_int_eq(p.calls, 2);
	/* older than MAX_AGE, from the future, or garbage: not used */
	snprintf(rec, sizeof(rec), "%ld\ncores 50 100\n", (long) time(NULL) - 10);
	_usages_file(rec);
	ck_assert_int_eq(azml_state_usages(&conf, 5, NULL, 0, _probe, &p), 1);
	snprintf(rec, sizeof(rec), "%ld\ncores 50 100\n", (long) time(NULL) + 100);
	_usages_file(rec);
	ck_assert_int_eq(azml_state_usages(&conf, 5, NULL, 0, _probe, &p), 1);
	snprintf(rec, sizeof(rec), "%ld\nno numbers here\n", (long) time(NULL));
	_usages_file(rec);
	ck_assert_int_eq(azml_state_usages(&conf, 5, NULL, 0, _probe, &p), 1);
	ck_assert_int_eq(p.calls, 2);
	/* used within its time, it keeps its time: 3 s old stays 3 s old */
	snprintf(rec, sizeof(rec), "%ld\ncores 50 100\n", (long) time(NULL) - 3);
	_usages_file(rec);
	ck_assert_int_eq(azml_state_usages(&conf, 5, NULL, 0, _probe, &p), 0);
	ck_assert_int_eq(p.seen_current, 50);
	sleep(3);
	ck_assert_int_eq(azml_state_usages(&conf, 5, NULL, 0, _probe, &p), 1);
}
END_TEST

/* An unsafe StateDir (issue 25, item 1): another user's, or one that its
 * group or others may write, or below such a folder, is refused by init
 * and by every read and write; what was planted there is never used. */
START_TEST(test_unsafe_statedir_refused)
{
	char err[512], path[PATH_MAX + 128], parent[PATH_MAX + 64];
	azml_conf_t below = { 0 };
	azml_pair_t p;
	struct stat st;

	ck_assert_int_eq(chmod(dir, 0777), 0);
	/* a pairing another user planted, and a held node */
	_write_file("sets/t-ss", "t-ss_44444444 ss-2 h 10.0.0.6 1\n");
	ck_assert_int_eq(azml_state_init(&conf, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "StateDir ") && strstr(err, "is refused, "
		      "nothing done") && strstr(err, "writable by its group or "
		      "by others (mode 0777)") && strstr(err, "chmod go-w"),
		      "%s", err);
	ck_assert_int_eq(azml_state_pair_get(&conf, "t-ss", "ss-2", &p), -1);
	ck_assert_int_eq(azml_state_intent_begin(&conf, "n1", AZML_OP_CREATE,
						 getpid(), NULL, err,
						 sizeof(err)), AZML_TURN_ERROR);
	ck_assert_int_eq(azml_state_failure_add(&conf, "n1", "X"), -1);
	snprintf(path, sizeof(path), "%s/intent/n1", dir);
	ck_assert_int_ne(stat(path, &st), 0);	/* nothing written */
	snprintf(path, sizeof(path), "%s/failures/n1", dir);
	ck_assert_int_ne(stat(path, &st), 0);
	snprintf(path, sizeof(path), "%s/sets/t-ss", dir);
	ck_assert_int_eq(stat(path, &st), 0);	/* nor removed */

	/* mended: used again */
	ck_assert_int_eq(chmod(dir, 0700), 0);
	ck_assert_msg(azml_state_init(&conf, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(azml_state_pair_get(&conf, "t-ss", "ss-2", &p), 1);

	/* owned by a user who is neither root nor SlurmUser (nobody here) */
	if (geteuid() == 0) {
		ck_assert_int_eq(chown(dir, 12345, 12345), 0);
		ck_assert_int_eq(azml_state_init(&conf, err, sizeof(err)), -1);
		ck_assert_msg(strstr(err, "is owned by uid 12345, not by root "
				     "or SlurmUser"), "%s", err);
		ck_assert_int_eq(azml_state_pair_get(&conf, "t-ss", "ss-2", &p),
				 -1);
		ck_assert_int_eq(chown(dir, 0, 0), 0);
	}

	/* below a folder others may write (not sticky): refused, and not
	 * made; below a root-owned sticky one (/tmp): fine */
	snprintf(parent, sizeof(parent), "%s/open", dir);
	ck_assert_int_eq(mkdir(parent, 0777), 0);
	ck_assert_int_eq(chmod(parent, 0777), 0);
	snprintf(path, sizeof(path), "%s/state", parent);
	below.state_dir = path;
	ck_assert_int_eq(azml_state_init(&below, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "folder ") && strstr(err, "/open is writable "
		      "by its group or by others"), "%s", err);
	ck_assert_int_ne(stat(path, &st), 0);
	if (geteuid() == 0) {
		ck_assert_int_eq(chmod(parent, 01777), 0);
		ck_assert_int_eq(mkdir(path, 0700), 0);	/* no slurmctld */
		ck_assert_msg(azml_state_init(&below, err, sizeof(err)) == 0,
			      "%s", err);
		snprintf(path, sizeof(path), "%s/open/state/intent", dir);
		ck_assert_int_eq(stat(path, &st), 0);
	}
}
END_TEST

int main(void)
{
	TCase *tc = tcase_create("state");
	char slurm_conf[] = "/tmp/azml-state-test-slurm.conf.XXXXXX";
	int fd = mkstemp(slurm_conf), rc;

	/* SlurmUser: nobody (StateDir's owner in test_root_gives_...) */
	if (fd < 0 || write(fd, "SlurmUser=nobody\n", 17) != 17)
		return 1;
	close(fd);
	setenv("SLURM_CONF", slurm_conf, 1);

	tcase_add_checked_fixture(tc, _setup, _teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_begin_end);
	tcase_add_test(tc, test_same_op_joins);
	tcase_add_test(tc, test_last_request_wins);
	tcase_add_test(tc, test_takeover_after_kill);
	tcase_add_test(tc, test_pid_reuse_and_expiry);
	tcase_add_test(tc, test_race);
	tcase_add_test(tc, test_zombie_is_dead);
	tcase_add_test(tc, test_symlinks_refused);
	tcase_add_test(tc, test_bad_names_and_errors);
	tcase_add_test(tc, test_root_gives_files_to_owner);
	tcase_add_test(tc, test_failures_holds_attached);
	tcase_add_test(tc, test_capacity_holds);
	tcase_add_test(tc, test_usages_cache);
	tcase_add_test(tc, test_scale_set_pairs);
	tcase_add_test(tc, test_unsafe_statedir_refused);
	rc = tu_run("state", tc);
	unlink(slurm_conf);
	return rc;
}

/*
 * imds_filter.c - only root reaches IMDS on a cluster VM.
 *
 * Azure's IMDS answers every process of a VM, root or not: a job could ask
 * it for the VM's userData (which names the identity and the vault) and for
 * a Key Vault token of the node identity, read the munge key and forge
 * munge credentials.  node-init closes that before anything else asks IMDS
 * and before slurmd can start a job: a packet-filter rule rejects traffic
 * to the IMDS endpoint's address and port unless the socket's owner is
 * uid 0.
 *
 * nftables: a table of our own, "inet azureml", chain "imds" on the output
 * hook (policy accept), one rule per IMDS endpoint, tagged with the comment
 * "azureml-imds HOST:PORT":
 *   ip daddr HOST tcp dport PORT meta skuid != 0 reject with tcp reset
 * Where nft is missing, iptables: the same in OUTPUT with -m owner ! --uid-
 * owner 0 and -m comment.  Installing adds the rule only when one with the
 * same comment is not there (several VMs may share one network namespace:
 * the emulator's sandboxes do), under a lock, and never flushes anything;
 * removing deletes only the rules with our comment for that endpoint.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "http.h"
#include "node.h"

#define NFT_TABLE "azureml"
#define NFT_CHAIN "imds"
#define TOOL_TIMEOUT 20			/* s one nft/iptables run may take */
#define LOCK_WAIT 20			/* s for another VM's install */
#define LOCK_FILE "/run/slurm-azureml-imds-filter.lock"
#define LIST_MAX (256 * 1024)
#define REMOVE_MAX 64			/* rules removed at most per call */

typedef struct {
	const char *tool;	/* nft or iptables, a path */
	bool nft;
	char host[64];		/* dotted IPv4 */
	int port;
	char tag[96];		/* azureml-imds HOST:PORT */
} filter_t;

/* Run ARGV, at most TOOL_TIMEOUT s, its output (both streams) into OUT
 * (N bytes, NUL-terminated; NULL: dropped).  Returns the exit status, or
 * -1 when it could not be run or was killed. */
static int _tool(char *const argv[], char *out, size_t n)
{
	char drop[1];
	int st = azml_init_capture(argv, out ? out : drop,
				   out ? n : sizeof(drop), TOOL_TIMEOUT);

	if (st < 0 || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

/* The last line of OUT, for a message (in place). */
static const char *_last_line(char *out)
{
	char *e = out + strlen(out), *s;

	while (e > out && (e[-1] == '\n' || e[-1] == ' '))
		*--e = '\0';
	s = e;
	while (s > out && s[-1] != '\n')
		s--;
	for (char *q = s; *q; q++)
		if ((unsigned char) *q < 0x20)
			*q = ' ';
	return *s ? s : "no output";
}

/* Which tool: TOOL, else nft, else iptables from the usual places. */
static const char *_pick_tool(const char *tool)
{
	static const char *const cand[] = {
		"/usr/sbin/nft", "/sbin/nft", "/usr/bin/nft",
		"/usr/sbin/iptables", "/sbin/iptables", "/usr/bin/iptables",
	};

	if (tool && *tool)
		return tool;
	for (size_t i = 0; i < sizeof(cand) / sizeof(cand[0]); i++)
		if (access(cand[i], X_OK) == 0)
			return cand[i];
	return NULL;
}

static int _filter_init(filter_t *f, const char *imds, const char *tool,
			char *err, size_t n)
{
	azml_url_origin_t o;
	struct in_addr a;
	const char *base;
	char why[256];

	memset(f, 0, sizeof(*f));
	if (azml_http_url_origin(imds, &o, why, sizeof(why))) {
		snprintf(err, n, "IMDS endpoint: %s", why);
		return -1;
	}
	if (inet_pton(AF_INET, o.host, &a) != 1) {
		snprintf(err, n, "IMDS endpoint host '%.64s' is not an IPv4 "
			 "address (Azure's is 169.254.169.254): the packet "
			 "filter that keeps jobs from IMDS needs one", o.host);
		return -1;
	}
	inet_ntop(AF_INET, &a, f->host, sizeof(f->host));
	f->port = o.port;
	snprintf(f->tag, sizeof(f->tag), "azureml-imds %s:%d", f->host,
		 f->port);
	if (!(f->tool = _pick_tool(tool))) {
		snprintf(err, n, "neither nft (package nftables) nor iptables "
			 "is installed: jobs could ask IMDS for the node's "
			 "identity");
		return -1;
	}
	base = strrchr(f->tool, '/');
	base = base ? base + 1 : f->tool;
	f->nft = !strstr(base, "iptables");
	return 0;
}

/* A lock shared by every VM of this network namespace's node-inits, held
 * until the returned descriptor is closed; -1 (go on without) when it
 * cannot be had within LOCK_WAIT s. */
static int _lock(void)
{
	int fd = open(LOCK_FILE, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
		      0600);
	time_t end = time(NULL) + LOCK_WAIT;

	if (fd < 0)
		return -1;
	while (flock(fd, LOCK_EX | LOCK_NB)) {
		if (errno != EWOULDBLOCK && errno != EINTR) {
			close(fd);
			return -1;
		}
		if (time(NULL) > end) {
			close(fd);
			return -1;
		}
		usleep(50000);
	}
	return fd;
}

/* ---- nftables ---------------------------------------------------------- */

/* The chain's listing with handles, into OUT.  0, or -1 (no chain). */
static int _nft_list(const filter_t *f, char *out, size_t n)
{
	char *argv[] = { (char *) f->tool, "-a", "list", "chain", "inet",
			 NFT_TABLE, NFT_CHAIN, NULL };

	return _tool(argv, out, n) == 0 ? 0 : -1;
}

/* Whether LINE (up to its end) is our rule for F: the tag, quoted, and
 * the uid test. */
static bool _nft_ours(const filter_t *f, const char *line, size_t len)
{
	char q[128];
	const char *at;

	snprintf(q, sizeof(q), "comment \"%s\"", f->tag);
	at = memmem(line, len, q, strlen(q));
	return at && memmem(line, len, "skuid != 0", 10);
}

/* The handles of our rules for F in LIST, at most MAX.  Returns the count. */
static int _nft_handles(const filter_t *f, const char *list, long *h, int max)
{
	const char *s = list;
	int k = 0;

	while (*s && k < max) {
		const char *e = strchr(s, '\n');
		size_t len = e ? (size_t) (e - s) : strlen(s);
		const char *hp;

		if (_nft_ours(f, s, len) &&
		    (hp = memmem(s, len, "# handle ", 9))) {
			long v = strtol(hp + 9, NULL, 10);

			if (v > 0)
				h[k++] = v;
		}
		s += len + (e ? 1 : 0);
	}
	return k;
}

static int _nft_install(const filter_t *f, bool *added, char *err, size_t n)
{
	char *table[] = { (char *) f->tool, "add", "table", "inet", NFT_TABLE,
			  NULL };
	char *chain[] = { (char *) f->tool, "add", "chain", "inet", NFT_TABLE,
			  NFT_CHAIN, "{ type filter hook output priority 0 ; "
			  "policy accept ; }", NULL };
	char daddr[64], dport[16], tag[128], out[2048];
	char *rule[] = { (char *) f->tool, "add", "rule", "inet", NFT_TABLE,
			 NFT_CHAIN, "ip", "daddr", daddr, "tcp", "dport", dport,
			 "meta", "skuid", "!=", "0", "reject", "with", "tcp",
			 "reset", "comment", tag, NULL };
	char *list = malloc(LIST_MAX);
	long h[1];
	int rc = -1;

	if (!list) {
		snprintf(err, n, "out of memory");
		return -1;
	}
	snprintf(daddr, sizeof(daddr), "%s", f->host);
	snprintf(dport, sizeof(dport), "%d", f->port);
	snprintf(tag, sizeof(tag), "\"%s\"", f->tag);
	/* "add" of an existing table or chain changes nothing */
	if (_tool(table, out, sizeof(out)) ||
	    _tool(chain, out, sizeof(out))) {
		snprintf(err, n, "couldn't add nftables table inet %s: %s",
			 NFT_TABLE, _last_line(out));
		goto out;
	}
	if (_nft_list(f, list, LIST_MAX)) {
		snprintf(err, n, "couldn't list nftables chain inet %s %s: %s",
			 NFT_TABLE, NFT_CHAIN, _last_line(list));
		goto out;
	}
	if (_nft_handles(f, list, h, 1) == 0) {
		if (_tool(rule, out, sizeof(out))) {
			snprintf(err, n, "couldn't add the nftables rule: %s",
				 _last_line(out));
			goto out;
		}
		*added = true;
		/* what is there now, not what we believe we did */
		if (_nft_list(f, list, LIST_MAX) ||
		    _nft_handles(f, list, h, 1) == 0) {
			snprintf(err, n, "the nftables rule is not in chain "
				 "inet %s %s after adding it", NFT_TABLE,
				 NFT_CHAIN);
			goto out;
		}
	}
	rc = 0;
out:
	free(list);
	return rc;
}

static int _nft_remove(const filter_t *f, int *removed, char *err, size_t n)
{
	char *list = malloc(LIST_MAX), handle[32], out[1024];
	char *del[] = { (char *) f->tool, "delete", "rule", "inet", NFT_TABLE,
			NFT_CHAIN, "handle", handle, NULL };
	long h[REMOVE_MAX];
	int k, rc = -1;

	if (!list) {
		snprintf(err, n, "out of memory");
		return -1;
	}
	if (_nft_list(f, list, LIST_MAX)) {
		rc = 0;		/* no chain: no rule of ours */
		goto out;
	}
	k = _nft_handles(f, list, h, REMOVE_MAX);
	for (int i = 0; i < k; i++) {
		snprintf(handle, sizeof(handle), "%ld", h[i]);
		if (_tool(del, out, sizeof(out))) {
			snprintf(err, n, "couldn't delete nftables rule handle "
				 "%ld: %s", h[i], _last_line(out));
			goto out;
		}
		(*removed)++;
	}
	rc = 0;
out:
	free(list);
	return rc;
}

/* ---- iptables ---------------------------------------------------------- */

/* ARGV for iptables OP (-C, -I, -D) of our rule for F, into ARGV (16). */
static void _ipt_argv(const filter_t *f, const char *op, char *dst,
		      char *dport, char **argv)
{
	int i = 0;

	sprintf(dst, "%s/32", f->host);
	sprintf(dport, "%d", f->port);
	argv[i++] = (char *) f->tool;
	argv[i++] = "-w";
	argv[i++] = "10";
	argv[i++] = (char *) op;
	argv[i++] = "OUTPUT";
	if (!strcmp(op, "-I"))
		argv[i++] = "1";
	argv[i++] = "-d";
	argv[i++] = dst;
	argv[i++] = "-p";
	argv[i++] = "tcp";
	argv[i++] = "--dport";
	argv[i++] = dport;
	argv[i++] = "-m";
	argv[i++] = "owner";
	argv[i++] = "!";
	argv[i++] = "--uid-owner";
	argv[i++] = "0";
	argv[i++] = "-m";
	argv[i++] = "comment";
	argv[i++] = "--comment";
	argv[i++] = (char *) f->tag;
	argv[i++] = "-j";
	argv[i++] = "REJECT";
	argv[i++] = "--reject-with";
	argv[i++] = "tcp-reset";
	argv[i] = NULL;
}

static int _ipt_install(const filter_t *f, bool *added, char *err, size_t n)
{
	char dst[80], dport[16], out[2048], *argv[32];

	_ipt_argv(f, "-C", dst, dport, argv);
	if (_tool(argv, NULL, 0) == 0)
		return 0;
	_ipt_argv(f, "-I", dst, dport, argv);
	if (_tool(argv, out, sizeof(out))) {
		snprintf(err, n, "couldn't add the iptables rule: %s",
			 _last_line(out));
		return -1;
	}
	*added = true;
	_ipt_argv(f, "-C", dst, dport, argv);
	if (_tool(argv, NULL, 0)) {
		snprintf(err, n, "the iptables rule is not in OUTPUT after "
			 "adding it");
		return -1;
	}
	return 0;
}

static int _ipt_remove(const filter_t *f, int *removed, char *err, size_t n)
{
	char dst[80], dport[16], *argv[32];

	(void) err;
	(void) n;
	_ipt_argv(f, "-D", dst, dport, argv);
	while (*removed < REMOVE_MAX && _tool(argv, NULL, 0) == 0)
		(*removed)++;
	return 0;
}

/* ---- the interface ----------------------------------------------------- */

int azml_imds_filter_install(const char *imds, const char *tool, char *what,
			     size_t wn, char *err, size_t n)
{
	filter_t f;
	bool added = false;
	int lock, rc;

	if (_filter_init(&f, imds, tool, err, n))
		return -1;
	lock = _lock();
	rc = f.nft ? _nft_install(&f, &added, err, n) :
		     _ipt_install(&f, &added, err, n);
	if (lock >= 0)
		close(lock);
	if (rc == 0 && what)
		snprintf(what, wn, "only root reaches %s:%d; %s rule %s",
			 f.host, f.port, f.nft ? "nftables" : "iptables",
			 added ? "added" : "already there");
	return rc;
}

int azml_imds_filter_remove(const char *imds, const char *tool, int *removed,
			    char *err, size_t n)
{
	filter_t f;
	int lock, rc, k = 0;

	if (_filter_init(&f, imds, tool, err, n))
		return -1;
	lock = _lock();
	rc = f.nft ? _nft_remove(&f, &k, err, n) : _ipt_remove(&f, &k, err, n);
	if (lock >= 0)
		close(lock);
	if (removed)
		*removed = k;
	return rc;
}

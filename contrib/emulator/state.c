/*
 * state.c - the Azure emulator's persistence: the journal of --state FILE,
 * replayed at start and compacted.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mount.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pwd.h>

#include <cjson/cJSON.h>
#include <microhttpd.h>

#include "catalog.h"
#include "emu.h"

/* ---------------------------------------------------------------------- */
/* The state file (--state) and its journal, open for appending. */
static struct {
	const char *state_path;
	FILE *journal;
} J;

void emu_state_set_path(const char *path)
{
	J.state_path = path;
}

const char *emu_state_path(void)
{
	return J.state_path;
}

bool emu_journaling(void)
{
	return J.journal != NULL;
}

void emu_state_close(void)
{
	if (J.journal)
		fclose(J.journal);
	J.journal = NULL;
}

/* The journal: one JSON object a line, replayed at start, so that a
 * restarted emulator keeps its VMs, operations' outcomes and tokens. */

void emu_journal(cJSON *rec)
{
	char *s;

	if (!J.journal) {
		cJSON_Delete(rec);
		return;
	}
	s = cJSON_PrintUnformatted(rec);
	cJSON_Delete(rec);
	if (s) {
		fprintf(J.journal, "%s\n", s);
		fflush(J.journal);
		cJSON_free(s);
	}
}

static cJSON *_vm_record(const vm_t *v)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "op", "vm");
	cJSON_AddStringToObject(o, "sub", v->sub);
	cJSON_AddStringToObject(o, "rg", v->rg);
	cJSON_AddStringToObject(o, "name", v->name);
	cJSON_AddStringToObject(o, "location", v->location);
	cJSON_AddStringToObject(o, "node", v->node ? v->node : "");
	cJSON_AddStringToObject(o, "size", v->size);
	cJSON_AddStringToObject(o, "nic", v->nic ? v->nic : "");
	cJSON_AddBoolToObject(o, "spot", v->spot);
	cJSON_AddStringToObject(o, "provisioning", v->provisioning);
	cJSON_AddStringToObject(o, "power", v->power);
	cJSON_AddNumberToObject(o, "pgid", v->pgid);
	cJSON_AddItemToObject(o, "resource", cJSON_Duplicate(v->resource, 1));
	if (v->vmss)
		cJSON_AddStringToObject(o, "vmss", v->vmss);
	cJSON_AddNumberToObject(o, "seq", v->seq);
	return o;
}

void emu_journal_vm(const vm_t *v)
{
	if (J.journal)
		emu_journal(_vm_record(v));
}

void emu_journal_gone(const vm_t *v)
{
	cJSON *o;

	if (!J.journal)
		return;
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "op", "gone");
	cJSON_AddStringToObject(o, "key", v->key);
	emu_journal(o);
}

void emu_journal_op(const op_t *op)
{
	cJSON *o;

	if (!J.journal)
		return;
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "op", "operation");
	cJSON_AddStringToObject(o, "id", op->id);
	cJSON_AddNumberToObject(o, "kind", op->kind);
	cJSON_AddStringToObject(o, "vmkey", op->vmkey);
	cJSON_AddNumberToObject(o, "start", op->start);
	cJSON_AddNumberToObject(o, "done_at", op->done_at);
	cJSON_AddBoolToObject(o, "finished", op->finished);
	if (op->err_code) {
		cJSON_AddStringToObject(o, "code", op->err_code);
		cJSON_AddStringToObject(o, "message", op->err_msg);
	}
	emu_journal(o);
}

void emu_journal_token(const token_t *t)
{
	cJSON *o;

	if (!J.journal)
		return;
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "op", "token");
	cJSON_AddStringToObject(o, "token", t->tok);
	cJSON_AddNumberToObject(o, "at", t->at);
	cJSON_AddStringToObject(o, "aud", t->aud);
	if (t->ident >= 0)
		cJSON_AddStringToObject(o, "identity", emu_auth_st.idents[t->ident]);
	emu_journal(o);
}

const char *emu_jstr(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	return cJSON_IsString(v) ? v->valuestring : "";
}

double emu_jnum(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

void emu_replay(const char *path)
{
	FILE *fp = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0;

	if (!fp)
		return;
	while (getline(&line, &cap, fp) > 0) {
		cJSON *o = cJSON_Parse(line);
		const char *what = emu_jstr(o, "op");

		if (!strcmp(what, "vm")) {
			vm_t *v = emu_vm_new(emu_jstr(o, "sub"), emu_jstr(o, "rg"),
					  emu_jstr(o, "name"));
			vm_t *old = emu_vm_find(v->key);

			if (old) {
				emu_vm_unlink(old);
				emu_vm_free(old);
			}
			v->location = strdup(emu_jstr(o, "location"));
			/* names reach the boot command: only valid ones */
			v->node = emu_node_name_ok(emu_jstr(o, "node")) ?
				  strdup(emu_jstr(o, "node")) : NULL;
			v->nic = emu_name_ok(emu_jstr(o, "nic")) ?
				 strdup(emu_jstr(o, "nic")) : NULL;
			emu_set_size(v, emu_jstr(o, "size"));
			v->spot = cJSON_IsTrue(cJSON_GetObjectItem(o, "spot"));
			snprintf(v->provisioning, sizeof(v->provisioning), "%s",
				 emu_jstr(o, "provisioning"));
			snprintf(v->power, sizeof(v->power), "%s", emu_jstr(o, "power"));
			v->pgid = (pid_t) emu_jnum(o, "pgid");
			v->resource = cJSON_DetachItemFromObject(o, "resource");
			{
				/* the hostname comes from the journaled
				 * resource: valid ones only */
				const char *cn = emu_jstr(cJSON_GetObjectItem(
					cJSON_GetObjectItem(v->resource,
						"properties"), "osProfile"),
					"computerName");

				if (!*cn)
					cn = v->name;
				v->computer = emu_computer_name_ok(cn) ?
					      strdup(cn) : NULL;
			}
			/* a set's name makes VM and NIC names: valid
			 * ones only */
			if (*emu_jstr(o, "vmss") && emu_name_ok(emu_jstr(o, "vmss")) &&
			    strlen(emu_jstr(o, "vmss")) <= VMSS_NAME_MAX)
				v->vmss = strdup(emu_jstr(o, "vmss"));
			v->seq = (unsigned long) emu_jnum(o, "seq");
			if (v->seq > emu_vm_st.vm_seq)
				emu_vm_st.vm_seq = v->seq;
			v->incarnation = 1;
			emu_vm_insert(v);
		} else if (!strcmp(what, "vmss")) {
			char key[400];
			vmss_t *set;
			cJSON *spec = cJSON_GetObjectItem(o, "spec");

			/* names make ids, keys and VM names: valid ones */
			if (!emu_name_ok(emu_jstr(o, "name")) ||
			    strlen(emu_jstr(o, "name")) > VMSS_NAME_MAX ||
			    !emu_chars_ok(emu_jstr(o, "sub"), 64, "-") ||
			    !emu_rg_ok(emu_jstr(o, "rg")) || !cJSON_IsObject(spec)) {
				cJSON_Delete(o);
				continue;
			}
			emu_key_of(key, emu_jstr(o, "sub"), emu_jstr(o, "rg"),
				emu_jstr(o, "name"));
			if (!(set = emu_vmss_find(key))) {
				if (emu_vmss_st.nsets == VMSS_MAX ||
				    !(set = calloc(1, sizeof(*set)))) {
					cJSON_Delete(o);
					continue;
				}
				snprintf(set->key, sizeof(set->key), "%s", key);
				set->sub = strdup(emu_jstr(o, "sub"));
				set->rg = strdup(emu_jstr(o, "rg"));
				set->name = strdup(emu_jstr(o, "name"));
				emu_vmss_insert(set);
			}
			cJSON_Delete(set->spec);
			cJSON_Delete(set->identity);
			set->spec = cJSON_DetachItemFromObject(o, "spec");
			set->identity = cJSON_DetachItemFromObject(o, "identity");
			if (set->identity && !cJSON_IsObject(set->identity)) {
				cJSON_Delete(set->identity);
				set->identity = NULL;
			}
			snprintf(set->unique_id, sizeof(set->unique_id), "%s",
				 emu_jstr(o, "uniqueId"));
			snprintf(set->created, sizeof(set->created), "%s",
				 emu_jstr(o, "timeCreated"));
			set->etag = (unsigned long) emu_jnum(o, "etag");
			snprintf(set->provisioning, sizeof(set->provisioning),
				 "%s", emu_jstr(o, "provisioning"));
		} else if (!strcmp(what, "vmss-gone")) {
			vmss_t *set = emu_vmss_find(emu_jstr(o, "key"));

			if (set) {
				emu_vmss_unlink(set);
				emu_vmss_free(set);
			}
		} else if (!strcmp(what, "gone")) {
			vm_t *v = emu_vm_find(emu_jstr(o, "key"));

			if (v) {
				emu_vm_unlink(v);
				emu_vm_free(v);
			}
		} else if (!strcmp(what, "operation")) {
			op_t *op = emu_op_find(emu_jstr(o, "id"));

			if (!op) {
				op = calloc(1, sizeof(*op));
				snprintf(op->id, sizeof(op->id), "%s", emu_jstr(o, "id"));
				op->next = emu_op_st.ops[emu_hash(op->id) % NBUCKETS];
				emu_op_st.ops[emu_hash(op->id) % NBUCKETS] = op;
			}
			op->kind = (op_kind_t) emu_jnum(o, "kind");
			snprintf(op->vmkey, sizeof(op->vmkey), "%s", emu_jstr(o, "vmkey"));
			op->start = emu_jnum(o, "start");
			op->done_at = emu_jnum(o, "done_at");
			op->finished = cJSON_IsTrue(cJSON_GetObjectItem(o, "finished"));
			if (*emu_jstr(o, "code")) {
				free(op->err_code);
				free(op->err_msg);
				op->err_code = strdup(emu_jstr(o, "code"));
				op->err_msg = strdup(emu_jstr(o, "message"));
			}
		} else if (!strcmp(what, "token")) {
			const cJSON *at = cJSON_GetObjectItem(o, "at");

			/* lines of old journals have no aud nor identity */
			emu_add_token(emu_jstr(o, "token"), cJSON_IsNumber(at) ?
				   at->valuedouble : emu_now(), emu_jstr(o, "aud"),
				   emu_intern(emu_jstr(o, "identity")));
		}
		cJSON_Delete(o);
	}
	free(line);
	fclose(fp);
}

/* Rewrite the journal with the live state only. */
void emu_compact(const char *path)
{
	char tmp[4096];
	FILE *fp = NULL;
	int fd;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	/* it holds bearer tokens: for our eyes only */
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd >= 0 && fchmod(fd, 0600) == 0)
		fp = fdopen(fd, "w");
	if (!fp) {
		fprintf(stderr, "azure-emulator: cannot write %s: %s\n", tmp,
			strerror(errno));
		exit(1);
	}
	J.journal = fp;
	for (vmss_t *set = emu_vmss_st.sets; set; set = set->next)
		emu_journal_vmss(set);
	for (size_t b = 0; b < NBUCKETS; b++) {
		for (vm_t *v = emu_vm_st.vms[b]; v; v = v->next)
			emu_journal_vm(v);
		for (op_t *o = emu_op_st.ops[b]; o; o = o->next)
			emu_journal_op(o);
	}
	for (size_t i = 0; i < emu_auth_st.nissued; i++)
		emu_journal_token(&emu_auth_st.issued[i]);
	fclose(fp);
	if (rename(tmp, path)) {
		fprintf(stderr, "azure-emulator: cannot rename %s: %s\n", tmp,
			strerror(errno));
		exit(1);
	}
	J.journal = fopen(path, "ae");
}


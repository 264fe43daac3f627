/*
 * log.h - the one logging interface of slurm-azureml.
 *
 * Code in the core library, the plugins and the programs logs through
 * azml_log_*(); where the lines go is chosen once per process with
 * azml_log_init(): Slurm's own log inside slurmctld/slurmstepd, syslog for
 * programs Slurm runs, stderr for commands an admin types.  A log file may be
 * added to any of them (LogFile= in azureml.conf).
 *
 * Errors: functions return 0/-1 (or NULL) and write why into a buffer the
 * caller passes (azml_errf()); whoever decides what to do logs it, once.
 *
 * Out of memory, the one policy: library code (shared/) never calls abort()
 * or exit(): the core is loaded into slurmctld (job_submit loads the
 * configuration), where either would take the controller down.  It frees
 * what it holds and returns NULL or -1 with "out of memory" in the error
 * buffer (an asynchronous call tells its callback, code OutOfMemory;
 * azml_conf_load() returns NULL).  Programs (a main()) may then exit(1)
 * with a message.
 */
#ifndef AZML_LOG_H
#define AZML_LOG_H

#include <stdarg.h>
#include <stddef.h>

typedef enum {
	AZML_LOG_STDERR = 0,	/* default */
	AZML_LOG_SYSLOG,
	AZML_LOG_SLURM,		/* slurm_info()/slurm_error(); only inside Slurm */
} azml_log_sink_t;

typedef enum {
	AZML_LOG_ERROR = 0,
	AZML_LOG_INFO,
	AZML_LOG_DEBUG,
} azml_log_level_t;

/* Choose the sink; ident names the program in syslog and file lines. */
void azml_log_init(azml_log_sink_t sink, const char *ident,
		   azml_log_level_t level);

/*
 * Also append every line to PATH (opened O_APPEND, one write() per line so
 * concurrent programs do not interleave).  PATH must be a regular file, not
 * a symbolic link, owned by root or SlurmUser and not writable by group or
 * others (safefile.h); it is created 0640 when absent.  Returns 0, or -1
 * with errno set and WHY saying which file and why.
 */
int azml_log_add_file(const char *path, char *why, size_t n);

/* Also copy every line to stderr (programs that an admin may run by hand). */
void azml_log_also_stderr(int on);

/* Close what azml_log_init()/azml_log_add_file() opened. */
void azml_log_fini(void);

void azml_log_error(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));
void azml_log_info(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));
void azml_log_debug(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));
void azml_log_v(azml_log_level_t level, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

/* S on one line, in place: control characters (a remote party's newlines
 * and terminal escapes) become spaces.  Returns S. */
char *azml_oneline(char *s);

/*
 * Write a message into the error buffer ERR (N bytes; nothing when ERR is
 * NULL or N is 0), cut short to fit.  Returns -1, so that a failure reads
 * "return azml_errf(err, n, ...);".  The one helper for the 0/-1 plus
 * message convention.
 */
int azml_errf(char *err, size_t n, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * S made safe to print or log (a string a remote party sent: a tag, a VM
 * name, an error message): each byte outside printable ASCII becomes \xHH
 * and a backslash becomes two, into OUT (N bytes; cut short only between
 * whole escapes).  NULL prints as "".  Returns OUT.
 */
char *azml_escape(const char *s, char *out, size_t n);

#endif

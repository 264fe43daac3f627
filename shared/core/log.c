/*
 * log.c - sinks for the one logging interface (see log.h).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "safefile.h"

/*
 * Inside Slurm these resolve to slurmctld's own (libslurmfull); programs link
 * libslurm, which has them too.  Declared weak so that a program that never
 * selects the Slurm sink does not need libslurm just for logging.
 */
extern void slurm_info(const char *fmt, ...) __attribute__((weak));
extern void slurm_error(const char *fmt, ...) __attribute__((weak));
extern void slurm_debug(const char *fmt, ...) __attribute__((weak));

static azml_log_sink_t log_sink = AZML_LOG_STDERR;
static azml_log_level_t log_level = AZML_LOG_INFO;
static char log_ident[64] = "slurm-azureml";
static int log_fd = -1;
static int also_stderr;

void azml_log_also_stderr(int on)
{
	also_stderr = on;
}

void azml_log_init(azml_log_sink_t sink, const char *ident,
		   azml_log_level_t level)
{
	log_sink = sink;
	log_level = level;
	if (ident)
		snprintf(log_ident, sizeof(log_ident), "%s", ident);
	if (sink == AZML_LOG_SYSLOG)
		openlog(log_ident, LOG_PID, LOG_DAEMON);
	if (sink == AZML_LOG_SLURM && (!slurm_info || !slurm_error))
		log_sink = AZML_LOG_STDERR;
}

int azml_log_add_file(const char *path, char *why, size_t n)
{
	/* root appends here: never through a link, never to a file another
	 * user owns or may write, never to a FIFO (safefile.h) */
	struct stat st;
	int fd = azml_open_regular(path, O_WRONLY | O_APPEND | O_CREAT, 0640,
				   &st, why, n);

	if (fd < 0)
		return -1;
	if (azml_stat_safe(path, &st, AZML_SAFE_OWNER, why, n)) {
		close(fd);
		errno = EPERM;
		return -1;
	}
	if (log_fd >= 0)
		close(log_fd);
	log_fd = fd;
	return 0;
}

void azml_log_fini(void)
{
	if (log_fd >= 0)
		close(log_fd);
	log_fd = -1;
	if (log_sink == AZML_LOG_SYSLOG)
		closelog();
}

static void _to_file(azml_log_level_t level, const char *msg)
{
	char line[4200], stamp[32];
	struct tm tm;
	time_t now = time(NULL);
	int n;

	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);
	n = snprintf(line, sizeof(line), "%s %s[%d]: %s%s\n", stamp, log_ident,
		     (int) getpid(), level == AZML_LOG_ERROR ? "error: " : "",
		     msg);
	if (n > (int) sizeof(line) - 1)
		n = sizeof(line) - 1;
	if (write(log_fd, line, n) < 0) {
		/* Nowhere better to say so. */
	}
}

void azml_log_v(azml_log_level_t level, const char *fmt, va_list ap)
{
	char msg[4096];
	int saved = errno;

	if (level > log_level)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	switch (log_sink) {
	case AZML_LOG_SLURM:
		if (level == AZML_LOG_ERROR)
			slurm_error("%s: %s", log_ident, msg);
		else if (level == AZML_LOG_INFO)
			slurm_info("%s: %s", log_ident, msg);
		else if (slurm_debug)
			slurm_debug("%s: %s", log_ident, msg);
		break;
	case AZML_LOG_SYSLOG:
		syslog(level == AZML_LOG_ERROR ? LOG_ERR :
		       level == AZML_LOG_INFO ? LOG_INFO : LOG_DEBUG,
		       "%s", msg);
		break;
	case AZML_LOG_STDERR:
	default:
		fprintf(stderr, "%s: %s%s\n", log_ident,
			level == AZML_LOG_ERROR ? "error: " : "", msg);
		break;
	}
	if (also_stderr && log_sink != AZML_LOG_STDERR)
		fprintf(stderr, "%s: %s%s\n", log_ident,
			level == AZML_LOG_ERROR ? "error: " : "", msg);
	if (log_fd >= 0)
		_to_file(level, msg);
	errno = saved;
}

#define AZML_LOG_FN(fn, level)                   \
	void fn(const char *fmt, ...)            \
	{                                        \
		va_list ap;                      \
		va_start(ap, fmt);               \
		azml_log_v(level, fmt, ap);      \
		va_end(ap);                      \
	}

AZML_LOG_FN(azml_log_error, AZML_LOG_ERROR)
AZML_LOG_FN(azml_log_info, AZML_LOG_INFO)
AZML_LOG_FN(azml_log_debug, AZML_LOG_DEBUG)

char *azml_escape(const char *s, char *out, size_t n)
{
	size_t len = 0;

	if (!n)
		return out;
	for (; s && *s; s++) {
		unsigned char c = (unsigned char) *s;
		char one[5];
		int k;

		if (c == '\\')
			k = snprintf(one, sizeof(one), "\\\\");
		else if (c < 0x20 || c > 0x7e)
			k = snprintf(one, sizeof(one), "\\x%02x", c);
		else
			k = snprintf(one, sizeof(one), "%c", c);
		if (len + k >= n)
			break;
		memcpy(out + len, one, k);
		len += k;
	}
	out[len] = '\0';
	return out;
}

int azml_errf(char *err, size_t n, const char *fmt, ...)
{
	va_list ap;

	if (!err || !n)
		return -1;
	va_start(ap, fmt);
	vsnprintf(err, n, fmt, ap);
	va_end(ap);
	return -1;
}

char *azml_oneline(char *s)
{
	for (char *p = s; p && *p; p++)
		if ((unsigned char) *p < 0x20 || *p == 0x7f)
			*p = ' ';
	return s;
}

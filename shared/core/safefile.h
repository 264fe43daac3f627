/*
 * safefile.h - the one check of a file or folder that slurm-azureml's
 * programs trust while they run as root or as SlurmUser: Prices=,
 * SshPublicKey=, LogFile=, StateDir=, NodeSetupScript= and the client
 * secret.  Every such file is opened and judged here, never elsewhere.
 *
 * A trusted owner is root, SlurmUser (slurm.conf's SlurmUser=, by name or
 * uid; root when unset or when slurm.conf cannot be read) or the user
 * running (its own files give it nothing it does not have already).
 *
 * A file or folder is safe when a trusted owner owns it and neither its
 * group nor others may write it.  Its parents are safe when every folder
 * from / down to the one holding it is safe, with one exception: a folder
 * that root owns and that has the sticky bit (1777, like /tmp) is accepted,
 * since there others may create names but neither rename nor remove ours;
 * what we keep there must then be safe itself.  A symbolic link among the
 * parents is judged by where it lies and by where it leads.
 *
 * Files are opened O_RDONLY|O_NONBLOCK|O_NOFOLLOW|O_CLOEXEC and judged by
 * fstat() on that descriptor, so that what is judged is what is read: a
 * symbolic link is refused (ELOOP), a FIFO or a device is refused at once
 * (never blocks), and only a regular file is read, up to a bound.
 *
 * Messages (WHY) name the path and the reason, and say how to mend it.
 */
#ifndef AZML_SAFEFILE_H
#define AZML_SAFEFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

/* flags */
#define AZML_SAFE_OWNER   0x1	/* trusted owner, not writable by go */
#define AZML_SAFE_PARENTS 0x2	/* and every folder above it is safe */
#define AZML_SAFE_ROOT    0x4	/* only root (or the user running, who is
				 * root where it matters: node-init) may own
				 * it and its parents; SlurmUser may not */

/* Whether UID is a trusted owner (above).  SlurmUser is looked up once. */
bool azml_owner_trusted(uid_t uid);

/* SlurmUser's uid, as slurm.conf names it (root when unset). */
uid_t azml_slurm_user_uid(void);

/*
 * Whether ST (of PATH, for the message) is owned by a trusted owner (root
 * only with AZML_SAFE_ROOT) and not writable by its group or others.
 * 0, or -1 with WHY.
 */
int azml_stat_safe(const char *path, const struct stat *st, int flags,
		   char *why, size_t n);

/*
 * Whether every folder above absolute PATH is safe (AZML_SAFE_ROOT: owned
 * by root).  PATH itself is not judged and need not exist.  0, or -1 with
 * WHY.
 */
int azml_parents_safe(const char *path, int flags, char *why, size_t n);

/*
 * Whether folder PATH is safe with FLAGS (AZML_SAFE_PARENTS: its parents
 * too).  A PATH that does not exist is judged by its parents alone and
 * *EXISTS (may be NULL) is set false.  0, or -1 with WHY.
 */
int azml_dir_safe(const char *path, int flags, bool *exists, char *why,
		  size_t n);

/*
 * Open PATH with OFLAGS (O_RDONLY, or O_WRONLY | O_APPEND | O_CREAT ...;
 * never through a symbolic link, never blocking on a FIFO, close-on-exec),
 * MODE when it is created, and refuse it unless it is a regular file.  *ST
 * gets its fstat().  Returns the descriptor (still O_NONBLOCK; the caller
 * closes it), or -1 with WHY and errno.  The first step of azml_open_safe()
 * and of azml_log_add_file().
 */
int azml_open_regular(const char *path, int oflags, mode_t mode,
		      struct stat *st, char *why, size_t n);

/*
 * Open regular file PATH for reading (above), of at most MAX bytes (0: any
 * size), judged with FLAGS; the descriptor is blocking again when
 * returned.  ST (may be NULL) gets its fstat().  Returns the descriptor
 * (the caller closes it), or -1 with WHY (errno kept: ENOENT when absent).
 */
int azml_open_safe(const char *path, int flags, size_t max, struct stat *st,
		   char *why, size_t n);

/*
 * Read regular file PATH whole (azml_open_safe with FLAGS and MAX) into a
 * malloc'd NUL-ended *TEXT (the caller frees it) of *LEN bytes (LEN may be
 * NULL).  0, or -1 with WHY; *TEXT is written only on success.
 */
int azml_read_safe(const char *path, int flags, size_t max, char **text,
		   size_t *len, char *why, size_t n);

#endif

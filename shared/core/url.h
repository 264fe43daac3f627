/*
 * url.h - the core's one URL parser: http(s) URLs from azureml.conf
 * (ArmEndpoint=, AuthorityHost=, ImdsEndpoint=, PricesEndpoint=,
 * MungeKeySecret=) and userData (munge_key_secret), HOST[:PORT] words
 * (slurmctld_host), and the one loopback rule.
 *
 * Core library: no I/O, no allocation, no libcurl (the core is linked into
 * the Slurm plugins, loaded by slurmctld, sbatch and srun).  The azure
 * library sends requests only to URLs that libcurl's URL API parsed
 * (http.h); this parser is written to accept a subset of what libcurl
 * accepts, and to agree with libcurl on the host and the port of every URL
 * it accepts (tests/unit/url-test.c feeds both the same URLs).
 *
 * Accepted: http:// or https:// (any case), a host, an optional :PORT, then
 * an optional path and query starting with '/' or '?'.
 *   host: a DNS name (labels of 1-63 letters, digits and '-', not starting
 *         or ending with '-'; 253 bytes at most) whose last label does not
 *         start with a digit (resolvers and libcurl read "127.1" or
 *         "0x7f.1" as numbers), a dotted-quad IPv4 address, or an IPv6
 *         address in brackets (no zone id).  No percent-encoding.
 *   port: 1-5 digits, 1-65535.
 * Refused: other schemes, userinfo (user:password@), fragments ('#'),
 * blanks, control and non-ASCII bytes, URLs over AZML_URL_MAX bytes.
 */
#ifndef AZML_URL_H
#define AZML_URL_H

#include <stdbool.h>
#include <stddef.h>

#define AZML_URL_MAX 4096

typedef struct {
	char scheme[8];		/* "http" or "https" */
	char host[256];		/* as written; an IPv6 address in [...] */
	int port;		/* the URL's, else the scheme's: 80 or 443 */
	bool port_given;	/* the URL wrote a :PORT */
	const char *path;	/* into the URL: from its first '/' or '?',
				 * "" when it has neither */
} azml_url_t;

/*
 * Split URL (see above).  Returns 0 and fills *U, or -1 with the reason in
 * ERR (U untouched).  U->path points into URL.
 */
int azml_url_split(const char *url, azml_url_t *u, char *err, size_t n);

/*
 * Split the LEN bytes at S as HOST[:PORT], HOST as a URL's (above).
 * Returns 0 with the host in HOST (HN bytes; an IPv6 address keeps its
 * brackets) and the port in *PORT (0 when none is given), or -1 with the
 * reason in ERR.
 */
int azml_hostport_split(const char *s, size_t len, char *host, size_t hn,
			int *port, char *err, size_t n);

/* Whether HOST (as azml_url_split or libcurl give it) is this machine:
 * "localhost" (any case), an IPv4 address in 127.0.0.0/8 (dotted quad
 * only), or ::1 (with or without brackets).  "127.0.0.1.example.com" is
 * not. */
bool azml_host_is_loopback(const char *host);

#endif

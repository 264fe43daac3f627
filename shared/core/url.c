/*
 * url.c - the core's URL parser and loopback rule (see url.h).
 */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "url.h"

/* A DNS name: labels of 1-63 letters, digits, '-' (not at either end);
 * the last label must not start with a digit, or it reads as a number. */
static bool _dns_name(const char *s, size_t len)
{
	size_t label = 0, last = 0;

	if (!len || len > 253)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char) s[i];

		if (c == '.') {
			if (!label || s[i - 1] == '-')
				return false;
			label = 0;
			last = i + 1;
		} else if (isalnum(c) || (c == '-' && label)) {
			if (++label > 63)
				return false;
		} else {
			return false;
		}
	}
	return label && s[len - 1] != '-' &&
	       !isdigit((unsigned char) s[last]);
}

int azml_hostport_split(const char *s, size_t len, char *host, size_t hn,
			int *port, char *err, size_t n)
{
	const char *end = s + len, *h = s, *colon;
	size_t hl;
	int p = 0;
	char buf[256];
	unsigned char addr[16];

	if (!len) {
		azml_errf(err, n, "no host");
		return -1;
	}
	if (*s == '[') {
		const char *close = memchr(s, ']', len);

		if (!close || (size_t) (close - s - 1) >= sizeof(buf)) {
			azml_errf(err, n, "an IPv6 address needs its ']'");
			return -1;
		}
		hl = (size_t) (close - s - 1);
		memcpy(buf, s + 1, hl);
		buf[hl] = '\0';
		if (inet_pton(AF_INET6, buf, addr) != 1) {
			azml_errf(err, n, "'%.64s' is not an IPv6 address", buf);
			return -1;
		}
		hl += 2;
		colon = close + 1 < end ? close + 1 : NULL;
		if (colon && *colon != ':') {
			azml_errf(err, n, "an IPv6 address in [...] may be "
				  "followed only by :PORT");
			return -1;
		}
	} else {
		colon = memchr(s, ':', len);
		hl = colon ? (size_t) (colon - s) : len;
		if (hl >= sizeof(buf)) {
			azml_errf(err, n, "host name too long");
			return -1;
		}
		memcpy(buf, s, hl);
		buf[hl] = '\0';
		if (inet_pton(AF_INET, buf, addr) != 1 && !_dns_name(s, hl)) {
			azml_errf(err, n, "'%.*s' is not a host name or address",
				  (int) (hl > 64 ? 64 : hl), s);
			return -1;
		}
	}
	if (colon) {
		const char *d = colon + 1;
		size_t digits = (size_t) (end - d);

		/* at most 5 digits: no int overflows (":8555555555") */
		if (!digits || digits > 5 || strspn(d, "0123456789") < digits) {
			azml_errf(err, n, "port '%.*s' is not 1-65535",
				  (int) (digits > 16 ? 16 : digits), d);
			return -1;
		}
		for (; d < end; d++)
			p = p * 10 + (*d - '0');
		if (p < 1 || p > 65535) {
			azml_errf(err, n, "port '%d' is not 1-65535", p);
			return -1;
		}
	}
	if (hl >= hn) {
		azml_errf(err, n, "host name too long");
		return -1;
	}
	memcpy(host, h, hl);
	host[hl] = '\0';
	*port = p;
	return 0;
}

int azml_url_split(const char *url, azml_url_t *u, char *err, size_t n)
{
	azml_url_t r = { 0 };
	const char *s, *auth;
	size_t len = url ? strlen(url) : 0, al;

	if (!len) {
		azml_errf(err, n, "empty URL");
		return -1;
	}
	if (len > AZML_URL_MAX) {
		azml_errf(err, n, "URL longer than %d bytes", AZML_URL_MAX);
		return -1;
	}
	for (s = url; *s; s++)
		if (!isgraph((unsigned char) *s)) {
			azml_errf(err, n, "a blank, control or non-ASCII byte "
				  "in the URL");
			return -1;
		}
	if (!strncasecmp(url, "https://", 8)) {
		strcpy(r.scheme, "https");
		r.port = 443;
		auth = url + 8;
	} else if (!strncasecmp(url, "http://", 7)) {
		strcpy(r.scheme, "http");
		r.port = 80;
		auth = url + 7;
	} else {
		azml_errf(err, n, "not an http:// or https:// URL");
		return -1;
	}
	if (strchr(url, '#')) {
		azml_errf(err, n, "a fragment ('#') in the URL");
		return -1;
	}
	al = strcspn(auth, "/?");
	if (memchr(auth, '@', al)) {
		azml_errf(err, n, "userinfo (user@) in the URL");
		return -1;
	}
	if (azml_hostport_split(auth, al, r.host, sizeof(r.host), &r.port,
				err, n))
		return -1;
	r.port_given = r.port != 0;
	if (!r.port)
		r.port = !strcmp(r.scheme, "https") ? 443 : 80;
	r.path = auth + al;
	*u = r;
	return 0;
}

bool azml_host_is_loopback(const char *host)
{
	char buf[INET6_ADDRSTRLEN];
	struct in_addr a4;
	struct in6_addr a6;
	size_t n = host ? strlen(host) : 0;

	if (!n)
		return false;
	if (!strcasecmp(host, "localhost"))
		return true;
	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (host[0] == '[') {
		if (n < 3 || host[n - 1] != ']' || n - 2 >= sizeof(buf))
			return false;
		memcpy(buf, host + 1, n - 2);
		buf[n - 2] = '\0';
		host = buf;
	}
	return inet_pton(AF_INET6, host, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6);
}

/*
 * main.c - the Azure emulator: its options, its start and its daemon loop.
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
#include "cloud.h"
#include "emu.h"
#include "safefile.h"

static volatile sig_atomic_t stop_flag;

static void _on_signal(int sig)
{
	stop_flag = 1;
}

/*
 * OPT's ARG, a loopback IPv4 address and port ("127.0.0.1:8443"): *ADDR
 * gets it, HOST (N bytes) the address as written.  Returns 0, or -1 with a
 * message on stderr.
 */
static int _loopback_addr(const char *opt, const char *arg,
			  struct sockaddr_in *addr, char *host, size_t n)
{
	const char *colon = arg ? strrchr(arg, ':') : NULL;
	char *end;
	long port;

	memset(addr, 0, sizeof(*addr));
	addr->sin_family = AF_INET;
	if (!colon || (size_t) (colon - arg) >= n) {
		fprintf(stderr, "azure-emulator: --%s 127.0.0.1:PORT is "
			"required\n", opt);
		return -1;
	}
	snprintf(host, n, "%.*s", (int) (colon - arg), arg);
	port = strtol(colon + 1, &end, 10);
	if (*end || end == colon + 1 || port < 1 || port > 65535 ||
	    inet_pton(AF_INET, host, &addr->sin_addr) != 1 ||
	    (ntohl(addr->sin_addr.s_addr) >> 24) != 127) {
		fprintf(stderr, "azure-emulator: --%s must be a loopback "
			"address and port, like 127.0.0.1:8443\n", opt);
		return -1;
	}
	addr->sin_port = htons((uint16_t) port);
	return 0;
}

/*
 * The PEM file of --OPT (PATH), whole, malloc'd in *TEXT.  A private key
 * (KEY) must be a regular file of a trusted owner (safefile.h) that its
 * group and others can neither read nor write.  Returns 0, or -1 with a
 * message on stderr.
 */
static int _read_pem(const char *opt, const char *path, bool key, char **text)
{
	char why[600];
	struct stat st;
	size_t len = 0, max = 1024 * 1024;
	ssize_t got;
	int fd = azml_open_safe(path, key ? AZML_SAFE_OWNER : 0, max, &st,
				why, sizeof(why));

	if (fd < 0) {
		fprintf(stderr, "azure-emulator: --%s: %s\n", opt, why);
		return -1;
	}
	if (key && (st.st_mode & (S_IRWXG | S_IRWXO))) {
		fprintf(stderr, "azure-emulator: --%s %s: its group or others "
			"may read it (mode %04o); a private key must be "
			"mode 0600 or 0400\n", opt, path,
			(unsigned) (st.st_mode & 07777));
		close(fd);
		return -1;
	}
	if (!(*text = malloc((size_t) st.st_size + 1))) {
		close(fd);
		return -1;
	}
	while (len < (size_t) st.st_size &&
	       (got = read(fd, *text + len, (size_t) st.st_size - len)) > 0)
		len += (size_t) got;
	close(fd);
	(*text)[len] = '\0';
	if (!strstr(*text, "-----BEGIN ")) {
		fprintf(stderr, "azure-emulator: --%s %s: not a PEM file\n",
			opt, path);
		explicit_bzero(*text, len);
		free(*text);
		*text = NULL;
		return -1;
	}
	return 0;
}

static void _usage(FILE *fp)
{
	fprintf(fp,
"usage: azure-emulator --listen 127.0.0.1:PORT [--state FILE]\n"
"                      [--boot-command 'CMD {vm} {node} {ip}'] [--boot-log FILE]\n"
"                      [--latency-ms N] [--async-ms N] [--error-rate P]\n"
"                      [--write-burst N --write-rate R] [--page-size N]\n"
"                      [--quota FAMILY=VCPUS]...\n"
"                      [--capacity SIZE[@ZONE]=CODE[:N]]...\n"
"                      [--client-secret SECRET] [--seed N] [--allow-user USER]...\n"
"                      [--node-init 'CMD {vm} {node} {ip}'] [--console-dir DIR]\n"
"                      [--image-layers DIR]\n"
"                      [--secret NAME=FILE]... [--vault-reader IDENTITY_ID]...\n"
"                      [--compute-limits] [--record DIR]\n"
"                      [--tls-cert FILE --tls-key FILE] [--imds-listen 127.0.0.1:PORT]\n"
"                      [--vault-listen 127.X.Y.Z[:PORT]] [--vault-host HOST]...\n"
"                      [--sandbox-ca FILE] [--cloud NAME]\n"
"See azure-emulator(8).\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "state", required_argument, NULL, 's' },
		{ "boot-command", required_argument, NULL, 'b' },
		{ "boot-log", required_argument, NULL, 'g' },
		{ "latency-ms", required_argument, NULL, 'L' },
		{ "async-ms", required_argument, NULL, 'A' },
		{ "error-rate", required_argument, NULL, 'E' },
		{ "write-burst", required_argument, NULL, 'W' },
		{ "write-rate", required_argument, NULL, 'R' },
		{ "page-size", required_argument, NULL, 'P' },
		{ "quota", required_argument, NULL, 'q' },
		{ "capacity", required_argument, NULL, 'c' },
		{ "client-secret", required_argument, NULL, 'S' },
		{ "seed", required_argument, NULL, 'r' },
		{ "allow-user", required_argument, NULL, 'u' },
		{ "node-init", required_argument, NULL, 'N' },
		{ "console-dir", required_argument, NULL, 'C' },
		{ "image-layers", required_argument, NULL, 'O' },
		{ "secret", required_argument, NULL, 'K' },
		{ "vault-reader", required_argument, NULL, 'V' },
		{ "compute-limits", no_argument, NULL, 'T' },
		{ "tls-cert", required_argument, NULL, 'X' },
		{ "tls-key", required_argument, NULL, 'Y' },
		{ "imds-listen", required_argument, NULL, 'I' },
		{ "vault-listen", required_argument, NULL, 'Q' },
		{ "vault-host", required_argument, NULL, 'H' },
		{ "sandbox-ca", required_argument, NULL, 'Z' },
		{ "cloud", required_argument, NULL, 'U' },
		{ "record", required_argument, NULL, 'D' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct MHD_Daemon *d;
	struct sigaction sa = { 0 };
	const char *listen_arg = NULL, *cert_path = NULL, *key_path = NULL;
	const char *imds_arg = NULL, *vault_arg = NULL;
	/* static: reachable until exit, whichever way main returns */
	static char *cert, *key;
	char imds_host[64];
	int c;
	unsigned flags = MHD_USE_THREAD_PER_CONNECTION |
			 MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
	struct sockaddr_in addr, imds_addr, vault_addr;

	if (argc > 1 && !strcmp(argv[1], "--sandbox-init"))
		return emu_sandbox_init(argc, argv);
	emu_faults.async_ms = 500;
	emu_faults.page_size = 100;
	emu_faults.quota = cJSON_CreateObject();
	emu_faults.capacity = cJSON_CreateObject();
	emu_seed = (unsigned) time(NULL);
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		char *eq;

		switch (c) {
		case 'l': listen_arg = optarg; break;
		case 's': emu_state_set_path(optarg); break;
		case 'b': emu_boot_st.boot_command = optarg; break;
		case 'g': emu_boot_st.boot_log = optarg; break;
		case 'L': emu_faults.latency_ms = atoi(optarg); break;
		case 'A': emu_faults.async_ms = atoi(optarg); break;
		case 'E': emu_faults.error_rate = atof(optarg); break;
		case 'W': emu_faults.write_burst = atof(optarg); break;
		case 'R': emu_faults.write_rate = atof(optarg); break;
		case 'P': emu_faults.page_size = atoi(optarg) > 0 ? atoi(optarg) : 100; break;
		case 'S': emu_auth_st.client_secret = optarg; break;
		case 'r': emu_seed = (unsigned) atoi(optarg); break;
		case 'N': emu_boot_st.node_init = optarg; break;
		case 'C': emu_boot_st.console_dir = optarg; break;
		case 'O': emu_boot_st.layer_dir = optarg; break;
		case 'T': emu_faults.compute_limits = true; break;
		case 'X': cert_path = optarg; break;
		case 'Y': key_path = optarg; break;
		case 'I': imds_arg = optarg; break;
		case 'Q': vault_arg = optarg; break;
		case 'Z': emu_boot_st.sandbox_ca = optarg; break;
		case 'U':
			if (!azml_cloud_find(optarg)) {
				fprintf(stderr, "azure-emulator: --cloud: '%s' "
					"is not one of %s\n", optarg,
					azml_cloud_names());
				return 2;
			}
			emu_net_st.cloud = azml_cloud_find(optarg)->name;
			break;
		case 'H': {
			char vault[32];

			if (!emu_vault_of_host(optarg, vault, sizeof(vault)) ||
			    strchr(optarg, ':')) {
				fprintf(stderr, "azure-emulator: --vault-host: "
					"'%s' is no vault host (VAULT.vault."
					"azure.net, VAULT 3-24 letters, digits "
					"or '-')\n", optarg);
				return 2;
			}
			if (emu_boot_st.nvault_hosts == 16) {
				fprintf(stderr, "azure-emulator: at most 16 "
					"--vault-host\n");
				return 2;
			}
			emu_boot_st.vault_hosts[emu_boot_st.nvault_hosts++] = optarg;
			break;
		}
		case 'D':
			if (emu_record_set_dir(optarg))
				return 2;
			break;
		case 'K':
			if (emu_secret_load(optarg))
				return 2;
			break;
		case 'V':
			if (emu_vault_reader_add(optarg))
				return 2;
			break;
		case 'u': {
			struct passwd *pw = getpwnam(optarg);
			char *e;
			unsigned long u = strtoul(optarg, &e, 10);

			if (!pw && (*e || e == optarg)) {
				fprintf(stderr, "azure-emulator: --allow-user: no "
					"user '%s'\n", optarg);
				return 2;
			}
			if (emu_net_st.nallowed == sizeof(emu_net_st.allowed) / sizeof(emu_net_st.allowed[0])) {
				fprintf(stderr, "azure-emulator: at most %zu "
					"--allow-user\n", emu_net_st.nallowed);
				return 2;
			}
			emu_net_st.allowed[emu_net_st.nallowed++] = pw ? pw->pw_uid : (uid_t) u;
			break;
		}
		case 'q':
		case 'c':
			if (!(eq = strchr(optarg, '=')) || eq == optarg) {
				fprintf(stderr, "azure-emulator: --%s expects "
					"NAME=VALUE, got '%s'\n",
					c == 'q' ? "quota" : "capacity", optarg);
				return 2;
			}
			*eq = '\0';
			if (c == 'q') {
				cJSON_AddNumberToObject(emu_faults.quota, optarg,
							atoi(eq + 1));
			} else {
				cJSON *val = cJSON_CreateString(eq + 1);
				char err[512];
				int bad = emu_capacity_add(emu_faults.capacity, optarg,
							val, err, sizeof(err));

				cJSON_Delete(val);
				if (bad) {
					fprintf(stderr, "azure-emulator: --%s\n",
						err);
					return 2;
				}
			}
			break;
		case 'h':
			_usage(stdout);
			return 0;
		default:
			_usage(stderr);
			return 2;
		}
	}
	if (_loopback_addr("listen", listen_arg, &addr, emu_net_st.listen_host,
			   sizeof(emu_net_st.listen_host)))
		return 2;
	emu_net_st.port = ntohs(addr.sin_port);
	emu_net_st.listen_addr = addr.sin_addr;
	if (imds_arg) {
		if (_loopback_addr("imds-listen", imds_arg, &imds_addr,
				   imds_host, sizeof(imds_host)))
			return 2;
		if (imds_addr.sin_addr.s_addr != addr.sin_addr.s_addr ||
		    imds_addr.sin_port == addr.sin_port) {
			fprintf(stderr, "azure-emulator: --imds-listen must be "
				"another port of --listen's address\n");
			return 2;
		}
		emu_net_st.imds_port = ntohs(imds_addr.sin_port);
	}
	if (vault_arg) {
		char vhost[64], buf[80];

		/* 443, as Key Vault's, unless a port is given */
		snprintf(buf, sizeof(buf), strchr(vault_arg, ':') ? "%s" :
			 "%s:443", vault_arg);
		if (_loopback_addr("vault-listen", buf, &vault_addr, vhost,
				   sizeof(vhost)))
			return 2;
		if (!cert_path) {
			fprintf(stderr, "azure-emulator: --vault-listen serves "
				"https: give --tls-cert and --tls-key\n");
			return 2;
		}
		emu_net_st.vault_addr = vault_addr.sin_addr;
		emu_net_st.vault_port = ntohs(vault_addr.sin_port);
	}
	if (!cert_path != !key_path) {
		fprintf(stderr, "azure-emulator: --tls-cert and --tls-key go "
			"together\n");
		return 2;
	}
	if (cert_path) {
		if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
			fprintf(stderr, "azure-emulator: this libmicrohttpd has "
				"no TLS (GnuTLS): --tls-cert cannot be served\n");
			return 2;
		}
		if (_read_pem("tls-cert", cert_path, false, &cert) ||
		    _read_pem("tls-key", key_path, true, &key)) {
			free(cert);
			return 2;
		}
		emu_net_st.tls = true;
		flags |= MHD_USE_TLS;
	}
	snprintf(emu_net_st.base_url, sizeof(emu_net_st.base_url),
		 "%s://%s:%d", emu_net_st.tls ? "https" : "http",
		 emu_net_st.listen_host, emu_net_st.port);
	if (imds_arg)
		snprintf(emu_net_st.imds_url, sizeof(emu_net_st.imds_url),
			 "http://%s:%d", emu_net_st.listen_host,
			 emu_net_st.imds_port);
	else
		snprintf(emu_net_st.imds_url, sizeof(emu_net_st.imds_url),
			 "%s", emu_net_st.base_url);
	if (emu_boot_st.layer_dir && !emu_boot_st.node_init) {
		fprintf(stderr, "azure-emulator: --image-layers is for the VMs "
			"that --node-init boots: give --node-init too\n");
		return 2;
	}
	if (emu_boot_st.node_init && emu_node_init_setup())
		return 2;
	emu_write_bucket_reset();
	if (emu_state_path()) {
		emu_replay(emu_state_path());
		emu_compact(emu_state_path());
	}
	/* Boot commands are reaped by the kernel. */
	sa.sa_handler = SIG_DFL;
	sa.sa_flags = SA_NOCLDWAIT;
	sigaction(SIGCHLD, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	sa.sa_handler = _on_signal;
	sa.sa_flags = 0;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	/* MHD_OPTION_HTTPS_* are ignored without MHD_USE_TLS: NULL ends the
	 * list there (MHD_OPTION_END is 0) */
	d = MHD_start_daemon(flags, emu_net_st.port, NULL, NULL, emu_handler,
			     NULL,
			     MHD_OPTION_SOCK_ADDR, (struct sockaddr *) &addr,
			     MHD_OPTION_NOTIFY_COMPLETED, emu_completed, NULL,
			     MHD_OPTION_CONNECTION_TIMEOUT, (unsigned) 120,
			     MHD_OPTION_CONNECTION_LIMIT, (unsigned) 4096,
			     cert ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END,
			     cert, MHD_OPTION_HTTPS_MEM_KEY, key,
			     MHD_OPTION_END);
	if (!d) {
		fprintf(stderr, "azure-emulator: cannot listen on %s%s: %s\n",
			listen_arg, cert ? " with its certificate and key" : "",
			strerror(errno));
		return 1;
	}
	if (imds_arg) {
		emu_net_st.imds_daemon = MHD_start_daemon(
			MHD_USE_THREAD_PER_CONNECTION |
			MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG,
			emu_net_st.imds_port, NULL, NULL, emu_handler, NULL,
			MHD_OPTION_SOCK_ADDR, (struct sockaddr *) &imds_addr,
			MHD_OPTION_NOTIFY_COMPLETED, emu_completed, NULL,
			MHD_OPTION_CONNECTION_TIMEOUT, (unsigned) 120,
			MHD_OPTION_CONNECTION_LIMIT, (unsigned) 4096,
			MHD_OPTION_END);
		if (!emu_net_st.imds_daemon) {
			fprintf(stderr, "azure-emulator: cannot listen on %s: "
				"%s\n", imds_arg, strerror(errno));
			MHD_stop_daemon(d);
			return 1;
		}
	}
	if (vault_arg) {
		emu_net_st.vault_daemon = MHD_start_daemon(flags,
			emu_net_st.vault_port, NULL, NULL, emu_handler, NULL,
			MHD_OPTION_SOCK_ADDR, (struct sockaddr *) &vault_addr,
			MHD_OPTION_NOTIFY_COMPLETED, emu_completed, NULL,
			MHD_OPTION_CONNECTION_TIMEOUT, (unsigned) 120,
			MHD_OPTION_CONNECTION_LIMIT, (unsigned) 4096,
			MHD_OPTION_HTTPS_MEM_CERT, cert,
			MHD_OPTION_HTTPS_MEM_KEY, key, MHD_OPTION_END);
		if (!emu_net_st.vault_daemon) {
			fprintf(stderr, "azure-emulator: cannot listen on %s "
				"(Key Vault): %s\n", vault_arg,
				strerror(errno));
			MHD_stop_daemon(d);
			return 1;
		}
	}
	fprintf(stderr, "azure-emulator: listening on %s/%s%s%s\n",
		emu_net_st.base_url, imds_arg ? " (IMDS on " : "",
		imds_arg ? emu_net_st.imds_url : "", imds_arg ? "/)" : "");
	while (!stop_flag) {
		usleep(100000);
		pthread_mutex_lock(&emu_lock);
		emu_tick();
		pthread_mutex_unlock(&emu_lock);
	}
	if (emu_net_st.imds_daemon)
		MHD_stop_daemon(emu_net_st.imds_daemon);
	if (emu_net_st.vault_daemon)
		MHD_stop_daemon(emu_net_st.vault_daemon);
	MHD_stop_daemon(d);
	if (key) {
		explicit_bzero(key, strlen(key));
		free(key);
	}
	free(cert);
	emu_state_close();
	return 0;
}

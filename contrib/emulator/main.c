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
#include "emu.h"

static volatile sig_atomic_t stop_flag;

static void _on_signal(int sig)
{
	stop_flag = 1;
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
"                      [--secret NAME=FILE]... [--vault-reader IDENTITY_ID]...\n"
"                      [--compute-limits]\n"
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
		{ "secret", required_argument, NULL, 'K' },
		{ "vault-reader", required_argument, NULL, 'V' },
		{ "compute-limits", no_argument, NULL, 'T' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct MHD_Daemon *d;
	struct sigaction sa = { 0 };
	const char *colon;
	char *end;
	const char *listen_arg = NULL;
	int c;
	struct sockaddr_in addr = { .sin_family = AF_INET };

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
		case 'T': emu_faults.compute_limits = true; break;
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
	if (!listen_arg || !(colon = strrchr(listen_arg, ':'))) {
		fprintf(stderr, "azure-emulator: --listen 127.0.0.1:PORT is required\n");
		return 2;
	}
	snprintf(emu_net_st.listen_host, sizeof(emu_net_st.listen_host), "%.*s",
		 (int) (colon - listen_arg), listen_arg);
	emu_net_st.port = (int) strtol(colon + 1, &end, 10);
	if (*end || emu_net_st.port < 1 || emu_net_st.port > 65535 ||
	    inet_pton(AF_INET, emu_net_st.listen_host, &addr.sin_addr) != 1 ||
	    (ntohl(addr.sin_addr.s_addr) >> 24) != 127) {
		fprintf(stderr, "azure-emulator: --listen must be a loopback "
			"address and port, like 127.0.0.1:8443\n");
		return 2;
	}
	addr.sin_port = htons(emu_net_st.port);
	emu_net_st.listen_addr = addr.sin_addr;
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

	d = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION |
			     MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG,
			     emu_net_st.port, NULL, NULL, emu_handler, NULL,
			     MHD_OPTION_SOCK_ADDR, (struct sockaddr *) &addr,
			     MHD_OPTION_NOTIFY_COMPLETED, emu_completed, NULL,
			     MHD_OPTION_CONNECTION_TIMEOUT, (unsigned) 120,
			     MHD_OPTION_CONNECTION_LIMIT, (unsigned) 4096,
			     MHD_OPTION_END);
	if (!d) {
		fprintf(stderr, "azure-emulator: cannot listen on %s: %s\n",
			listen_arg, strerror(errno));
		return 1;
	}
	fprintf(stderr, "azure-emulator: listening on http://%s:%d/\n",
		emu_net_st.listen_host, emu_net_st.port);
	while (!stop_flag) {
		usleep(100000);
		pthread_mutex_lock(&emu_lock);
		emu_tick();
		pthread_mutex_unlock(&emu_lock);
	}
	MHD_stop_daemon(d);
	emu_state_close();
	return 0;
}

/*
 * tcprow.h - one row of /proc/net/tcp, as the emulator's admin check reads
 * it (azure-emulator.c, _peer_uid); a header so that emulator-test can feed
 * it rows.
 */
#ifndef AZML_EMU_TCPROW_H
#define AZML_EMU_TCPROW_H

#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#define EMU_TCP_ESTABLISHED 0x01

/*
 * Whether LINE is the row of a live socket from LA:LP to RA:RP (addresses
 * as /proc/net/tcp prints them, ports in host order): state ESTABLISHED
 * and an inode, so owned by a process now.  A socket its process closed
 * (FIN_WAIT, TIME_WAIT, or an orphan still sending) has inode 0 and shows
 * uid 0: never taken for root's.  1 with *UID set, else 0.
 */
static inline int emu_tcp_row(const char *line, uint32_t la, unsigned lp,
			      uint32_t ra, unsigned rp, uid_t *uid)
{
	unsigned int a, p, b, q, st;
	unsigned long u, inode;

	/* sl: local rem st tx:rx tr:when retrnsmt uid timeout inode */
	if (sscanf(line, " %*u: %8X:%4X %8X:%4X %X %*X:%*X %*X:%*X %*X %lu "
		   "%*d %lu", &a, &p, &b, &q, &st, &u, &inode) != 7)
		return 0;
	if (a != la || p != lp || b != ra || q != rp ||
	    st != EMU_TCP_ESTABLISHED || !inode)
		return 0;
	*uid = (uid_t) u;
	return 1;
}

#endif

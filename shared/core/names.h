/*
 * names.h - the one rule for a node's name (and a host's address where a
 * node record takes one).
 *
 * Core library: no I/O, no allocation.
 *
 * A node name is at once a Slurm node name (slurm.conf NodeName=, slurmd -N,
 * a file name under StateDir), and, for a cloud node, its VM's name and the
 * VM's computerName, which is the hostname the VM boots with.  The rule is
 * where those agree:
 *
 *   - 1-63 bytes: a DNS label's limit (RFC 1035 2.3.4), which a hostname is;
 *     Azure's Linux computerName allows 64 and Slurm more (MAX_SLURM_NAME),
 *     so 63 fits all of them.
 *   - letters, digits, '-', '_' and '.': what Azure resource names allow
 *     (Microsoft.Compute naming rules) and Slurm takes in a NodeName (no
 *     ',' '[' ']' ':' '=' or blanks, which are hostlist and config syntax).
 *   - first and last character a letter or digit: Azure refuses a VM name
 *     ending in '-' or '.'; a leading '-' would read as an option (slurmd
 *     -N, scontrol), a leading '.' makes "." and ".." (a node name is a
 *     file name under StateDir).
 *
 * Two variants, for a real reason each:
 *   AZML_NAME_HOSTNAME  letters, digits and '-' only: a VM's name where it
 *                       also becomes its Linux computerName (Azure refuses
 *                       '_' and '.' there).
 *   AZML_NAME_ADDRESS   also ':', and ':' may begin or end it: a node's
 *                       address (NodeAddr=) may be an IPv6 address.
 */
#ifndef AZML_NAMES_H
#define AZML_NAMES_H

#include <stdbool.h>

#define AZML_NODE_NAME_MAX 63

#define AZML_NAME_HOSTNAME 0x1
#define AZML_NAME_ADDRESS 0x2

/* Whether NAME (may be NULL: false) follows the rule above, with FLAGS
 * (0, or AZML_NAME_* or'ed) choosing a variant. */
bool azml_node_name_ok(const char *name, int flags);

#endif

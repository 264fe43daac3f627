/*
 * names.c - the node name rule (see names.h).
 */
#include "config.h"

#include <ctype.h>
#include <string.h>

#include "names.h"

static bool _edge_ok(char c, int flags)
{
	return isalnum((unsigned char) c) ||
	       ((flags & AZML_NAME_ADDRESS) && c == ':');
}

bool azml_node_name_ok(const char *name, int flags)
{
	size_t n = name ? strlen(name) : 0;

	if (n < 1 || n > AZML_NODE_NAME_MAX || !_edge_ok(name[0], flags) ||
	    !_edge_ok(name[n - 1], flags))
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];

		if (isalnum((unsigned char) c) || c == '-')
			continue;
		if ((c == '_' || c == '.') && !(flags & AZML_NAME_HOSTNAME))
			continue;
		if (c == ':' && (flags & AZML_NAME_ADDRESS))
			continue;
		return false;
	}
	return true;
}

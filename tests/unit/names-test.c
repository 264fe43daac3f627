/*
 * names-test.c - the one node name rule (names.h): what the five checks it
 * replaced agreed on, and where a variant keeps a stricter or wider rule.
 */
#include "config.h"

#include <check.h>
#include <string.h>

#include "arm.h"
#include "names.h"
#include "testutil.h"

START_TEST(node_names)
{
	char n63[64], n64[65];

	memset(n63, 'a', 63);
	n63[63] = '\0';
	memset(n64, 'a', 64);
	n64[64] = '\0';
	ck_assert(azml_node_name_ok("gpu-v100-3", 0));
	ck_assert(azml_node_name_ok("n1.rack_2", 0));
	ck_assert(azml_node_name_ok("7", 0));
	ck_assert(azml_node_name_ok(n63, 0));
	ck_assert(!azml_node_name_ok(n64, 0));
	ck_assert(!azml_node_name_ok(NULL, 0));
	ck_assert(!azml_node_name_ok("", 0));
	ck_assert(!azml_node_name_ok(".", 0));
	ck_assert(!azml_node_name_ok("..", 0));
	ck_assert(!azml_node_name_ok("../x", 0));
	ck_assert(!azml_node_name_ok("-N", 0));
	ck_assert(!azml_node_name_ok("gpu-", 0));
	ck_assert(!azml_node_name_ok("gpu.", 0));
	ck_assert(!azml_node_name_ok("_gpu", 0));
	ck_assert(!azml_node_name_ok("gpu[1-3]", 0));
	ck_assert(!azml_node_name_ok("a,b", 0));
	ck_assert(!azml_node_name_ok("a b", 0));
	ck_assert(!azml_node_name_ok("a:b", 0));
	ck_assert(!azml_node_name_ok("a/b", 0));
}
END_TEST

START_TEST(hostname_variant)
{
	ck_assert(azml_node_name_ok("gpu-v100-3", AZML_NAME_HOSTNAME));
	ck_assert(!azml_node_name_ok("gpu_3", AZML_NAME_HOSTNAME));
	ck_assert(!azml_node_name_ok("gpu.3", AZML_NAME_HOSTNAME));
	/* azml_arm_name_ok is this variant */
	ck_assert(azml_arm_name_ok("gpu-v100-3"));
	ck_assert(!azml_arm_name_ok("gpu.3"));
}
END_TEST

START_TEST(address_variant)
{
	ck_assert(azml_node_name_ok("10.0.0.4", AZML_NAME_ADDRESS));
	ck_assert(azml_node_name_ok("fd00::4", AZML_NAME_ADDRESS));
	ck_assert(azml_node_name_ok("::1", AZML_NAME_ADDRESS));
	ck_assert(azml_node_name_ok("fe80::", AZML_NAME_ADDRESS));
	ck_assert(!azml_node_name_ok("-x", AZML_NAME_ADDRESS));
	ck_assert(!azml_node_name_ok("a/b", AZML_NAME_ADDRESS));
	ck_assert(!azml_node_name_ok("[::1]", AZML_NAME_ADDRESS));
}
END_TEST

int main(void)
{
	TCase *tc = tcase_create("names");

	tcase_add_test(tc, node_names);
	tcase_add_test(tc, hostname_variant);
	tcase_add_test(tc, address_variant);
	return tu_run("names", tc);
}

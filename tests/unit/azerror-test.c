/*
 * azerror-test.c - the one reader of Azure's {"error":{...}} answers
 * (azerror.h): the shape, what is not an Azure error, and that what Azure
 * wrote is kept as written (azml_oneline() makes a console line of it).
 */
#include "config.h"

#include <check.h>
#include <string.h>

#include "azerror.h"
#include "log.h"
#include "testutil.h"

START_TEST(shapes)
{
	char code[32], msg[128], out[128];

	ck_assert_int_eq(azml_azure_error_parse("{\"error\":{\"code\":\"Quota"
		"Exceeded\",\"message\":\"no cores\"}}", code, sizeof(code), msg,
		sizeof(msg)), 0);
	ck_assert_str_eq(code, "QuotaExceeded");
	ck_assert_str_eq(msg, "no cores");
	ck_assert_int_eq(azml_azure_error_format("{\"error\":{\"code\":\"Forbidden"
		"\",\"message\":\"no.\",\"innererror\":{\"code\":\"ByRbac\"}}}",
		out, sizeof(out)), 0);
	ck_assert_str_eq(out, "Forbidden: no. (ByRbac)");
	ck_assert_int_eq(azml_azure_error_format("{\"error\":{\"code\":\"X\"}}",
						 out, sizeof(out)), 0);
	ck_assert_str_eq(out, "X: (no message)");
	ck_assert_int_eq(azml_azure_error_format("{\"error\":{\"code\":\"X\","
		"\"message\":\"a\\nb\\u001b[31m\"}}", out, sizeof(out)), 0);
	ck_assert_str_eq(out, "X: a\nb\x1b[31m");	/* as written */
	ck_assert_str_eq(azml_oneline(out), "X: a b [31m");
	/* cut to the buffers */
	ck_assert_int_eq(azml_azure_error_parse("{\"error\":{\"code\":\"Long"
		"CodeName\",\"message\":\"m\"}}", code, 5, msg, sizeof(msg)), 0);
	ck_assert_str_eq(code, "Long");
}
END_TEST

START_TEST(not_errors)
{
	static const char *const bodies[] = {
		NULL, "", "<html>bad gateway</html>", "{}", "[1]",
		"{\"error\":\"invalid_client\"}", "{\"error\":{}}",
		"{\"error\":{\"code\":\"\"}}", "{\"error\":{\"code\":7}}",
		"{\"error\":[{\"code\":\"X\"}]}",
	};
	char code[32] = "keep", msg[64] = "keep", out[64] = "keep";

	for (size_t i = 0; i < sizeof(bodies) / sizeof(*bodies); i++) {
		ck_assert_int_eq(azml_azure_error_parse(bodies[i], code,
			sizeof(code), msg, sizeof(msg)), -1);
		ck_assert_int_eq(azml_azure_error_format(bodies[i], out,
							 sizeof(out)), -1);
	}
	ck_assert_str_eq(code, "keep");
	ck_assert_str_eq(msg, "keep");
	ck_assert_str_eq(out, "keep");
}
END_TEST

int main(void)
{
	TCase *tc = tcase_create("azerror");

	tcase_add_test(tc, shapes);
	tcase_add_test(tc, not_errors);
	return tu_run("azerror", tc);
}

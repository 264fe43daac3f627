/*
 * keyvault-test.c - Key Vault's answers through the secret parser: the
 * value of a 200, Key Vault's errors as "CODE: message" on one line, and
 * what a hostile or broken answer gets.
 */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "keyvault.h"
#include "testutil.h"

static int _parse(int status, const char *body, char **v, char *err,
		  size_t n)
{
	return azml_keyvault_parse_secret(status, body, body ? strlen(body) : 0,
					  v, err, n);
}

START_TEST(secret_value)
{
	char err[256] = "", *v = NULL;

	ck_assert_int_eq(_parse(200, "{\"value\":\"c2VjcmV0\",\"id\":"
		"\"https://v.vault.azure.net/secrets/munge/0123\","
		"\"attributes\":{\"enabled\":true}}", &v, err, sizeof(err)), 0);
	ck_assert_str_eq(v, "c2VjcmV0");
	azml_secret_free(v);
	/* the length is what counts, not a NUL */
	v = NULL;
	ck_assert_int_eq(azml_keyvault_parse_secret(200, "{\"value\":\"ab\"}xyz",
		14, &v, err, sizeof(err)), 0);
	ck_assert_str_eq(v, "ab");
	azml_secret_free(v);
}
END_TEST

START_TEST(secret_errors)
{
	char err[256], *v = NULL;

	ck_assert_int_eq(_parse(404, "{\"error\":{\"code\":\"SecretNotFound\","
		"\"message\":\"A secret with (name/id) munge was not found in "
		"this key vault\"}}", &v, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "SecretNotFound: A secret with (name/id) munge "
			 "was not found in this key vault");
	ck_assert_int_eq(_parse(403, "{\"error\":{\"code\":\"Forbidden\","
		"\"message\":\"Caller is not authorized.\",\"innererror\":"
		"{\"code\":\"ForbiddenByRbac\"}}}", &v, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "Forbidden: Caller is not authorized. "
			 "(ForbiddenByRbac)");
	/* a remote party's newlines stay on one line */
	ck_assert_int_eq(_parse(401, "{\"error\":{\"code\":\"Un\\nauth\","
		"\"message\":\"line1\\nline2\\r\"}}", &v, err, sizeof(err)), -1);
	ck_assert_ptr_null(strchr(err, '\n'));
	ck_assert_ptr_null(strchr(err, '\r'));
	ck_assert_str_eq(err, "Un auth: line1 line2 ");
	/* no error body */
	ck_assert_int_eq(_parse(500, "<html>oops</html>", &v, err, sizeof(err)),
			 -1);
	ck_assert_str_eq(err, "Key Vault answered HTTP 500");
	ck_assert_int_eq(_parse(404, NULL, &v, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "Key Vault answered HTTP 404");
	/* 200 without a string value */
	ck_assert_int_eq(_parse(200, "{\"value\":5}", &v, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "Key Vault's answer has no secret value");
	ck_assert_int_eq(_parse(200, "{\"id\":\"x\"}", &v, err, sizeof(err)), -1);
	ck_assert_int_eq(_parse(200, "not json", &v, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "Key Vault's answer is not JSON");
	ck_assert_int_eq(_parse(200, "", &v, err, sizeof(err)), -1);
	ck_assert_ptr_null(v);
	/* a long message is cut, not overflowed */
	{
		char body[3000], small[40];

		memset(body, 'a', sizeof(body));
		memcpy(body, "{\"error\":{\"code\":\"X\",\"message\":\"", 32);
		memcpy(body + sizeof(body) - 5, "\"}}", 4);
		ck_assert_int_eq(_parse(400, body, &v, small, sizeof(small)), -1);
		ck_assert_uint_eq(strlen(small), sizeof(small) - 1);
	}
}
END_TEST

int main(void)
{
	TCase *tc = tcase_create("keyvault");

	tcase_add_test(tc, secret_value);
	tcase_add_test(tc, secret_errors);
	return tu_run("keyvault", tc);
}

/* SPDX-License-Identifier: MIT */
/* SHA-256 (FIPS 180-4 examples) and HMAC-SHA-256 (RFC 4231 cases). */
#include "semver-tagger/sha256.h"

#include <check.h>
#include <stdio.h>
#include <string.h>

static void hex(const unsigned char *d, char *out)
{
	for (int i = 0; i < SHA256_LEN; i++)
		snprintf(out + 2 * i, 3, "%02x", d[i]);
}

static const char *sha(const char *msg, size_t n, size_t chunk)
{
	static char out[2 * SHA256_LEN + 1];
	unsigned char d[SHA256_LEN];
	struct sha256 s;

	sha256_init(&s);
	for (size_t i = 0; i < n; i += chunk)
		sha256_update(&s, msg + i, n - i < chunk ? n - i : chunk);
	sha256_final(&s, d);
	hex(d, out);
	return out;
}

START_TEST(test_sha256_vectors)
{
	const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
	static char million[1000000];

	ck_assert_str_eq(sha("", 0, 1), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	ck_assert_str_eq(sha("abc", 3, 1), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	for (size_t c = 1; c < 70; c += 7)
		ck_assert_str_eq(sha(two, strlen(two), c), "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
	memset(million, 'a', sizeof(million));
	ck_assert_str_eq(sha(million, sizeof(million), 4096), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}
END_TEST

START_TEST(test_hmac_rfc4231)
{
	unsigned char key[131], d[SHA256_LEN];
	char out[2 * SHA256_LEN + 1];
	const char *big = "Test Using Larger Than Block-Size Key - Hash Key First";

	memset(key, 0x0b, 20);
	hmac_sha256(key, 20, "Hi There", 8, d);
	hex(d, out);
	ck_assert_str_eq(out, "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
	hmac_sha256("Jefe", 4, "what do ya want for nothing?", 28, d);
	hex(d, out);
	ck_assert_str_eq(out, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
	memset(key, 0xaa, sizeof(key));
	hmac_sha256(key, sizeof(key), big, strlen(big), d);
	hex(d, out);
	ck_assert_str_eq(out, "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("sha256");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_sha256_vectors);
	tcase_add_test(tc, test_hmac_rfc4231);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}

/* SPDX-License-Identifier: MIT */
/*
 * The key the listener's per-address connection limit counts by (issue
 * 14, item 3): IPv4 whole, IPv6 by /64, IPv4-mapped IPv6 as IPv4. The
 * slow-header attack itself runs against the daemon in
 * tests/integration/test_hardening.py (several 127.0.0.x sources).
 */
#include "semver-tagger/webhook.h"

#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <string.h>

static size_t key6(const char *addr, unsigned char key[16])
{
	struct sockaddr_in6 sa;

	memset(&sa, 0, sizeof(sa));
	sa.sin6_family = AF_INET6;
	ck_assert_int_eq(inet_pton(AF_INET6, addr, &sa.sin6_addr), 1);
	return webhook_peer_key((const struct sockaddr *)&sa, key);
}

START_TEST(test_ipv6_counts_per_64)
{
	unsigned char a[16], b[16], c[16];

	ck_assert_uint_eq(key6("2001:db8:1:2::1", a), 8);
	ck_assert_uint_eq(key6("2001:db8:1:2:ffff:ffff:ffff:fffe", b), 8);
	ck_assert_uint_eq(key6("2001:db8:1:3::1", c), 8);
	ck_assert_mem_eq(a, b, 8);  /* one subscriber's /64: one key */
	ck_assert(memcmp(a, c, 8) != 0);
}
END_TEST

START_TEST(test_ipv4_and_mapped_count_per_address)
{
	struct sockaddr_in sa;
	unsigned char a[16], b[16], m[16];

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	inet_pton(AF_INET, "127.0.0.2", &sa.sin_addr);
	ck_assert_uint_eq(webhook_peer_key((const struct sockaddr *)&sa, a), 4);
	inet_pton(AF_INET, "127.0.0.3", &sa.sin_addr);
	ck_assert_uint_eq(webhook_peer_key((const struct sockaddr *)&sa, b), 4);
	ck_assert(memcmp(a, b, 4) != 0);
	ck_assert_uint_eq(key6("::ffff:127.0.0.2", m), 4);
	ck_assert_mem_eq(a, m, 4);
	ck_assert_uint_eq(webhook_peer_key(NULL, m), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("webhook_limits");
	TCase *tc = tcase_create("keys");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_ipv6_counts_per_64);
	tcase_add_test(tc, test_ipv4_and_mapped_count_per_address);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}

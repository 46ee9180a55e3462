/* SPDX-License-Identifier: MIT */
/* gitrepo_advert: the smart-HTTP ref advertisement parser (strict,
 * capped) and its hash against the same repository's refs, with real
 * git producing the advertisement (git upload-pack --advertise-refs). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gitrepo_testutil.h"
#include "semver-tagger/gitrepo_advert.h"

#define SVC "001e# service=git-upload-pack\n0000"
#define OID1 "1111111111111111111111111111111111111111"
#define OID2 "2222222222222222222222222222222222222222"

static char root[4096], bare[4200];

static void setup(void)
{
	tu_env();
	tu_tmpdir(root, sizeof(root));
	snprintf(bare, sizeof(bare), "%s/r.git", root);
	ck_assert_int_eq(tu_sh("set -e; cd '%s'; git init -q -b main w; cd w;"
			       "echo a > a; git add a; git commit -qm c0;"
			       "git tag 1.0.0; git tag -a -m ann 1.1.0;"
			       "git checkout -qb release/1; echo b > b; git add b;"
			       "git commit -qm c1; git checkout -q main;"
			       "git clone -q --bare . ../r.git", root), 0);
	/* a clone's HEAD is refs/heads/main; its refs: heads and tags only */
	ck_assert_int_eq(tu_sh("set -e; cd '%s'; git for-each-ref "
			       "--format='%%(refname)' | grep -v "
			       "'^refs/heads/\\|^refs/tags/' | wc -l | "
			       "grep -qx 0", bare), 0);
}

static void teardown(void)
{
	tu_rmrf(root);
}

/* The advertisement git serves for bare (service line included). */
static char *advert(size_t *len)
{
	char path[4300];
	FILE *f;
	char *buf = malloc(1 << 20);
	size_t n;

	ck_assert_ptr_nonnull(buf);
	snprintf(path, sizeof(path), "%s/adv", root);
	ck_assert_int_eq(tu_sh("set -e; printf '%%s' '" SVC "' > '%s';"
			       "git upload-pack --stateless-rpc --advertise-refs"
			       " '%s' >> '%s'", path, bare, path), 0);
	f = fopen(path, "rb");
	ck_assert_ptr_nonnull(f);
	n = fread(buf, 1, (1 << 20) - 1, f);
	fclose(f);
	buf[n] = '\0';
	*len = n;
	return buf;
}

static int parse(const char *body, size_t len, struct gitrepo_advert *a,
		 struct st_error *e)
{
	st_error_clear(e);
	return gitrepo_advert_parse(body, len, a, e);
}

static int parse_s(const char *body, struct gitrepo_advert *a,
		   struct st_error *e)
{
	return parse(body, strlen(body), a, e);
}

START_TEST(test_same_as_mirror)
{
	struct gitrepo *r = tu_open(bare);
	struct gitrepo_advert a, m;
	struct st_error e;
	size_t len;
	char *body = advert(&len);

	ck_assert_int_eq(parse(body, len, &a, &e), 0);
	ck_assert_str_eq(a.head, "refs/heads/main");
	ck_assert_uint_eq(a.n_refs, 4); /* main, release/1, 1.0.0, 1.1.0 */
	st_error_clear(&e);
	ck_assert_int_eq(gitrepo_advert_mirror(r, &m, &e), 0);
	ck_assert_str_eq(m.head, "refs/heads/main");
	ck_assert_uint_eq(m.n_refs, 4);
	ck_assert_uint_eq(a.hash, m.hash);
	gitrepo_free(r);
	free(body);
}
END_TEST

/* Each kind of move changes both sides' hash alike. */
START_TEST(test_moves_change_the_hash)
{
	static const char *const moves[] = {
		"git branch feature main",
		"git tag -d 1.0.0",
		"git update-ref refs/heads/main release/1",
		"git symbolic-ref HEAD refs/heads/release/1",
		"git tag -f 1.0.0 release/1",
	};
	struct gitrepo_advert a0, a, m;
	struct st_error e;
	size_t len;
	char *body = advert(&len);

	ck_assert_int_eq(parse(body, len, &a0, &e), 0);
	free(body);
	for (size_t i = 0; i < sizeof(moves) / sizeof(*moves); i++) {
		struct gitrepo *r;

		ck_assert_int_eq(tu_sh("cd '%s' && %s", bare, moves[i]), 0);
		body = advert(&len);
		ck_assert_int_eq(parse(body, len, &a, &e), 0);
		ck_assert_msg(a.hash != a0.hash, "%s: same hash", moves[i]);
		r = tu_open(bare);
		ck_assert_int_eq(gitrepo_advert_mirror(r, &m, &e), 0);
		ck_assert_msg(a.hash == m.hash, "%s: sides differ", moves[i]);
		gitrepo_free(r);
		a0 = a;
		free(body);
	}
}
END_TEST

/* Every strict prefix of a real advertisement is refused. */
START_TEST(test_every_truncation_refused)
{
	struct gitrepo_advert a;
	struct st_error e;
	size_t len;
	char *body = advert(&len);

	for (size_t n = 0; n < len; n++) {
		ck_assert_msg(parse(body, n, &a, &e) == ST_EINVAL,
			      "prefix of %zu bytes accepted", n);
		ck_assert_ptr_nonnull(strstr(e.msg, "ref advertisement"));
	}
	ck_assert_int_eq(parse(body, len, &a, &e), 0);
	free(body);
}
END_TEST

/* A flipped byte: refused or parsed, never a crash (ASan watches). */
START_TEST(test_byte_flips)
{
	struct gitrepo_advert a;
	struct st_error e;
	size_t len;
	char *body = advert(&len);

	for (size_t i = 0; i < len; i++)
		for (int bit = 0; bit < 8; bit += 3) {
			int rc;

			body[i] ^= (char)(1 << bit);
			rc = parse(body, len, &a, &e);
			ck_assert(rc == 0 || rc == ST_EINVAL);
			body[i] ^= (char)(1 << bit);
		}
	free(body);
}
END_TEST

START_TEST(test_malformed)
{
	static const struct { const char *body, *msg; } bad[] = {
		{ "", "truncated at pkt-line 1" },
		{ "0000", "no \"# service=git-upload-pack\" line" },
		{ "001a# service=git-receive\n0000", "no \"# service" },
		{ "001e# service=git-upload-pack\n"
		  "003d" OID1 " refs/heads/main\n0000", "no flush after" },
		{ SVC "00zz", "bad length of pkt-line 3" },
		{ SVC "0001", "pkt-line 3 has length 1" },
		{ SVC "0004", "pkt-line 3 has length 4" },
		{ SVC "fff5", "pkt-line 3 has length 65525" },
		{ SVC "003e" OID1 " refs/heads/main\n", "truncated in pkt-line 3" },
		{ SVC "003d" OID1 " refs/heads/main\n", "truncated at pkt-line 4" },
		{ SVC "003d" OID1 " refs/heads/main\n0000x", "1 bytes after" },
		{ SVC "003dA111111111111111111111111111111111111111 refs/heads/main\n0000",
		  "not \"<oid> <ref>\"" },
		{ SVC "003dg111111111111111111111111111111111111111 refs/heads/main\n0000",
		  "not \"<oid> <ref>\"" },
		{ SVC "003c111111111111111111111111111111111111111 refs/heads/main\n0000",
		  "not \"<oid> <ref>\"" },
		{ SVC "003e" OID1 "  refs/heads/main\n0000", "bad ref name" },
		{ SVC "003d" OID1 " refs/heads/ma\tn\n0000" , "bad ref name" },
		{ SVC "002e" OID1 " \n0000", "bad ref name" },
		{ SVC "003d" OID1 " refs/heads/main\n"
		  "0047" OID2 " refs/heads/x\0symref=HEAD:x\n0000",
		  "pkt-line 4 is not" },
		{ SVC "003d" OID1 " refs/heads/main\n"
		  "003d" OID2 " capabilities^{}\n0000", "capabilities^{} in" },
		{ SVC "004f" OID1 " HEAD\0symref=HEAD:refs/heads/m\tin\n0000",
		  "bad symref" },
		{ SVC "003d" OID1 " refs/heads/main\n"
		  "0052" OID1 "111111111111111111111111 refs/heads/x\n0000",
		  "not \"<oid> <ref>\"" },
	};
	struct gitrepo_advert a;
	struct st_error e;

	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		size_t n = strlen(bad[i].body);

		/* bodies with a NUL: their length runs to the final flush */
		if (strstr(bad[i].msg, "symref") ||
		    strstr(bad[i].msg, "pkt-line 4 is not")) {
			const char *end = bad[i].body + n + 1;

			n += 1 + strlen(end);
		}
		ck_assert_msg(parse(bad[i].body, n, &a, &e) == ST_EINVAL,
			      "case %zu accepted", i);
		ck_assert_msg(strstr(e.msg, bad[i].msg), "case %zu: %s", i,
			      e.msg);
	}
}
END_TEST

static size_t put_pkt(char *dst, const char *payload, size_t n)
{
	char len[5];

	snprintf(len, sizeof(len), "%04zx", n + 4);
	memcpy(dst, len, 4);
	memcpy(dst + 4, payload, n);
	return n + 4;
}

START_TEST(test_oversize_line)
{
	size_t big = GITREPO_ADVERT_PKT_MAX - 4, off = 0;
	char *line = malloc(big + 1), *body = malloc(big + 200);
	struct gitrepo_advert a;
	struct st_error e;

	memcpy(line, OID1 " refs/heads/", 52);
	memset(line + 52, 'x', big - 53);
	line[big - 1] = '\n';
	memcpy(body, SVC, 34);
	off = 34 + put_pkt(body + 34, line, big);
	memcpy(body + off, "0000", 4);
	/* the longest pkt-line fits; its name is over the cap */
	ck_assert_int_eq(parse(body, off + 4, &a, &e), ST_EINVAL);
	ck_assert_ptr_nonnull(strstr(e.msg, "bad ref name"));
	free(line);
	free(body);
}
END_TEST

START_TEST(test_shapes_accepted)
{
	struct gitrepo_advert a, b;
	struct st_error e;
	const char empty[] = SVC "004b0000000000000000000000000000000000000000"
		" capabilities^{}\0report-status\n0000";
	/* a ref on the first line, no trailing LF, peeled and other refs */
	const char one[] = SVC "0061" OID1 " refs/heads/main\0symref=HEAD:"
		"refs/heads/main agent=x\n"
		"003b" OID2 " refs/tags/1.0\n"
		"003e" OID1 " refs/tags/1.0^{}\n"
		"0048" OID1 " refs/merge-requests/1/head\n0000";
	const char same[] = SVC "0061" OID1 " refs/heads/main\0agent=x "
		"symref=HEAD:refs/heads/main\n"
		"003a" OID2 " refs/tags/1.0" "0000";
	const char sha256[] = SVC "0055" OID1 "111111111111111111111111"
		" refs/heads/main\n0000";
	const char noservice_lf[] = "001d# service=git-upload-pack0000"
		"0000";

	ck_assert_int_eq(parse(empty, sizeof(empty) - 1, &a, &e), 0);
	ck_assert_uint_eq(a.n_refs, 0);
	ck_assert_str_eq(a.head, "");
	ck_assert_int_eq(parse(one, sizeof(one) - 1, &a, &e), 0);
	ck_assert_uint_eq(a.n_refs, 2);
	ck_assert_str_eq(a.head, "refs/heads/main");
	ck_assert_int_eq(parse(same, sizeof(same) - 1, &b, &e), 0);
	ck_assert_uint_eq(a.hash, b.hash);
	ck_assert_int_eq(parse_s(sha256, &a, &e), 0);
	ck_assert_uint_eq(a.n_refs, 1);
	ck_assert_int_eq(parse_s(noservice_lf, &a, &e), 0);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("gitrepo_advert");
	TCase *tc = tcase_create("advert");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_same_as_mirror);
	tcase_add_test(tc, test_moves_change_the_hash);
	tcase_add_test(tc, test_every_truncation_refused);
	tcase_add_test(tc, test_byte_flips);
	tcase_add_test(tc, test_malformed);
	tcase_add_test(tc, test_oversize_line);
	tcase_add_test(tc, test_shapes_accepted);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run_suite(suite());
}

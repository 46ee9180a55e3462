/* SPDX-License-Identifier: MIT */
/* MR facts and sorted MR lists. */
#include "semver-tagger/forge.h"

#include <stdlib.h>
#include <string.h>

void forge_mr_release(struct forge_mr *mr)
{
	if (!mr)
		return;
	free(mr->title);
	free(mr->web_url);
	free(mr->source_branch);
	free(mr->target_branch);
	free(mr->author_username);
	free(mr->author_name);
	for (size_t i = 0; i < mr->n_labels; i++)
		free(mr->labels[i]);
	free(mr->labels);
	free(mr->merged_at);
	free(mr->updated_at);
	free(mr->head_sha);
	free(mr->commit);
	memset(mr, 0, sizeof(*mr));
}

void forge_mr_list_init(struct forge_mr_list *l)
{
	memset(l, 0, sizeof(*l));
}

void forge_mr_list_release(struct forge_mr_list *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->len; i++)
		forge_mr_release(&l->items[i]);
	free(l->items);
	forge_mr_list_init(l);
}

struct forge_mr *forge_mr_list_push(struct forge_mr_list *l)
{
	if (l->len == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		struct forge_mr *p;

		if (cap > SIZE_MAX / sizeof(*p))
			return NULL;
		p = realloc(l->items, cap * sizeof(*p));
		if (!p)
			return NULL;
		l->items = p;
		l->cap = cap;
	}
	memset(&l->items[l->len], 0, sizeof(l->items[0]));
	return &l->items[l->len++];
}

struct order {
	int64_t iid;
	size_t pos;
};

static int order_cmp(const void *a, const void *b)
{
	const struct order *x = a, *y = b;

	if (x->iid != y->iid)
		return x->iid < y->iid ? -1 : 1;
	return x->pos < y->pos ? -1 : x->pos > y->pos;
}

/* Sorting needs a scratch index; without memory, fall back to an
 * insertion pass that keeps the same "last wins" rule. */
static void sort_in_place(struct forge_mr_list *l)
{
	for (size_t i = 1; i < l->len; i++) {
		struct forge_mr t = l->items[i];
		size_t j = i;

		while (j > 0 && l->items[j - 1].iid > t.iid) {
			l->items[j] = l->items[j - 1];
			j--;
		}
		l->items[j] = t;
	}
}

static void drop_duplicates(struct forge_mr_list *l)
{
	size_t out = 0;

	/* Stable order: of equal iids the later one is the newer fact. */
	for (size_t i = 0; i < l->len; i++) {
		if (i + 1 < l->len && l->items[i + 1].iid == l->items[i].iid) {
			forge_mr_release(&l->items[i]);
			continue;
		}
		l->items[out++] = l->items[i];
	}
	l->len = out;
}

void forge_mr_list_sort(struct forge_mr_list *l)
{
	struct order *ord;
	struct forge_mr *tmp;

	if (l->len < 2)
		return;
	ord = malloc(l->len * sizeof(*ord));
	tmp = malloc(l->len * sizeof(*tmp));
	if (!ord || !tmp) {
		free(ord);
		free(tmp);
		sort_in_place(l);
		drop_duplicates(l);
		return;
	}
	for (size_t i = 0; i < l->len; i++)
		ord[i] = (struct order){l->items[i].iid, i};
	qsort(ord, l->len, sizeof(*ord), order_cmp);
	for (size_t i = 0; i < l->len; i++)
		tmp[i] = l->items[ord[i].pos];
	memcpy(l->items, tmp, l->len * sizeof(*tmp));
	free(ord);
	free(tmp);
	drop_duplicates(l);
}

const struct forge_mr *forge_mr_list_find(const struct forge_mr_list *l,
					  int64_t iid)
{
	size_t lo = 0, hi = l->len;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (l->items[mid].iid == iid)
			return &l->items[mid];
		if (l->items[mid].iid < iid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static int dup_str(char **dst, const char *src)
{
	*dst = NULL;
	if (!src)
		return ST_OK;
	*dst = strdup(src);
	return *dst ? ST_OK : ST_ENOMEM;
}

int forge_mr_copy(struct forge_mr *dst, const struct forge_mr *src)
{
	struct forge_mr m = {.iid = src->iid};
	int rc = 0;

	rc |= dup_str(&m.title, src->title);
	rc |= dup_str(&m.web_url, src->web_url);
	rc |= dup_str(&m.source_branch, src->source_branch);
	rc |= dup_str(&m.target_branch, src->target_branch);
	rc |= dup_str(&m.author_username, src->author_username);
	rc |= dup_str(&m.author_name, src->author_name);
	rc |= dup_str(&m.merged_at, src->merged_at);
	rc |= dup_str(&m.updated_at, src->updated_at);
	rc |= dup_str(&m.head_sha, src->head_sha);
	rc |= dup_str(&m.commit, src->commit);
	if (!rc && src->n_labels) {
		m.labels = calloc(src->n_labels, sizeof(char *));
		rc = m.labels ? 0 : ST_ENOMEM;
		for (size_t i = 0; !rc && i < src->n_labels; i++, m.n_labels++)
			rc = dup_str(&m.labels[i], src->labels[i]);
	}
	if (rc) {
		forge_mr_release(&m);
		return ST_ENOMEM;
	}
	*dst = m;
	return ST_OK;
}

static bool str_eq(const char *a, const char *b)
{
	if (!a || !b)
		return a == b;
	return strcmp(a, b) == 0;
}

bool forge_mr_equal(const struct forge_mr *a, const struct forge_mr *b)
{
	if (a->iid != b->iid || a->n_labels != b->n_labels)
		return false;
	for (size_t i = 0; i < a->n_labels; i++)
		if (!str_eq(a->labels[i], b->labels[i]))
			return false;
	return str_eq(a->title, b->title) && str_eq(a->web_url, b->web_url) &&
	       str_eq(a->source_branch, b->source_branch) &&
	       str_eq(a->target_branch, b->target_branch) &&
	       str_eq(a->author_username, b->author_username) &&
	       str_eq(a->author_name, b->author_name) &&
	       str_eq(a->merged_at, b->merged_at) &&
	       str_eq(a->updated_at, b->updated_at) &&
	       str_eq(a->head_sha, b->head_sha) && str_eq(a->commit, b->commit);
}

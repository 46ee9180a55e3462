/* SPDX-License-Identifier: MIT */
/*
 * GitLab webhook deliveries as facts and decisions: pure functions of the
 * headers and the body (gitlab-api.md §6). No I/O here; the listener is in
 * webhook_server.c.
 */
#include "semver-tagger/webhook.h"

#include "semver-tagger/json.h"
#include "semver-tagger/policy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void webhook_event_init(struct webhook_event *ev)
{
	memset(ev, 0, sizeof(*ev));
	ev->updated_at_ms = -1;
}

void webhook_event_release(struct webhook_event *ev)
{
	if (!ev)
		return;
	free(ev->project_path);
	free(ev->default_branch);
	free(ev->title);
	free(ev->url);
	free(ev->source_branch);
	free(ev->target_branch);
	free(ev->head_sha);
	for (size_t i = 0; i < ev->n_labels; i++)
		free(ev->labels[i]);
	free(ev->labels);
	free(ev->ref);
	free(ev->branch);
	free(ev->old_path);
	webhook_event_init(ev);
}

/* ---- decoding ------------------------------------------------------------ */

static enum webhook_kind kind_of_header(const char *event, bool *system)
{
	*system = false;
	if (!event)
		return WEBHOOK_KIND_OTHER;
	if (strcmp(event, "Merge Request Hook") == 0)
		return WEBHOOK_KIND_MR;
	if (strcmp(event, "Push Hook") == 0)
		return WEBHOOK_KIND_PUSH;
	if (strcmp(event, "Tag Push Hook") == 0)
		return WEBHOOK_KIND_TAG_PUSH;
	if (strcmp(event, "Project Hook") == 0)
		return WEBHOOK_KIND_PROJECT;
	/* System hooks send MR and push events with this header; the body's
	 * object_kind says which. */
	*system = strcmp(event, "System Hook") == 0;
	return WEBHOOK_KIND_OTHER;
}

static enum webhook_kind kind_of_object(const char *object_kind)
{
	if (!object_kind)
		return WEBHOOK_KIND_OTHER;
	if (strcmp(object_kind, "merge_request") == 0)
		return WEBHOOK_KIND_MR;
	if (strcmp(object_kind, "push") == 0)
		return WEBHOOK_KIND_PUSH;
	if (strcmp(object_kind, "tag_push") == 0)
		return WEBHOOK_KIND_TAG_PUSH;
	return WEBHOOK_KIND_OTHER;
}

static int dup_str(const cJSON *obj, const char *key, const struct json_where *w,
		   char **out, struct st_error *err)
{
	const char *v = NULL;
	int rc = json_get_str(obj, key, JSON_OPTIONAL, w, &v, err);

	if (rc || !v)
		return rc;
	*out = strdup(v);
	return *out ? ST_OK : st_error_set(err, ST_ENOMEM, "out of memory");
}

/* A short keyword ("merge", "opened") into a fixed buffer. */
static int word(const cJSON *obj, const char *key, const struct json_where *w,
		char *out, size_t size, struct st_error *err)
{
	const char *v = NULL;
	int rc = json_get_str(obj, key, JSON_OPTIONAL, w, &v, err);

	if (rc || !v)
		return rc;
	if (strlen(v) >= size)
		return st_error_set(err, ST_EINVAL, "%s: %s%s%s is not a known "
				    "value (too long)", w->what, w->prefix,
				    *w->prefix ? "." : "", key);
	memcpy(out, v, strlen(v) + 1);
	return ST_OK;
}

static bool is_hex_sha(const char *s)
{
	size_t n = strlen(s);

	if (n != 40 && n != 64)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!strchr("0123456789abcdef", s[i])) /* s[i] != '\0' here */
			return false;
	return true;
}

/* The project: top-level "project" (hooks), else "project_id". */
static int decode_project(const cJSON *root, struct webhook_event *ev,
			  const struct json_where *w, struct st_error *err)
{
	const cJSON *p = NULL;
	struct json_where pw = { w->what, "project" };
	int rc = json_get_object(root, "project", JSON_OPTIONAL, w, &p, err);

	if (rc == 0 && p && cJSON_IsObject(p)) {
		rc = json_get_int(p, "id", JSON_OPTIONAL, 1, JSON_INT_MAX, &pw,
				  &ev->project_id, err);
		if (rc == 0)
			rc = dup_str(p, "path_with_namespace", &pw,
				     &ev->project_path, err);
		if (rc == 0)
			rc = dup_str(p, "default_branch", &pw,
				     &ev->default_branch, err);
	}
	if (rc == 0 && ev->project_id == 0)
		rc = json_get_int(root, "project_id", JSON_OPTIONAL, 1,
				  JSON_INT_MAX, w, &ev->project_id, err);
	return rc;
}

/* System Hook / group "Project Hook" project events (payload of GitLab's
 * lib/gitlab/hook_data/project_builder.rb): event_name "project_<what>",
 * project_id, path_with_namespace, old_path_with_namespace. Other
 * event_names (user_create, ...) stay WEBHOOK_KIND_OTHER. */
static int decode_project_event(const cJSON *root, struct webhook_event *ev,
				const struct json_where *w,
				struct st_error *err)
{
	static const char *const events[] = { "create", "destroy", "rename",
					      "transfer", "update" };
	const char *name = NULL;
	int rc = json_get_str(root, "event_name", JSON_OPTIONAL, w, &name, err);

	if (rc || !name || strncmp(name, "project_", 8) != 0) {
		if (rc == 0)
			ev->kind = WEBHOOK_KIND_OTHER;
		return rc;
	}
	ev->kind = WEBHOOK_KIND_OTHER;
	for (size_t i = 0; i < sizeof(events) / sizeof(events[0]); i++)
		if (strcmp(name + 8, events[i]) == 0) {
			ev->kind = WEBHOOK_KIND_PROJECT;
			snprintf(ev->project_event, sizeof(ev->project_event),
				 "%s", events[i]);
		}
	if (ev->kind != WEBHOOK_KIND_PROJECT)
		return ST_OK;
	rc = json_get_int(root, "project_id", JSON_OPTIONAL, 1, JSON_INT_MAX, w,
			  &ev->project_id, err);
	if (rc == 0 && ev->project_id == 0) {
		/* nothing to route by: not ours to act on */
		ev->kind = WEBHOOK_KIND_OTHER;
		return ST_OK;
	}
	if (rc == 0)
		rc = dup_str(root, "path_with_namespace", w, &ev->project_path,
			     err);
	if (rc == 0)
		rc = dup_str(root, "old_path_with_namespace", w, &ev->old_path,
			     err);
	return rc;
}

/* One label: an object with "title" (hooks) or a plain string (REST). */
static int label_title(const cJSON *item, size_t i, const char *what,
		       const char *list, const char **out,
		       struct st_error *err)
{
	const cJSON *t;

	if (cJSON_IsString(item) && item->valuestring) {
		*out = item->valuestring;
		return ST_OK;
	}
	t = cJSON_IsObject(item) ? cJSON_GetObjectItemCaseSensitive(item,
								     "title")
				 : NULL;
	if (t && cJSON_IsString(t) && t->valuestring) {
		*out = t->valuestring;
		return ST_OK;
	}
	return st_error_set(err, ST_EINVAL, "%s: %s[%zu] is a %s, a label "
			    "object with a \"title\" string expected", what,
			    list, i, json_type_name(item));
}

static int decode_labels(const cJSON *labels, const char *what,
			 const char *list, struct webhook_event *ev,
			 struct st_error *err)
{
	size_t n = (size_t)cJSON_GetArraySize(labels), i = 0;
	const cJSON *item;

	if (n > WEBHOOK_LABELS_MAX)
		n = WEBHOOK_LABELS_MAX;
	ev->labels = calloc(n ? n : 1, sizeof(*ev->labels));
	if (!ev->labels)
		return st_error_set(err, ST_ENOMEM, "out of memory");
	cJSON_ArrayForEach(item, labels) {
		const char *title = NULL;
		int rc;

		if (i >= n)
			break;
		rc = label_title(item, i, what, list, &title, err);
		if (rc)
			return rc;
		if (!(ev->labels[i] = strdup(title)))
			return st_error_set(err, ST_ENOMEM, "out of memory");
		ev->n_labels = ++i;
	}
	return ST_OK;
}

static int decode_mr(const cJSON *root, struct webhook_event *ev,
		     const struct json_where *w, struct st_error *err)
{
	const cJSON *oa = NULL, *labels = NULL, *changes = NULL, *last = NULL;
	struct json_where ow = { w->what, "object_attributes" };
	struct json_where lw = { w->what, "object_attributes.last_commit" };
	const char *updated = NULL, *list = "labels";
	int rc;

	rc = json_get_object(root, "object_attributes",
			     JSON_REQUIRED | JSON_NOT_NULL, w, &oa, err);
	if (rc == 0 && !cJSON_IsObject(oa))
		rc = st_error_set(err, ST_EINVAL, "%s: object_attributes is "
				  "a %s, an object expected", w->what,
				  json_type_name(oa));
	if (rc == 0)
		rc = json_get_int(oa, "iid", JSON_REQUIRED | JSON_NOT_NULL, 1,
				  JSON_INT_MAX, &ow, &ev->iid, err);
	if (rc == 0)
		rc = word(oa, "action", &ow, ev->action, sizeof(ev->action),
			  err);
	if (rc == 0)
		rc = word(oa, "state", &ow, ev->state, sizeof(ev->state), err);
	if (rc == 0)
		rc = dup_str(oa, "title", &ow, &ev->title, err);
	if (rc == 0)
		rc = dup_str(oa, "url", &ow, &ev->url, err);
	if (rc == 0)
		rc = dup_str(oa, "source_branch", &ow, &ev->source_branch, err);
	if (rc == 0)
		rc = dup_str(oa, "target_branch", &ow, &ev->target_branch, err);
	if (rc == 0)
		rc = json_get_object(oa, "last_commit", JSON_OPTIONAL, &ow,
				     &last, err);
	if (rc == 0 && last && cJSON_IsObject(last))
		rc = dup_str(last, "id", &lw, &ev->head_sha, err);
	if (rc == 0 && ev->head_sha && !is_hex_sha(ev->head_sha))
		rc = st_error_set(err, ST_EINVAL, "%s: object_attributes."
				  "last_commit.id is not a commit id", w->what);
	/* Both formats GitLab writes ("2019-11-05 02:48:40 UTC" and ISO 8601
	 * with millis); an unreadable time is not worth refusing a hint. */
	if (rc == 0)
		rc = json_get_str(oa, "updated_at", JSON_OPTIONAL, &ow,
				  &updated, err);
	if (rc == 0 && updated && json_time_parse(updated,
						  &ev->updated_at_ms) != 0)
		ev->updated_at_ms = -1;
	/* Labels: top level, else object_attributes.labels. */
	if (rc == 0)
		rc = json_get_array(root, "labels", JSON_OPTIONAL, w, &labels,
				    err);
	if (rc == 0 && !labels) {
		list = "object_attributes.labels";
		rc = json_get_array(oa, "labels", JSON_OPTIONAL, &ow, &labels,
				    err);
	}
	if (rc == 0 && labels)
		rc = decode_labels(labels, w->what, list, ev, err);
	if (rc == 0)
		rc = json_get_object(root, "changes", JSON_OPTIONAL, w,
				     &changes, err);
	if (rc == 0 && changes && cJSON_IsObject(changes)) {
		const cJSON *cl = cJSON_GetObjectItemCaseSensitive(changes,
								   "labels");

		ev->labels_changed = cl && !cJSON_IsNull(cl);
	}
	/* The UI's Test button sends the payload without an action. */
	ev->test = rc == 0 && ev->action[0] == '\0';
	return rc;
}

static int decode_push(const cJSON *root, struct webhook_event *ev,
		       const struct json_where *w, struct st_error *err)
{
	const char *after = NULL;
	int rc = dup_str(root, "ref", w, &ev->ref, err);

	if (rc == 0 && !ev->ref)
		rc = st_error_set(err, ST_EINVAL, "%s: no \"ref\" in a push "
				  "event", w->what);
	if (rc == 0)
		rc = json_get_str(root, "after", JSON_OPTIONAL, w, &after,
				  err);
	if (rc == 0 && after) {
		if (!is_hex_sha(after))
			return st_error_set(err, ST_EINVAL, "%s: \"after\" is "
					    "not a commit id", w->what);
		snprintf(ev->after, sizeof(ev->after), "%s", after);
		ev->deleted = strspn(after, "0") == strlen(after);
	}
	if (rc == 0 && ev->kind == WEBHOOK_KIND_PUSH &&
	    strncmp(ev->ref, "refs/heads/", 11) == 0 && ev->ref[11] &&
	    !(ev->branch = strdup(ev->ref + 11)))
		rc = st_error_set(err, ST_ENOMEM, "out of memory");
	return rc;
}

int webhook_decode(const char *event, const char *body, size_t len,
		   struct webhook_event *out, struct st_error *err)
{
	struct json_where w = { "webhook", "" };
	struct webhook_event ev;
	const char *object_kind = NULL;
	cJSON *root = NULL;
	bool system;
	int rc;

	webhook_event_init(&ev);
	ev.kind = kind_of_header(event, &system);
	if (ev.kind == WEBHOOK_KIND_OTHER && event && !system) {
		*out = ev; /* an event we do not handle: no need to parse */
		return ST_OK;
	}
	if (len > WEBHOOK_BODY_MAX)
		return st_error_set(err, ST_ETOOBIG, "webhook: body of %zu "
				    "bytes is over the limit of %u", len,
				    WEBHOOK_BODY_MAX);
	rc = json_parse(body, len, "webhook", &root, err);
	if (rc == 0 && !cJSON_IsObject(root))
		rc = st_error_set(err, ST_EINVAL, "webhook: body is a JSON "
				  "%s, an object expected",
				  json_type_name(root));
	if (rc == 0)
		rc = json_get_str(root, "object_kind", JSON_OPTIONAL, &w,
				  &object_kind, err);
	if (rc == 0 && ev.kind == WEBHOOK_KIND_OTHER)
		ev.kind = kind_of_object(object_kind);
	if (rc == 0 && (ev.kind == WEBHOOK_KIND_PROJECT ||
			(ev.kind == WEBHOOK_KIND_OTHER && system && !object_kind)))
		rc = decode_project_event(root, &ev, &w, err);
	if (rc == 0 && ev.kind != WEBHOOK_KIND_OTHER &&
	    ev.kind != WEBHOOK_KIND_PROJECT)
		rc = decode_project(root, &ev, &w, err);
	if (rc == 0 && ev.kind == WEBHOOK_KIND_MR)
		rc = decode_mr(root, &ev, &w, err);
	else if (rc == 0 && (ev.kind == WEBHOOK_KIND_PUSH ||
			     ev.kind == WEBHOOK_KIND_TAG_PUSH))
		rc = decode_push(root, &ev, &w, err);
	cJSON_Delete(root);
	if (rc) {
		webhook_event_release(&ev);
		return rc;
	}
	*out = ev;
	return ST_OK;
}

/* ---- decisions ----------------------------------------------------------- */

/* The branch-role rule is the policy's (policy_released_from). */
static bool released_from(const char *branch, const struct webhook_branches *b,
			  const char *payload_default)
{
	return policy_released_from(branch, b->default_branch
					    ? b->default_branch
					    : payload_default,
				    b->release_prefix);
}

static bool is_release_branch(const char *branch,
			      const struct webhook_branches *b)
{
	return policy_release_branch(branch, b->release_prefix, NULL, NULL,
				     NULL);
}

static enum webhook_decision decide_mr(const struct webhook_event *ev,
				       const struct webhook_branches *b,
				       char *reason, size_t size)
{
	const char *a = ev->action, *tgt = ev->target_branch;

	if (ev->test) {
		snprintf(reason, size, "test delivery");
		return WEBHOOK_IGNORE;
	}
	if (strcmp(a, "merge") == 0) {
		snprintf(reason, size, "!%lld merged into %.64s",
			 (long long)ev->iid, tgt ? tgt : "?");
		return WEBHOOK_RECONCILE;
	}
	if (strcmp(a, "update") == 0 && strcmp(ev->state, "merged") == 0) {
		snprintf(reason, size, "!%lld (merged) updated %s",
			 (long long)ev->iid, ev->labels_changed
			 ? "with a label change" : "without a label change");
		return ev->labels_changed ? WEBHOOK_RECONCILE : WEBHOOK_IGNORE;
	}
	if ((strcmp(a, "open") == 0 || strcmp(a, "reopen") == 0 ||
	     strcmp(a, "update") == 0) && strcmp(ev->state, "opened") == 0) {
		if (!released_from(tgt, b, ev->default_branch)) {
			snprintf(reason, size, "!%lld targets %.64s, which is "
				 "not released from", (long long)ev->iid,
				 tgt ? tgt : "no branch");
			return WEBHOOK_IGNORE;
		}
		if (!ev->head_sha) {
			snprintf(reason, size, "!%lld: no head commit in the "
				 "payload", (long long)ev->iid);
			return WEBHOOK_IGNORE;
		}
		snprintf(reason, size, "!%lld %s (open, into %.64s)",
			 (long long)ev->iid, a, tgt);
		return WEBHOOK_CHECK_MR;
	}
	snprintf(reason, size, "!%lld: action '%s' on a%s %s merge request",
		 (long long)ev->iid, a, ev->state[0] == 'o' ? "n" : "",
		 ev->state[0] ? ev->state : "unknown");
	return WEBHOOK_IGNORE;
}

enum webhook_decision webhook_decide(const struct webhook_event *ev,
				     const struct webhook_branches *b,
				     char *reason, size_t size)
{
	switch (ev->kind) {
	case WEBHOOK_KIND_MR:
		return decide_mr(ev, b, reason, size);
	case WEBHOOK_KIND_PUSH:
		if (is_release_branch(ev->branch, b)) {
			snprintf(reason, size, "push to %.64s%s", ev->branch,
				 ev->deleted ? " (deleted)" : "");
			return WEBHOOK_RECONCILE;
		}
		snprintf(reason, size, "push to %.64s: not a release branch",
			 ev->branch ? ev->branch : ev->ref ? ev->ref : "?");
		return WEBHOOK_IGNORE;
	case WEBHOOK_KIND_TAG_PUSH:
		snprintf(reason, size, "tag push");
		return WEBHOOK_IGNORE;
	default:
		snprintf(reason, size, "event not handled");
		return WEBHOOK_IGNORE;
	}
}

const char *webhook_decision_name(enum webhook_decision d)
{
	switch (d) {
	case WEBHOOK_RECONCILE: return "reconcile";
	case WEBHOOK_CHECK_MR: return "check-mr";
	default: return "ignore";
	}
}

/* ---- the token ----------------------------------------------------------- */

bool webhook_token_equal(const char *secret, size_t secret_len,
			 const char *given)
{
	size_t given_len;
	volatile unsigned char diff = 0;

	if (!secret || !given || secret_len == 0)
		return false;
	given_len = strlen(given);
	/* One pass over the secret whatever was given: every byte of the
	 * secret is compared with a byte of the answer (wrapping around a
	 * short one), and a length mismatch is folded in at the end. */
	for (size_t i = 0; i < secret_len; i++) {
		unsigned char g = given_len ? (unsigned char)given[i % given_len]
					    : 0;

		diff |= (unsigned char)((unsigned char)secret[i] ^ g);
	}
	diff |= (unsigned char)(given_len != secret_len);
	return diff == 0;
}

/* ---- Idempotency-Key LRU ------------------------------------------------- */

#define NIL ((size_t)-1)

struct dedupe_entry {
	char *key;
	uint64_t hash;
	size_t prev, next; /* LRU list, most recent at head */
	size_t chain;      /* next entry in the same bucket */
};

struct webhook_dedupe {
	size_t cap, n, n_buckets;
	size_t head, tail;
	size_t *buckets;
	struct dedupe_entry *e;
};

static uint64_t fnv1a(const char *s)
{
	uint64_t h = 1469598103934665603ull;

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ull;
	}
	return h;
}

struct webhook_dedupe *webhook_dedupe_new(size_t capacity)
{
	struct webhook_dedupe *d = calloc(1, sizeof(*d));

	if (!d)
		return NULL;
	d->cap = capacity ? capacity : 1;
	d->n_buckets = 1;
	while (d->n_buckets < d->cap * 2)
		d->n_buckets <<= 1;
	d->buckets = malloc(d->n_buckets * sizeof(*d->buckets));
	d->e = calloc(d->cap, sizeof(*d->e));
	if (!d->buckets || !d->e) {
		webhook_dedupe_free(d);
		return NULL;
	}
	for (size_t i = 0; i < d->n_buckets; i++)
		d->buckets[i] = NIL;
	d->head = d->tail = NIL;
	return d;
}

void webhook_dedupe_free(struct webhook_dedupe *d)
{
	if (!d)
		return;
	for (size_t i = 0; d->e && i < d->n; i++)
		free(d->e[i].key);
	free(d->e);
	free(d->buckets);
	free(d);
}

size_t webhook_dedupe_size(const struct webhook_dedupe *d)
{
	return d ? d->n : 0;
}

static void lru_unlink(struct webhook_dedupe *d, size_t i)
{
	struct dedupe_entry *e = &d->e[i];

	if (e->prev != NIL)
		d->e[e->prev].next = e->next;
	else
		d->head = e->next;
	if (e->next != NIL)
		d->e[e->next].prev = e->prev;
	else
		d->tail = e->prev;
	e->prev = e->next = NIL;
}

static void lru_push_front(struct webhook_dedupe *d, size_t i)
{
	struct dedupe_entry *e = &d->e[i];

	e->prev = NIL;
	e->next = d->head;
	if (d->head != NIL)
		d->e[d->head].prev = i;
	d->head = i;
	if (d->tail == NIL)
		d->tail = i;
}

static void bucket_remove(struct webhook_dedupe *d, size_t i)
{
	size_t *p = &d->buckets[d->e[i].hash & (d->n_buckets - 1)];

	while (*p != NIL && *p != i)
		p = &d->e[*p].chain;
	if (*p == i)
		*p = d->e[i].chain;
	d->e[i].chain = NIL;
}

int webhook_dedupe_seen(struct webhook_dedupe *d, const char *key)
{
	uint64_t h;
	size_t b, i;
	char *copy;

	if (!d || !key || !*key || strlen(key) > WEBHOOK_KEY_MAX)
		return 0;
	h = fnv1a(key);
	b = h & (d->n_buckets - 1);
	for (i = d->buckets[b]; i != NIL; i = d->e[i].chain) {
		if (d->e[i].hash == h && strcmp(d->e[i].key, key) == 0) {
			lru_unlink(d, i);
			lru_push_front(d, i);
			return 1;
		}
	}
	if (!(copy = strdup(key)))
		return 0; /* cannot remember: treat as new, the safe side */
	if (d->n < d->cap) {
		i = d->n++;
	} else { /* reuse the least recent slot */
		i = d->tail;
		lru_unlink(d, i);
		bucket_remove(d, i);
		free(d->e[i].key);
	}
	d->e[i].key = copy;
	d->e[i].hash = h;
	d->e[i].chain = d->buckets[b];
	d->buckets[b] = i;
	lru_push_front(d, i);
	return 0;
}

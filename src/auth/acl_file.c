/*
 * The ACL file (see acl_file.h): parsing into rule lists (anonymous, per user, patterns),
 * checking a topic, and deciding a subscription filter once so that most deliveries need no
 * check at all.
 */
#include "auth/acl_file.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/file_text.h"
#include "broker/topic.h"

struct acl_rule {
    const char *owner; /* the user's name (in acl->names), NULL for anonymous and patterns */
    bool pattern;
    uint8_t access; /* ACL_READ | ACL_WRITE, 0 = deny */
    uint16_t len;
    char *filter;
};

/* The rules of one user: a run of the sorted rule array. */
struct acl_user {
    const char *name;
    size_t first, count;
};

struct acl {
    struct acl_rule *rules; /* user rules sorted by owner, then anonymous, then patterns */
    size_t count;
    struct acl_user *users; /* sorted by name */
    size_t user_count;
    size_t anon_first, anon_count, pattern_first, pattern_count;
    char **names; /* every `user` line's name, owned */
    size_t name_count;
};

void acl_free(struct acl *acl)
{
    if (!acl)
        return;
    for (size_t i = 0; i < acl->count; i++)
        free(acl->rules[i].filter);
    for (size_t i = 0; i < acl->name_count; i++)
        free(acl->names[i]);
    free(acl->rules);
    free(acl->users);
    free(acl->names);
    free(acl);
}

/* Rank of a rule in the final order: user rules by name, anonymous, then patterns. */
static int rule_order(const void *a, const void *b)
{
    const struct acl_rule *x = a, *y = b;
    int kx = x->pattern ? 2 : x->owner ? 0 : 1, ky = y->pattern ? 2 : y->owner ? 0 : 1;
    if (kx != ky)
        return kx - ky;
    return kx == 0 ? strcmp(x->owner, y->owner) : 0;
}

static bool word_is(const char *s, size_t len, const char *word)
{
    return strlen(word) == len && memcmp(s, word, len) == 0;
}

/* "KEYWORD rest": splits off the first blank-separated word. */
static void first_word(const char *s, size_t len, size_t *word_len, const char **rest,
                       size_t *rest_len)
{
    size_t n = 0;
    while (n < len && s[n] != ' ' && s[n] != '\t')
        n++;
    *word_len = n;
    while (n < len && (s[n] == ' ' || s[n] == '\t'))
        n++;
    *rest = s + n;
    *rest_len = len - n;
}

static void index_users(struct acl *acl)
{
    for (size_t i = 0; i < acl->count; i++) {
        const struct acl_rule *r = &acl->rules[i];
        if (r->pattern) {
            if (!acl->pattern_count++)
                acl->pattern_first = i;
        } else if (!r->owner) {
            if (!acl->anon_count++)
                acl->anon_first = i;
        } else if (acl->user_count && strcmp(acl->users[acl->user_count - 1].name, r->owner) == 0) {
            acl->users[acl->user_count - 1].count++;
        } else {
            acl->users[acl->user_count++] = (struct acl_user){r->owner, i, 1};
        }
    }
}

int acl_parse(const char *text, size_t len, const char *name, struct acl **out, char *err,
              size_t errlen)
{
    struct acl *acl = calloc(1, sizeof *acl);
    size_t cap = 0, name_cap = 0;
    const char *owner = NULL;
    if (!acl)
        goto oom;
    struct file_line line;
    for (size_t pos = 0; file_text_next_line(text, len, &pos, &line);) {
        if (line.len == 0 || line.text[0] == '#')
            continue;
        size_t kw_len, rest_len;
        const char *rest;
        first_word(line.text, line.len, &kw_len, &rest, &rest_len);
        if (word_is(line.text, kw_len, "user")) {
            if (rest_len == 0 || memchr(rest, 0, rest_len)) {
                snprintf(err, errlen, "%s:%u: user: missing or invalid name", name, line.number);
                goto fail;
            }
            if (acl->name_count == name_cap) {
                name_cap = name_cap ? name_cap * 2 : 8;
                char **more = realloc(acl->names, name_cap * sizeof *more);
                if (!more)
                    goto oom;
                acl->names = more;
            }
            if (!(owner = acl->names[acl->name_count] = strndup(rest, rest_len)))
                goto oom;
            acl->name_count++;
            continue;
        }
        bool pattern = word_is(line.text, kw_len, "pattern");
        if (!pattern && !word_is(line.text, kw_len, "topic")) {
            snprintf(err, errlen, "%s:%u: unknown keyword '%.*s' (user, topic or pattern)", name,
                     line.number, (int)kw_len, line.text);
            goto fail;
        }
        size_t access_len, filter_len;
        const char *filter;
        first_word(rest, rest_len, &access_len, &filter, &filter_len);
        uint8_t access = ACL_READ | ACL_WRITE;
        if (word_is(rest, access_len, "read"))
            access = ACL_READ;
        else if (word_is(rest, access_len, "write"))
            access = ACL_WRITE;
        else if (word_is(rest, access_len, "deny"))
            access = 0;
        else if (!word_is(rest, access_len, "readwrite"))
            filter = rest, filter_len = rest_len; /* no access word: the rest is the filter */
        if (filter_len == 0 || filter_len > 65535 || memchr(filter, 0, filter_len) ||
            !topic_filter_valid((const uint8_t *)filter, filter_len, 0, 65535)) {
            snprintf(err, errlen, "%s:%u: invalid topic filter '%.*s'", name, line.number,
                     (int)(filter_len > 200 ? 200 : filter_len), filter);
            goto fail;
        }
        if (acl->count == cap) {
            cap = cap ? cap * 2 : 16;
            struct acl_rule *more = realloc(acl->rules, cap * sizeof *more);
            if (!more)
                goto oom;
            acl->rules = more;
        }
        struct acl_rule *r = &acl->rules[acl->count];
        *r = (struct acl_rule){pattern ? NULL : owner, pattern, access, (uint16_t)filter_len,
                               strndup(filter, filter_len)};
        if (!r->filter)
            goto oom;
        acl->count++;
    }
    if (acl->count) {
        qsort(acl->rules, acl->count, sizeof *acl->rules, rule_order);
        if (!(acl->users = calloc(acl->count, sizeof *acl->users)))
            goto oom;
        index_users(acl);
    }
    *out = acl;
    return 0;
oom:
    snprintf(err, errlen, "%s: out of memory", name);
fail:
    acl_free(acl);
    return -1;
}

int acl_load(const char *path, struct acl **out, char *err, size_t errlen)
{
    size_t len;
    char *text = file_text_read(path, &len, err, errlen);
    if (!text)
        return -1;
    int rc = acl_parse(text, len, path, out, err, errlen);
    free(text);
    return rc;
}

/* A pattern's %c / %u level replaced by the client's value; false when it has none usable. */
static bool substitute(const struct acl_rule *r, const struct acl_client *c, const uint8_t **level,
                       size_t *len)
{
    if (!r->pattern || *len != 2 || (*level)[0] != '%' ||
        ((*level)[1] != 'c' && (*level)[1] != 'u'))
        return true;
    const char *v = (*level)[1] == 'c' ? c->client_id : c->username;
    if (!v || strpbrk(v, "/+#"))
        return false;
    *level = (const uint8_t *)v;
    *len = strlen(v);
    return true;
}

static bool is_level(const uint8_t *l, size_t n, char ch)
{
    return n == 1 && l[0] == (uint8_t)ch;
}

/*
 * Whether rule r covers `filter` (every topic the filter matches, the rule matches; for a
 * topic: the rule matches it), or, with cover false, whether they share at least one topic.
 */
static bool relate(const struct acl_rule *r, const struct acl_client *c, const uint8_t *filter,
                   size_t filter_len, bool cover)
{
    struct topic_levels ri, fi;
    topic_levels_init(&ri, (const uint8_t *)r->filter, r->len);
    topic_levels_init(&fi, filter, filter_len);
    for (bool first = true;; first = false) {
        const uint8_t *rl, *fl;
        size_t rn, fn;
        bool rh = topic_levels_next(&ri, &rl, &rn);
        bool fh = topic_levels_next(&fi, &fl, &fn);
        if (rh && !substitute(r, c, &rl, &rn))
            return false;
        if (!rh && !fh)
            return true;
        if (!rh) /* "a" and "a/#" share the topic "a" */
            return !cover && is_level(fl, fn, '#');
        if (!fh) /* "a/#" matches "a" */
            return is_level(rl, rn, '#');
        bool r_wild = is_level(rl, rn, '+') || is_level(rl, rn, '#');
        bool f_wild = is_level(fl, fn, '+') || is_level(fl, fn, '#');
        /* A wildcard first level never matches a topic starting with '$' [MQTT-4.7.2-1]. */
        if (first && ((r_wild && fn && fl[0] == '$') || (f_wild && rn && rl[0] == '$')))
            return false;
        if (is_level(rl, rn, '#'))
            return true;
        if (is_level(fl, fn, '#'))
            return !cover;
        if (is_level(rl, rn, '+'))
            continue;
        if (is_level(fl, fn, '+')) {
            if (cover)
                return false;
            continue;
        }
        if (rn != fn || memcmp(rl, fl, rn) != 0)
            return false;
    }
}

/* The rules that apply to the client: its own (or the anonymous ones), then the patterns. */
struct rule_runs {
    const struct acl_rule *run[2];
    size_t count[2];
};

static void rules_for(const struct acl *acl, const struct acl_client *c, struct rule_runs *out)
{
    out->run[0] = NULL;
    out->count[0] = 0;
    if (!c->username) {
        out->run[0] = acl->anon_count ? acl->rules + acl->anon_first : NULL;
        out->count[0] = acl->anon_count;
    } else {
        size_t lo = 0, hi = acl->user_count;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            int cmp = strcmp(acl->users[mid].name, c->username);
            if (cmp == 0) {
                out->run[0] = acl->rules + acl->users[mid].first;
                out->count[0] = acl->users[mid].count;
                break;
            }
            if (cmp < 0)
                lo = mid + 1;
            else
                hi = mid;
        }
    }
    out->run[1] = acl->pattern_count ? acl->rules + acl->pattern_first : NULL;
    out->count[1] = acl->pattern_count;
}

bool acl_allows(const struct acl *acl, const struct acl_client *client, const uint8_t *topic,
                size_t topic_len, enum acl_access access)
{
    struct rule_runs runs;
    rules_for(acl, client, &runs);
    bool granted = false;
    for (int k = 0; k < 2; k++)
        for (size_t i = 0; i < runs.count[k]; i++) {
            const struct acl_rule *r = &runs.run[k][i];
            if (r->access == 0 || (r->access & access && !granted)) {
                if (relate(r, client, topic, topic_len, true)) {
                    if (r->access == 0)
                        return false; /* deny wins */
                    granted = true;
                }
            }
        }
    return granted;
}

enum acl_verdict acl_check_filter(const struct acl *acl, const struct acl_client *client,
                                  const uint8_t *filter, size_t filter_len)
{
    struct rule_runs runs;
    rules_for(acl, client, &runs);
    bool denied_in_part = false, covered = false, readable_in_part = false;
    for (int k = 0; k < 2; k++)
        for (size_t i = 0; i < runs.count[k]; i++) {
            const struct acl_rule *r = &runs.run[k][i];
            if (r->access == 0) {
                if (relate(r, client, filter, filter_len, true))
                    return ACL_DENIED;
                denied_in_part |= relate(r, client, filter, filter_len, false);
            } else if ((r->access & ACL_READ) && !covered) {
                if (relate(r, client, filter, filter_len, true))
                    covered = true;
                else
                    readable_in_part |= relate(r, client, filter, filter_len, false);
            }
        }
    if (covered && !denied_in_part)
        return ACL_GRANTED;
    if (!covered && !readable_in_part)
        return ACL_DENIED;
    return ACL_PER_TOPIC;
}

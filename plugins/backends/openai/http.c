/* http.c - the openai backend's transfers: the request cache first, then
 * up to `concurrency` requests in flight (libcurl multi), each attempt with
 * its own timeout.  429, 5xx, connection errors, timeouts and malformed
 * replies are retried with exponential backoff and jitter (a Retry-After
 * header wins); other 4xx fail at once with the server's message. */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "openai.h"

typedef struct transfer {
    oa_call *call;
    CURL *easy;
    struct curl_slist *headers;
    char *data;
    size_t len, cap;
    double retry_after;   /* seconds from the header, or -1 */
    int attempts;
    double not_before;    /* monotonic seconds */
    int active, done;
    char curl_error[CURL_ERROR_SIZE];
} transfer;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static size_t on_body(char *p, size_t size, size_t n, void *ctx)
{
    transfer *t = ctx;
    size_t add = size * n;
    if (t->len + add + 1 > t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 4096;
        while (cap < t->len + add + 1)
            cap *= 2;
        char *grown = realloc(t->data, cap);
        if (!grown)
            return 0; /* curl reports a write error: retried */
        t->data = grown;
        t->cap = cap;
    }
    memcpy(t->data + t->len, p, add);
    t->len += add;
    t->data[t->len] = '\0';
    return add;
}

static size_t on_header(char *p, size_t size, size_t n, void *ctx)
{
    transfer *t = ctx;
    size_t len = size * n;
    static const char name[] = "retry-after:";
    if (len > sizeof name - 1 && strncasecmp(p, name, sizeof name - 1) == 0) {
        char buf[64];
        size_t k = len - (sizeof name - 1) < sizeof buf - 1 ? len - (sizeof name - 1)
                                                            : sizeof buf - 1;
        memcpy(buf, p + sizeof name - 1, k);
        buf[k] = '\0';
        char *end = NULL;
        double v = strtod(buf, &end);
        if (end != buf && v >= 0)
            t->retry_after = v;
        else { /* an HTTP date */
            time_t at = curl_getdate(buf, NULL);
            if (at > 0)
                t->retry_after = difftime(at, time(NULL)) > 0 ? difftime(at, time(NULL)) : 0;
        }
    }
    return len;
}

/* xorshift64*: the jitter needs no quality, only spread. */
static double jitter(oa_backend *be)
{
    be->rng ^= be->rng >> 12;
    be->rng ^= be->rng << 25;
    be->rng ^= be->rng >> 27;
    return (double)((be->rng * 2685821657736338717ULL) >> 11) / 9007199254740992.0;
}

static int start(oa_session *s, CURLM *multi, transfer *t)
{
    oa_backend *be = s->be;
    t->easy = curl_easy_init();
    if (!t->easy)
        return -1;
    t->len = 0;
    if (t->data)
        t->data[0] = '\0';
    t->retry_after = -1;
    t->curl_error[0] = '\0';
    t->headers = curl_slist_append(NULL, "Content-Type: application/json");
    t->headers = curl_slist_append(t->headers, "Expect:");
    if (be->auth)
        t->headers = curl_slist_append(t->headers, be->auth);
    const char *base = t->call->root ? s->root : s->url;
    char *url = malloc(strlen(base) + strlen(t->call->path) + 1);
    if (!url || !t->headers) {
        free(url);
        return -1;
    }
    strcpy(url, base);
    strcat(url, t->call->path);
    CURL *c = t->easy;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, t->headers);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "trustbench-openai");
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, t->call->body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(t->call->body));
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)(be->timeout * 1000.0));
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, t->curl_error);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, t);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, t);
    curl_easy_setopt(c, CURLOPT_PRIVATE, t);
    free(url); /* libcurl copies the URL */
    t->active = 1;
    t->attempts++;
    return curl_multi_add_handle(multi, c) == CURLM_OK ? 0 : -1;
}

static void finish_easy(CURLM *multi, transfer *t)
{
    if (t->easy) {
        curl_multi_remove_handle(multi, t->easy);
        curl_easy_cleanup(t->easy);
    }
    curl_slist_free_all(t->headers);
    t->easy = NULL;
    t->headers = NULL;
    t->active = 0;
}

/* The server's own error message, when its body says one. */
static void server_message(const char *body, char *out, size_t size)
{
    const char *m = body ? strstr(body, "\"message\"") : NULL;
    const char *q = m ? strchr(m + 9, '"') : NULL;
    const char *e = q ? strchr(q + 1, '"') : NULL;
    if (q && e)
        snprintf(out, size, ": %.*s", (int)(e - q - 1 > 300 ? 300 : e - q - 1), q + 1);
    else
        snprintf(out, size, "%s%.200s", body && *body ? ": " : "", body ? body : "");
}

/* What an attempt came to: 0 done, 1 retry, -1 fail (why filled). */
static int judge(transfer *t, CURLcode rc, oa_check_fn check, char *why, size_t size)
{
    long status = 0;
    curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &status);
    if (rc != CURLE_OK) {
        snprintf(why, size, "%s", t->curl_error[0] ? t->curl_error : curl_easy_strerror(rc));
        return 1;
    }
    if (status == 200) {
        char bad[256];
        if (check(t->data ? t->data : "", bad, sizeof bad) == 0)
            return 0;
        snprintf(why, size, "malformed reply (%s)", bad);
        return 1;
    }
    char msg[400];
    server_message(t->data, msg, sizeof msg);
    snprintf(why, size, "HTTP %ld%s", status, msg);
    return status == 429 || status >= 500 || status == 408 ? 1 : -1;
}

static void cache_lookup(oa_session *s, oa_call *c)
{
    oa_backend *be = s->be;
    if (!be->cache || !be->api->cache_get)
        return;
    char key[48];
    oa_cache_key(s, c, key);
    const char *v = NULL;
    tb_error err;
    if (be->api->cache_get(be->host, "openai", key, &v, &err) == TB_OK && v) {
        c->reply = strdup(v);
        c->from_cache = c->reply != NULL;
    }
}

static void cache_store(oa_session *s, oa_call *c)
{
    oa_backend *be = s->be;
    if (!be->cache || !be->api->cache_put)
        return;
    char key[48];
    oa_cache_key(s, c, key);
    tb_error err;
    if (be->api->cache_put(be->host, "openai", key, c->reply, &err) != TB_OK)
        be->api->log(be->host, TB_LOG_WARN, "openai: cache: %s", err.message);
}

typedef struct run_state {
    oa_session *s;
    CURLM *multi;
    transfer *ts;
    size_t n, in_flight, left;
    oa_check_fn check;
    tb_status st;
    tb_error *err;
} run_state;

/* Starts what may start now: fresh calls and retries whose wait is over. */
static void fill(run_state *r)
{
    double now = now_s();
    for (size_t i = 0; i < r->n && r->in_flight < (size_t)r->s->be->concurrency; i++) {
        transfer *t = &r->ts[i];
        if (t->done || t->active || t->not_before > now)
            continue;
        if (start(r->s, r->multi, t) != 0) {
            r->s->be->api->errorf(r->err, "openai: out of memory starting a request");
            r->st = TB_ERR_NOMEM;
            return;
        }
        r->in_flight++;
    }
}

static void on_finished(run_state *r, transfer *t, CURLcode rc)
{
    oa_backend *be = r->s->be;
    char why[600];
    int v = judge(t, rc, r->check, why, sizeof why);
    finish_easy(r->multi, t);
    r->in_flight--;
    if (v == 0) {
        t->call->reply = t->data;
        t->data = NULL;
        t->cap = t->len = 0;
        cache_store(r->s, t->call);
        t->done = 1;
        r->left--;
        return;
    }
    if (v > 0 && t->attempts <= be->retries) {
        double wait = be->backoff;
        for (int k = 1; k < t->attempts && wait < be->backoff_max; k++)
            wait *= 2;
        if (wait > be->backoff_max)
            wait = be->backoff_max;
        wait *= 0.5 + 0.5 * jitter(be);
        if (t->retry_after >= 0)
            wait = t->retry_after < be->backoff_max ? t->retry_after : be->backoff_max;
        be->api->log(be->host, TB_LOG_INFO, "openai: %s%s: %s; retry %d of %d in %.2f s",
                     r->s->url, t->call->path, why, t->attempts, be->retries, wait);
        t->not_before = now_s() + wait;
        return;
    }
    be->api->errorf(r->err, "openai: %s%s failed after %d attempt%s: %s", r->s->url,
                    t->call->path, t->attempts, t->attempts == 1 ? "" : "s", why);
    r->st = v > 0 ? TB_ERR_IO : TB_ERR_BACKEND;
}

tb_status oa_http_run(oa_session *s, oa_call *calls, size_t n, oa_check_fn check, tb_error *err)
{
    oa_backend *be = s->be;
    run_state r = {s, NULL, calloc(n ? n : 1, sizeof *r.ts), n, 0, 0, check, TB_OK, err};
    if (!r.ts) {
        be->api->errorf(err, "openai: out of memory");
        return TB_ERR_NOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        r.ts[i].call = &calls[i];
        cache_lookup(s, &calls[i]);
        char why[8];
        if (calls[i].reply && check(calls[i].reply, why, sizeof why) != 0) {
            free(calls[i].reply); /* an unusable cached reply: ask again */
            calls[i].reply = NULL;
            calls[i].from_cache = 0;
        }
        r.ts[i].done = calls[i].reply != NULL;
        r.left += !r.ts[i].done;
    }
    r.multi = r.left ? curl_multi_init() : NULL;
    if (r.left && !r.multi) {
        be->api->errorf(err, "openai: cannot start libcurl");
        r.st = TB_ERR_INTERNAL;
    }
    while (r.st == TB_OK && r.left) {
        fill(&r);
        int running = 0;
        curl_multi_perform(r.multi, &running);
        CURLMsg *m;
        int queued;
        while (r.st == TB_OK && (m = curl_multi_info_read(r.multi, &queued))) {
            transfer *t = NULL;
            if (m->msg != CURLMSG_DONE)
                continue;
            curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&t);
            on_finished(&r, t, m->data.result);
        }
        if (r.st == TB_OK && be->api->cancelled(be->host)) {
            be->api->errorf(err, "openai: cancelled");
            r.st = TB_ERR_CANCELLED;
        }
        if (r.st == TB_OK && r.left)
            curl_multi_poll(r.multi, NULL, 0, 50, NULL);
    }
    for (size_t i = 0; i < n; i++) {
        if (r.ts[i].active)
            finish_easy(r.multi, &r.ts[i]);
        free(r.ts[i].data);
    }
    if (r.multi)
        curl_multi_cleanup(r.multi);
    free(r.ts);
    return r.st;
}

/* FNV-1a twice with different offsets: 128 bits, enough that two
 * different requests never share a cached reply in practice. */
void oa_cache_key(const oa_session *s, const oa_call *c, char out[48])
{
    const char *parts[4] = {s->ident, c->path, s->model ? s->model : "", c->body};
    uint64_t h1 = 1469598103934665603ULL, h2 = 0x9e3779b97f4a7c15ULL;
    for (size_t p = 0; p < 4; p++) {
        for (const unsigned char *q = (const unsigned char *)parts[p]; *q; q++) {
            h1 = (h1 ^ *q) * 1099511628211ULL;
            h2 = (h2 ^ *q) * 0x100000001b3ULL + 0x2545f491ULL;
        }
        h1 = (h1 ^ 0xff) * 1099511628211ULL; /* separator */
        h2 = (h2 ^ 0xff) * 0x100000001b3ULL;
    }
    snprintf(out, 48, "%016llx%016llx", (unsigned long long)h1, (unsigned long long)h2);
}

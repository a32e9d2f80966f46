/*
 * openai.h - the `openai` backend's shared state: a session on one
 * OpenAI-compatible server (vLLM, llama-server, TGI, Ollama, trustbench
 * serve), the HTTP engine that keeps N requests in flight with retries
 * (http.c), and the request/response JSON (api.c).
 */
#ifndef TB_OPENAI_H
#define TB_OPENAI_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "trustbench/plugin.h"

typedef struct oa_backend {
    const tb_host_api *api;
    tb_host *host;
    char *url;          /* base, ending in /v1 (no trailing slash) */
    char *root;         /* the server's root: url without /v1 (/tokenize) */
    char *model;        /* model name sent; NULL: the matrix's model id */
    char *auth;         /* "Authorization: Bearer ..." or NULL */
    int concurrency;
    double timeout;     /* seconds per attempt */
    int retries;
    double backoff, backoff_max;
    int cache;
    uint64_t rng;       /* jitter */
    /* The server launcher (launch.c): a command template, or NULL. */
    char *launch;
    char *health;       /* health path polled until 200 */
    char *log_dir;      /* servers' logs; NULL: $TMPDIR */
    double launch_timeout, launch_grace;
    int probe;          /* probe prompt log-probabilities at open: 1, 0, -1 auto */
} oa_backend;

/* A server started for one session. */
typedef struct oa_server {
    pid_t pid;          /* also its process group; 0: none */
    int port;
    char *log;          /* its standard output and error */
} oa_server;

typedef struct oa_session {
    oa_backend *be;
    char *model;
    char *url, *root;   /* this session's server (the launched one, or be's) */
    char *ident;        /* what replies are cached under instead of the URL */
    oa_server server;
    char *no_lp;        /* why the server cannot score prompts, or NULL */
    /* Result storage of the last call. */
    char **kept;
    size_t n_kept;
    double *win_lp;
    int64_t *win_scored;
} oa_session;

/* One HTTP exchange: POST body to url + path; on success `reply` holds the
 * parsed JSON text.  `check` decides whether a 200 body is usable (else the
 * attempt counts as failed: malformed JSON is retried). */
typedef struct oa_call {
    const char *path;   /* "/completions" or "/chat/completions" */
    int root;           /* path is under the server's root, not the API base */
    char *body;         /* JSON, malloc'd by the caller */
    char *reply;        /* malloc'd response body (or the cached one) */
    int from_cache;
} oa_call;

typedef int (*oa_check_fn)(const char *reply, char *why, size_t why_size);

/* Runs every call (cache first, then up to `concurrency` in flight, with
 * retries); fails with the first call that could not be done, naming the
 * reason.  Successful replies are cached. */
tb_status oa_http_run(oa_session *s, oa_call *calls, size_t n, oa_check_fn check,
                      tb_error *err);

/* A key of what a call asks: the server, the path and the body. */
void oa_cache_key(const oa_session *s, const oa_call *c, char out[48]);

/* The API (api.c). */
tb_status oa_generate(void *session, const tb_gen_request *const *reqs, size_t n,
                      tb_gen_result *const *out, tb_error *err);
tb_status oa_loglikelihood(void *session, const tb_ll_request *const *reqs, size_t n,
                           tb_ll_result *const *out, tb_error *err);
tb_status oa_rolling(void *session, const tb_rolling_request *const *reqs, size_t n,
                     tb_rolling_result *const *out, tb_error *err);

/* Echo + logprobs requests (api.c): the body for a text, and the check
 * that a reply's logprobs arrays agree. */
char *oa_score_body(const oa_session *s, const char *text);
int oa_check_score(const char *reply, char *why, size_t size);

/* The launcher (launch.c): starts be->launch for the model file and waits
 * until the health path answers 200; stops it again (SIGTERM to its
 * process group, SIGKILL after the grace period). */
tb_status oa_server_start(oa_session *s, const char *model_path, const char *log_dir,
                          tb_error *err);
void oa_server_stop(oa_session *s);

/* A malloc'd formatted string, or NULL (launch.c). */
char *oa_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Keeps p until the session's next call. */
void oa_keep(oa_session *s, void *p);
void oa_reset(oa_session *s);

#endif

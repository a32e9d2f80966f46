/*
 * openai - a backend that evaluates on an OpenAI-compatible server (vLLM,
 * llama.cpp's llama-server, TGI, Ollama, `trustbench serve`) over HTTP.
 *
 * Generation goes to /v1/completions (or /v1/chat/completions for chat
 * requests); log-likelihoods use echo + logprobs, which vLLM and
 * trustbench serve offer.  Requests run `concurrency` at a time with
 * retries, and every reply is cached in the results database, so a resumed
 * run never sends a request twice.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "openai.h"

static const tb_param openai_params[] = {
    {"url", TB_PARAM_STRING, "http://127.0.0.1:8000/v1", 0, 0, NULL,
     "the server's API base URL, ending in /v1", 0},
    {"model", TB_PARAM_STRING, "", 0, 0, NULL,
     "model name the server knows; empty: the matrix's model id", 0},
    {"api_key_env", TB_PARAM_STRING, "", 0, 0, NULL,
     "environment variable holding the API key (sent as a Bearer token); empty: none",
     TB_PARAM_VOLATILE},
    {"allow_insecure_key", TB_PARAM_BOOL, "false", 0, 0, NULL,
     "send an API key over plain HTTP to a host that is not loopback", TB_PARAM_VOLATILE},
    {"concurrency", TB_PARAM_INT, "4", 1, 256, NULL, "requests in flight",
     TB_PARAM_HAS_MIN | TB_PARAM_HAS_MAX | TB_PARAM_VOLATILE},
    {"timeout", TB_PARAM_FLOAT, "300", 0.01, 86400, NULL, "seconds per attempt",
     TB_PARAM_HAS_MIN | TB_PARAM_HAS_MAX | TB_PARAM_VOLATILE},
    {"retries", TB_PARAM_INT, "6", 0, 100, NULL,
     "retries of a request after 429, 5xx, connection errors, timeouts, malformed replies",
     TB_PARAM_HAS_MIN | TB_PARAM_HAS_MAX | TB_PARAM_VOLATILE},
    {"backoff", TB_PARAM_FLOAT, "1", 0, 3600, NULL,
     "seconds before the first retry; doubles each time, with jitter",
     TB_PARAM_HAS_MIN | TB_PARAM_HAS_MAX | TB_PARAM_VOLATILE},
    {"backoff_max", TB_PARAM_FLOAT, "60", 0, 3600, NULL, "longest wait between retries",
     TB_PARAM_HAS_MIN | TB_PARAM_HAS_MAX | TB_PARAM_VOLATILE},
    {"cache", TB_PARAM_BOOL, "true", 0, 0, NULL,
     "keep replies in the results database and never send a request twice",
     TB_PARAM_VOLATILE},
    {"launch", TB_PARAM_STRING, "", 0, 0, NULL,
     "start this server command per variant ({model} {port} {host} {name}); url is then "
     "ignored; empty: use the server at url", 0},
    {"launch_log_dir", TB_PARAM_PATH, "", 0, 0, NULL,
     "folder for the launched servers' logs (launch-MODEL.log); empty: $TMPDIR",
     TB_PARAM_OPTIONAL | TB_PARAM_VOLATILE},
    {"launch_health", TB_PARAM_STRING, "/health", 0, 0, NULL,
     "path polled until it answers 200", TB_PARAM_VOLATILE},
    {"launch_timeout", TB_PARAM_FLOAT, "600", 0.1, 86400, NULL,
     "seconds the launched server may take to become healthy",
     TB_PARAM_HAS_MIN | TB_PARAM_HAS_MAX | TB_PARAM_VOLATILE},
    {"launch_grace", TB_PARAM_FLOAT, "10", 0, 3600, NULL,
     "seconds between SIGTERM and SIGKILL when the launched server is stopped",
     TB_PARAM_HAS_MIN | TB_PARAM_HAS_MAX | TB_PARAM_VOLATILE},
    {"probe", TB_PARAM_ENUM, "auto", 0, 0, "auto|on|off",
     "one echo + logprobs request when a session opens, to learn whether the server gives "
     "prompt log-probabilities; auto: only for a launched server", TB_PARAM_VOLATILE},
};

/* 1 when the URL's host is loopback (127.0.0.0/8, ::1, localhost). */
static int loopback_host(const char *url)
{
    const char *h = strstr(url, "://");
    h = h ? h + 3 : url;
    const char *at = strpbrk(h, "@/");
    if (at && *at == '@')
        h = at + 1;
    if (!strncmp(h, "127.", 4) || !strncasecmp(h, "localhost", 9) || !strncmp(h, "[::1]", 5))
        return 1;
    return 0;
}

static tb_status check_url(const tb_host_api *api, const char *url, int has_key, int allow,
                           tb_error *err)
{
    int https = !strncasecmp(url, "https://", 8), http = !strncasecmp(url, "http://", 7);
    if (!https && !http) {
        api->errorf(err, "openai: url '%s' must start with http:// or https://", url);
        return TB_ERR_INVALID;
    }
    if (http && has_key && !allow && !loopback_host(url)) {
        api->errorf(err, "openai: url '%s' is plain HTTP to a host that is not loopback, and "
                         "the API key would travel unencrypted: use https://, or set "
                         "allow_insecure_key: true", url);
        return TB_ERR_INVALID;
    }
    return TB_OK;
}

static tb_status read_key(const tb_host_api *api, const tb_config *cfg, oa_backend *be,
                          tb_error *err)
{
    const char *env = "";
    api->config_string(cfg, "api_key_env", &env);
    if (!*env)
        return TB_OK;
    const char *key = getenv(env);
    if (!key || !*key) {
        api->errorf(err, "openai: api_key_env names %s, but that environment variable is "
                         "not set", env);
        return TB_ERR_INVALID;
    }
    size_t len = strlen(key) + 32;
    be->auth = malloc(len);
    if (!be->auth)
        return TB_ERR_NOMEM;
    snprintf(be->auth, len, "Authorization: Bearer %s", key);
    return TB_OK;
}

static void openai_destroy(void *self)
{
    oa_backend *be = self;
    if (!be)
        return;
    free(be->url);
    free(be->root);
    free(be->model);
    free(be->auth);
    free(be->launch);
    free(be->health);
    free(be->log_dir);
    free(be);
}

static tb_status openai_create(const tb_host_api *api, tb_host *host, const tb_config *cfg,
                               void **out, tb_error *err)
{
    oa_backend *be = calloc(1, sizeof *be);
    if (!be) {
        api->errorf(err, "openai: out of memory");
        return TB_ERR_NOMEM;
    }
    be->api = api;
    be->host = host;
    const char *url = "", *model = "", *launch = "", *health = "/health", *probe = "auto";
    int64_t conc = 4, retries = 6;
    int allow = 0;
    api->config_string(cfg, "url", &url);
    api->config_string(cfg, "launch", &launch);
    api->config_string(cfg, "launch_health", &health);
    api->config_string(cfg, "probe", &probe);
    const char *logdir = "";
    api->config_string(cfg, "launch_log_dir", &logdir);
    be->launch_timeout = 600;
    be->launch_grace = 10;
    api->config_float(cfg, "launch_timeout", &be->launch_timeout);
    api->config_float(cfg, "launch_grace", &be->launch_grace);
    be->probe = !strcmp(probe, "on") ? 1 : !strcmp(probe, "off") ? 0 : -1;
    api->config_string(cfg, "model", &model);
    api->config_int(cfg, "concurrency", &conc);
    api->config_int(cfg, "retries", &retries);
    api->config_float(cfg, "timeout", &be->timeout);
    api->config_float(cfg, "backoff", &be->backoff);
    api->config_float(cfg, "backoff_max", &be->backoff_max);
    api->config_bool(cfg, "cache", &be->cache);
    api->config_bool(cfg, "allow_insecure_key", &allow);
    be->concurrency = (int)conc;
    be->retries = (int)retries;
    size_t ul = strlen(url);
    while (ul > 0 && url[ul - 1] == '/')
        ul--;
    be->url = strndup(url, ul);
    be->root = strndup(url, ul >= 3 && !strncmp(url + ul - 3, "/v1", 3) ? ul - 3 : ul);
    be->model = *model ? strdup(model) : NULL;
    be->launch = *launch ? strdup(launch) : NULL;
    be->log_dir = *logdir ? strdup(logdir) : NULL;
    be->health = health[0] == '/' ? strdup(health) : NULL;
    if (be->health == NULL && health[0] != '/') {
        api->errorf(err, "openai: launch_health '%s' must be a path starting with /", health);
        openai_destroy(be);
        return TB_ERR_INVALID;
    }
    be->rng = (api->seed(host) ^ (uint64_t)time(NULL)) | 1;
    tb_status st = be->url && be->root ? read_key(api, cfg, be, err) : TB_ERR_NOMEM;
    if (st == TB_OK)
        st = check_url(api, be->url, be->auth != NULL, allow, err);
    if (st != TB_OK) {
        if (st == TB_ERR_NOMEM)
            api->errorf(err, "openai: out of memory");
        openai_destroy(be);
        return st;
    }
    *out = be;
    return TB_OK;
}

/* One echo + logprobs request: a server that gives no prompt
 * log-probabilities (llama-server's /v1/completions, OpenAI's chat models)
 * is known before any cell runs, and its log-likelihood calls fail at once
 * with the reason instead of sending requests. */
static tb_status probe_logprobs(oa_session *s, tb_error *err)
{
    tb_ll_request req = {sizeof req, "Once upon a time", " there"};
    tb_ll_result res;
    memset(&res, 0, sizeof res);
    res.struct_size = sizeof res;
    const tb_ll_request *rp = &req;
    tb_ll_result *op = &res;
    tb_status st = oa_loglikelihood(s, &rp, 1, &op, err);
    oa_reset(s);
    if (st != TB_ERR_UNSUPPORTED)
        return st;
    s->no_lp = oa_printf("openai: server %s gives no prompt log-probabilities (echo + "
                         "logprobs), and this benchmark needs log-likelihoods: serve the model "
                         "with vLLM or trustbench serve, or choose a generation benchmark "
                         "(the probe when the session opened said: %s)", s->url, err->message);
    if (!s->no_lp)
        return TB_ERR_NOMEM;
    s->be->api->log(s->be->host, TB_LOG_WARN, "openai: server %s gives no prompt "
                    "log-probabilities: the cells that need log-likelihoods fail before they "
                    "start, and benchmarks that can answer by generation do (%s)", s->url,
                    err->message);
    memset(err, 0, sizeof *err);
    return TB_OK;
}

static void session_free(oa_session *s)
{
    if (!s)
        return;
    oa_reset(s);
    oa_server_stop(s);
    free(s->model);
    free(s->url);
    free(s->root);
    free(s->ident);
    free(s->no_lp);
    free(s);
}

static tb_status open_session(oa_backend *be, const tb_backend_open_args *args, oa_session *s,
                              tb_error *err)
{
    if (!be->launch) {
        s->url = strdup(be->url);
        s->root = strdup(be->root);
        s->ident = strdup(be->url);
        if (!s->url || !s->root || !s->ident)
            return TB_ERR_NOMEM;
        /* The server computes with its own weights: say so, since a
         * compressed variant's file is not what it serves. */
        be->api->log(be->host, TB_LOG_INFO, "openai: model '%s' at %s (the server's weights; "
                     "%s is not read)", s->model, be->url,
                     args->model_path ? args->model_path : "-");
    } else {
        if (!args->model_path) {
            be->api->errorf(err, "openai: launch needs the variant's model file");
            return TB_ERR_INVALID;
        }
        /* Replies are cached under the command and the model file, not the
         * port, which differs every run. */
        if (!(s->ident = oa_printf("launch:%s\n%s", be->launch, args->model_path)))
            return TB_ERR_NOMEM;
        tb_status st = oa_server_start(s, args->model_path, be->log_dir, err);
        if (st != TB_OK)
            return st;
    }
    if (be->probe == 1 || (be->probe == -1 && be->launch))
        return probe_logprobs(s, err);
    return TB_OK;
}

static tb_status openai_open(void *self, const tb_backend_open_args *args, void **out,
                             tb_error *err)
{
    oa_backend *be = self;
    oa_session *s = calloc(1, sizeof *s);
    const char *name = be->model ? be->model : args->model_id;
    if (!s || !name || !(s->model = strdup(name))) {
        free(s);
        be->api->errorf(err, "openai: %s", name ? "out of memory" : "no model name");
        return name ? TB_ERR_NOMEM : TB_ERR_INVALID;
    }
    s->be = be;
    tb_status st = open_session(be, args, s, err);
    if (st != TB_OK) {
        if (st == TB_ERR_NOMEM && !err->message[0])
            be->api->errorf(err, "openai: out of memory");
        session_free(s); /* stops a launched server */
        return st;
    }
    *out = s;
    return TB_OK;
}

static void openai_close(void *self, void *session)
{
    (void)self;
    session_free(session);
}

/* ABI 1.2: what the probe found out at open time. */
static uint32_t openai_session_caps(void *session)
{
    const oa_session *s = session;
    uint32_t caps = TB_CAP_GENERATE | TB_CAP_LOGLIKELIHOOD | TB_CAP_ROLLING;
    return s && s->no_lp ? caps & ~(uint32_t)(TB_CAP_LOGLIKELIHOOD | TB_CAP_ROLLING) : caps;
}

static const tb_backend_vtable openai_ops = {
    .struct_size = sizeof(tb_backend_vtable),
    .caps = TB_CAP_GENERATE | TB_CAP_LOGLIKELIHOOD | TB_CAP_ROLLING, /* chat: server side */
    .open = openai_open,
    .close = openai_close,
    .generate = oa_generate,
    .loglikelihood = oa_loglikelihood,
    .loglikelihood_rolling = oa_rolling,
    .session_caps = openai_session_caps,
};

static const tb_plugin_descriptor openai_descriptor = {
    TB_DESCRIPTOR_HEADER,
    .kind = TB_KIND_BACKEND,
    .name = "openai",
    .version = "0.1.0",
    .description = "an OpenAI-compatible HTTP server (vLLM, llama-server, trustbench serve)",
    TB_PARAMS(openai_params),
    .create = openai_create,
    .destroy = openai_destroy,
    .ops.backend = &openai_ops,
};

TB_PLUGIN_DEFINE(openai_descriptor)

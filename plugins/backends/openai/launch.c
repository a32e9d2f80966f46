/* launch.c - the openai backend's server launcher: for a session, start
 * the command of `launch` (trustbench serve, llama-server, vllm serve ...)
 * on the variant's model file and a free loopback port, wait for its health
 * endpoint, and stop it when the session closes.
 *
 * The server runs in its own process group under a small supervisor
 * process, so a terminal's Ctrl-C reaches trustbench only (which then stops
 * the server in order), stopping the group also ends whatever the command's
 * shell started, and PR_SET_PDEATHSIG tells the supervisor to stop the
 * group when trustbench itself is killed outright. */
#include <curl/curl.h>
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "openai.h"

char *oa_printf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *p = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (p) {
        va_start(ap, fmt);
        vsnprintf(p, (size_t)n + 1, fmt, ap);
        va_end(ap);
    }
    return p;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void sleep_s(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    nanosleep(&ts, NULL); /* an interrupt ends it early, which is wanted */
}

/* A loopback port nobody listens on now: bind port 0 and read what the
 * kernel chose.  Another process may take it before the server does; the
 * server then fails to bind and the error shows its log. */
static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    int port = -1;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    close(fd);
    return port;
}

typedef struct strbuf {
    char *p;
    size_t len, cap;
    int oom;
} strbuf;

static void sb_add(strbuf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = (b->len + n + 1) * 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

/* A value for `sh -c`, single-quoted so that spaces and quotes in a path
 * stay one word. */
static void sb_quoted(strbuf *b, const char *s)
{
    sb_add(b, "'", 1);
    for (; *s; s++) {
        if (*s == '\'')
            sb_add(b, "'\\''", 4);
        else
            sb_add(b, s, 1);
    }
    sb_add(b, "'", 1);
}

/* The command with {model} {port} {host} {name} replaced. */
static char *expand(const char *tpl, const char *model, const char *name, int port)
{
    strbuf b = {0};
    char num[16];
    snprintf(num, sizeof num, "%d", port);
    for (const char *p = tpl; *p;) {
        if (!strncmp(p, "{model}", 7)) {
            sb_quoted(&b, model);
            p += 7;
        } else if (!strncmp(p, "{name}", 6)) {
            sb_quoted(&b, name);
            p += 6;
        } else if (!strncmp(p, "{port}", 6)) {
            sb_add(&b, num, strlen(num));
            p += 6;
        } else if (!strncmp(p, "{host}", 6)) {
            sb_add(&b, "127.0.0.1", 9);
            p += 6;
        } else {
            sb_add(&b, p++, 1);
        }
    }
    if (b.oom || !b.p) {
        free(b.p);
        return NULL;
    }
    return b.p;
}

/* The log's last lines (at most ~1.5 kB), for error messages. */
static void log_tail(const char *path, char *out, size_t size)
{
    out[0] = '\0';
    FILE *f = path ? fopen(path, "rb") : NULL;
    if (!f)
        return;
    char buf[1536];
    long n = 0;
    if (fseek(f, 0, SEEK_END) == 0) {
        long end = ftell(f);
        long from = end > (long)sizeof buf - 1 ? end - (long)sizeof buf + 1 : 0;
        if (fseek(f, from, SEEK_SET) == 0)
            n = (long)fread(buf, 1, sizeof buf - 1, f);
    }
    fclose(f);
    buf[n] = '\0';
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        buf[--n] = '\0';
    /* Keep the last 12 lines. */
    const char *start = buf;
    int lines = 0;
    for (long i = n - 1; i >= 0; i--)
        if (buf[i] == '\n' && ++lines == 12) {
            start = buf + i + 1;
            break;
        }
    snprintf(out, size, "%s", start);
}

static void close_inherited(void)
{
    /* The runner's pipes and the results database stay out of the server. */
#ifdef SYS_close_range
    if (syscall(SYS_close_range, 3u, ~0u, 0u) == 0)
        return;
#endif
    for (int fd = 3; fd < 1024; fd++)
        close(fd);
}

/* The exit status of the supervisor for a command that ended with `st`. */
static int status_code(int st)
{
    return WIFEXITED(st) ? WEXITSTATUS(st) : WIFSIGNALED(st) ? 128 + WTERMSIG(st) : 1;
}

/* Reaps children (the command and whatever of its descendants were
 * orphaned to this subreaper) until none is left, or for `grace` seconds;
 * 1 when none is left. */
static int reap_all(pid_t cmd_pid, int *cmd_st, double grace)
{
    for (double waited = 0;; waited += 0.02) {
        int st;
        pid_t w;
        while ((w = waitpid(-1, &st, WNOHANG)) > 0)
            if (w == cmd_pid)
                *cmd_st = st;
        if (w < 0 && errno == ECHILD)
            return 1;
        if (waited >= grace)
            return 0;
        struct timespec ts = {0, 20000000L};
        nanosleep(&ts, NULL);
    }
}

/* Stops the group (this process has SIGTERM blocked) and exits once every
 * descendant is gone; after the grace period, SIGKILL ends all of them and
 * this process too. */
static void stop_group(pid_t cmd_pid, int *cmd_st, double grace, int code)
{
    kill(0, SIGTERM);
    if (!reap_all(cmd_pid, cmd_st, grace))
        kill(0, SIGKILL);
    _exit(code);
}

/* The supervisor: the first process of the server's group, and the
 * subreaper of everything the command starts.  It runs the command
 * through the shell.  When it receives SIGTERM (from oa_server_stop, or
 * from the kernel when trustbench dies: PDEATHSIG) it stops the whole
 * group, SIGKILL after the grace period, and exits only when all of it is
 * gone, so nothing the command started outlives trustbench, even when
 * trustbench is killed outright.  When the command ends by itself, it
 * stops what the command left and exits with the command's status.  Forked
 * from a process that may have threads: only async-signal-safe calls (and
 * sigtimedwait and prctl, plain system calls). */
static void supervisor(const char *cmd, const char *log, pid_t parent, double grace)
{
    setpgid(0, 0);
    sigset_t set, none;
    sigemptyset(&none);
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGCHLD);
    sigprocmask(SIG_SETMASK, &set, NULL); /* taken with sigtimedwait below */
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    if (getppid() != parent) /* trustbench died before prctl */
        _exit(126);
    int out = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int in = open("/dev/null", O_RDONLY);
    if (out < 0 || in < 0)
        _exit(126);
    dup2(in, 0);
    dup2(out, 1);
    dup2(out, 2);
    close_inherited();
    pid_t cmd_pid = fork();
    if (cmd_pid < 0)
        _exit(126);
    if (cmd_pid == 0) {
        signal(SIGPIPE, SIG_DFL); /* trustbench ignores it; the server need not */
        sigprocmask(SIG_SETMASK, &none, NULL);
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    int st = -1;
    for (;;) {
        struct timespec tick = {1, 0};
        int sig = sigtimedwait(&set, NULL, &tick);
        pid_t w;
        int wst;
        while ((w = waitpid(-1, &wst, WNOHANG)) > 0)
            if (w == cmd_pid)
                st = wst;
        if (st != -1) /* the command ended by itself */
            stop_group(cmd_pid, &wst, grace, status_code(st));
        if (sig == SIGTERM || sig == SIGINT || sig == SIGHUP)
            stop_group(cmd_pid, &st, grace, 143);
    }
}

static size_t discard(char *p, size_t size, size_t n, void *u)
{
    (void)p;
    (void)u;
    return size * n;
}

/* 1 when GET url answers 200 within a second or two. */
static int healthy(const char *url)
{
    CURL *c = curl_easy_init();
    if (!c)
        return 0;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 2000L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
    long code = 0;
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_cleanup(c);
    return code == 200;
}

/* Reaps the server if it has ended; 1 when it has, with *status. */
static int ended(pid_t pid, int *status)
{
    pid_t w;
    while ((w = waitpid(pid, status, WNOHANG)) < 0 && errno == EINTR)
        ;
    return w == pid || (w < 0 && errno == ECHILD);
}

void oa_server_stop(oa_session *s)
{
    oa_server *sv = &s->server;
    if (sv->pid > 0) {
        int status = 0, gone = ended(sv->pid, &status);
        if (!gone) {
            kill(-sv->pid, SIGTERM);
            /* The supervisor itself escalates after the grace period. */
            double until = now_s() + s->be->launch_grace + 2;
            while (!(gone = ended(sv->pid, &status)) && now_s() < until)
                sleep_s(0.05);
        }
        /* Whatever of the group ignored SIGTERM (or outlived the leader). */
        kill(-sv->pid, SIGKILL);
        if (!gone)
            while (waitpid(sv->pid, &status, 0) < 0 && errno == EINTR)
                ;
        s->be->api->log(s->be->host, TB_LOG_INFO, "openai: stopped the server on port %d "
                        "(log: %s)", sv->port, sv->log);
    }
    free(sv->log);
    memset(sv, 0, sizeof *sv);
}

static char *log_path(const char *log_dir, const char *model_path, int port)
{
    const char *base = strrchr(model_path, '/');
    base = base ? base + 1 : model_path;
    size_t bl = strlen(base);
    if (bl > 5 && !strcmp(base + bl - 5, ".gguf"))
        bl -= 5;
    const char *tmp = getenv("TMPDIR");
    if (log_dir) /* one file per model, rewritten by every run */
        return oa_printf("%s/launch-%.*s.log", log_dir, (int)bl, base);
    return oa_printf("%s/trustbench-launch-%d-%d-%.*s.log", tmp && *tmp ? tmp : "/tmp",
                     (int)getpid(), port, (int)bl, base);
}

static tb_status start_failed(oa_session *s, const char *what, tb_status st, tb_error *err)
{
    char tail[1600];
    log_tail(s->server.log, tail, sizeof tail);
    s->be->api->errorf(err, "openai: the launched server %s (log %s)%s%s", what,
                       s->server.log ? s->server.log : "-", tail[0] ? "; its last lines:\n" : "",
                       tail);
    oa_server_stop(s);
    return st;
}

tb_status oa_server_start(oa_session *s, const char *model_path, const char *log_dir,
                          tb_error *err)
{
    oa_backend *be = s->be;
    oa_server *sv = &s->server;
    sv->port = free_port();
    if (sv->port <= 0) {
        be->api->errorf(err, "openai: no free loopback port: %s", strerror(errno));
        return TB_ERR_IO;
    }
    /* The server may run in another folder: give it an absolute path. */
    char *abs = realpath(model_path, NULL);
    char *cmd = expand(be->launch, abs ? abs : model_path, s->model, sv->port);
    free(abs);
    sv->log = log_path(log_dir, model_path, sv->port);
    char health[128];
    snprintf(health, sizeof health, "http://127.0.0.1:%d%s", sv->port, be->health);
    s->url = oa_printf("http://127.0.0.1:%d/v1", sv->port);
    s->root = oa_printf("http://127.0.0.1:%d", sv->port);
    if (!cmd || !sv->log || !s->url || !s->root) {
        free(cmd);
        be->api->errorf(err, "openai: out of memory");
        return TB_ERR_NOMEM;
    }
    fflush(stdout);
    fflush(stderr);
    pid_t parent = getpid(), pid = fork();
    if (pid == 0)
        supervisor(cmd, sv->log, parent, be->launch_grace);
    if (pid < 0) {
        be->api->errorf(err, "openai: cannot start the server: fork: %s", strerror(errno));
        free(cmd);
        return TB_ERR_IO;
    }
    setpgid(pid, pid); /* also here, so a stop right away reaches the group */
    sv->pid = pid;
    be->api->log(be->host, TB_LOG_INFO, "openai: started `%s` as pid %d (log: %s)", cmd,
                 (int)pid, sv->log);
    free(cmd);
    double t0 = now_s(), wait = 0.05;
    for (;;) {
        int status = 0;
        if (ended(pid, &status)) {
            sv->pid = 0;
            char what[96];
            if (WIFSIGNALED(status))
                snprintf(what, sizeof what, "was killed by signal %d before it was ready",
                         WTERMSIG(status));
            else
                snprintf(what, sizeof what, "exited with status %d before it was ready",
                         WIFEXITED(status) ? WEXITSTATUS(status) : -1);
            return start_failed(s, what, TB_ERR_BACKEND, err);
        }
        if (healthy(health))
            break;
        if (be->api->cancelled(be->host))
            return start_failed(s, "was stopped: interrupted while it started",
                                TB_ERR_CANCELLED, err);
        if (now_s() - t0 > be->launch_timeout) {
            char what[128];
            snprintf(what, sizeof what, "did not answer 200 on %s within %g s", be->health,
                     be->launch_timeout);
            return start_failed(s, what, TB_ERR_BACKEND, err);
        }
        sleep_s(wait);
        if (wait < 0.5)
            wait *= 1.5;
    }
    be->api->log(be->host, TB_LOG_INFO, "openai: server ready on %s after %.1f s", s->url,
                 now_s() - t0);
    return TB_OK;
}

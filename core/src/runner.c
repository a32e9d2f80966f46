/* runner.c - the scheduler: variants, forked cells, time limits, resume. */
#include "runner.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h" /* PACKAGE_VERSION */
#include "compress.h"
#include "hash.h"
#include "host.h"
#include "rng.h"
#include "stats.h"
#include "store.h"
#include "util.h"
#include "wire.h"

#define TERM_GRACE 2.0       /* seconds between SIGTERM and SIGKILL on timeout */
#define INTERRUPT_GRACE 10.0 /* seconds cells get to stop after an interrupt */

/* A forked cell. */
typedef struct slot {
    pid_t pid;
    int fd;
    size_t cell;
    size_t variant_state;
    double started;
    double deadline;  /* 0: none */
    double kill_at;   /* 0: not scheduled */
    int timed_out;
    tb_wire_reader rd;
    int got_done;
    tb_status done_status;
    char *done_msg;
    char *last_error; /* the last error line the plugin logged */
    tb_item_row *items;
    size_t n_items, cap_items;
    tb_metric_row *metrics;
    size_t n_metrics, cap_metrics;
    int protocol_error;
    tb_live_cell live;
    char *label;
} slot;

/* A variant whose session is open. */
typedef struct variant_state {
    size_t variant;
    void *session;
    size_t running;
    int all_spawned;
    int open;
} variant_state;

typedef struct runner {
    const tb_matrix *m;
    const tb_run_options *o;
    tb_console *con;
    tb_run_summary *sum;
    tb_store *store;
    int64_t run_id;
    int resamples;
    slot *slots;
    size_t n_slots;
    variant_state *vs;
    size_t n_vs;
    /* Backend instance, made once per run. */
    void *backend;
    tb_host backend_host;
    const tb_backend_vtable *bops;
    int forwarded_interrupts;
    double last_draw;
    size_t started_cells, todo_cells;
    char **model_hash; /* per model, computed when a compression needs it */
    char *calib_hash;
    char *artifacts;   /* folder of compressed models beside the database */
    const char *db;
} runner;

/* The child's cancellation flag.  A signal handler can only reach global
 * state, and a child process has exactly one cell, so this is the one
 * global of the core; the runner process never reads it. */
static volatile sig_atomic_t child_cancelled;

static void on_child_signal(int sig)
{
    (void)sig;
    child_cancelled = 1;
}

static int interrupted(const runner *r)
{
    return r->o->interrupted && *r->o->interrupted;
}

/* ------------------------------------------------------------------ */
/* The child                                                           */
/* ------------------------------------------------------------------ */

static void child_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_child_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
    sa.sa_handler = SIG_DFL;
    sigaction(SIGCHLD, &sa, NULL);
    sigaction(SIGALRM, &sa, NULL);
}

static void child_close_inherited(runner *r, int keep)
{
    if (r->o->wake_fd >= 0)
        close(r->o->wake_fd);
    for (size_t i = 0; i < r->n_slots; i++)
        if (r->slots[i].fd != keep)
            close(r->slots[i].fd);
}

static void child_main(runner *r, size_t ci, void *session, int fd)
{
    const tb_matrix *m = r->m;
    const tb_cell *cell = &m->cells[ci];
    const tb_benchmark_spec *bs = &m->benchmarks[cell->benchmark];
    child_cancelled = 0;
    child_signals();
    child_close_inherited(r, fd);
    double timeout = r->o->timeout >= 0 ? r->o->timeout : bs->timeout;
    if (timeout > 0) /* a backstop should the runner be busy compressing */
        alarm((unsigned)ceil(timeout) + 5);

    tb_host h;
    memset(&h, 0, sizeof h);
    h.plugin = bs->use.plugin->name;
    h.wire_fd = fd;
    h.cancel = &child_cancelled;
    h.seed = m->seed;
    h.threads = 1;
    h.limit = bs->limit;
    h.backend = r->bops;
    h.backend_self = r->backend;
    h.session = session;
    h.db_path = r->db;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    if (cpus > r->o->jobs)
        h.threads = (int)(cpus / r->o->jobs);

    const tb_plugin_descriptor *d = bs->use.plugin->desc;
    tb_error err;
    memset(&err, 0, sizeof err);
    void *inst = NULL;
    tb_status st = d->create(tb_host_api_table(), &h, bs->use.config, &inst, &err);
    if (st == TB_OK) {
        st = d->ops.benchmark->run(inst, &err);
        d->destroy(inst);
    }
    tb_host_release(&h);
    if (st != TB_OK && !err.message[0])
        snprintf(err.message, sizeof err.message, "%s", tb_status_name(st));
    tb_wire_send_done(fd, st, st == TB_OK ? NULL : err.message);
    _exit(0);
}

/* ------------------------------------------------------------------ */
/* Messages from children                                              */
/* ------------------------------------------------------------------ */

static void slot_take(slot *s, tb_wire_msg *msg, runner *r)
{
    switch (msg->type) {
    case TB_WIRE_PROGRESS:
        s->live.done = msg->done;
        s->live.total = msg->total;
        break;
    case TB_WIRE_LOG:
        if (msg->level == TB_LOG_ERROR) {
            free(s->last_error);
            s->last_error = tb_xstrdup(msg->text);
        }
        tb_console_log(r->con, (tb_log_level)msg->level,
                       r->m->benchmarks[r->m->cells[s->cell].benchmark].use.plugin->name,
                       "%s", msg->text ? msg->text : "");
        break;
    case TB_WIRE_ITEM: {
        void *items = s->items;
        tb_grow(&items, &s->cap_items, s->n_items + 1, sizeof *s->items);
        s->items = items;
        s->items[s->n_items++] = msg->item;
        memset(&msg->item, 0, sizeof msg->item);
        break;
    }
    case TB_WIRE_METRIC: {
        void *metrics = s->metrics;
        tb_grow(&metrics, &s->cap_metrics, s->n_metrics + 1, sizeof *s->metrics);
        s->metrics = metrics;
        s->metrics[s->n_metrics++] = msg->metric;
        memset(&msg->metric, 0, sizeof msg->metric);
        break;
    }
    case TB_WIRE_CACHE: {
        /* Stored at once: what a cell bought survives even if it fails. */
        tb_error err;
        if (tb_store_cache_put(r->store, msg->ns, msg->key, msg->value, &err) != TB_OK)
            tb_console_log(r->con, TB_LOG_WARN, NULL, "%s", err.message);
        break;
    }
    case TB_WIRE_DONE:
        s->got_done = 1;
        s->done_status = msg->status;
        s->done_msg = msg->text;
        msg->text = NULL;
        break;
    }
    tb_wire_msg_free(msg);
}

/* Reads what is available; returns 1 at end of file. */
static int slot_read(slot *s, runner *r)
{
    char buf[65536];
    for (;;) {
        ssize_t n = read(s->fd, buf, sizeof buf);
        if (n > 0) {
            tb_wire_reader_feed(&s->rd, buf, (size_t)n);
            tb_wire_msg msg;
            int rc;
            while ((rc = tb_wire_next(&s->rd, &msg)) == 1)
                slot_take(s, &msg, r);
            if (rc < 0)
                s->protocol_error = 1;
            continue;
        }
        if (n == 0)
            return 1;
        if (errno == EINTR)
            continue;
        return 0; /* EAGAIN: nothing more for now */
    }
}

/* ------------------------------------------------------------------ */
/* Finishing a cell                                                    */
/* ------------------------------------------------------------------ */

static void free_rows(slot *s)
{
    for (size_t i = 0; i < s->n_items; i++) {
        tb_wire_msg tmp;
        memset(&tmp, 0, sizeof tmp);
        tmp.item = s->items[i];
        tb_wire_msg_free(&tmp);
    }
    for (size_t i = 0; i < s->n_metrics; i++) {
        tb_wire_msg tmp;
        memset(&tmp, 0, sizeof tmp);
        tmp.metric = s->metrics[i];
        tb_wire_msg_free(&tmp);
    }
    free(s->items);
    free(s->metrics);
    s->items = NULL;
    s->metrics = NULL;
    s->n_items = s->n_metrics = s->cap_items = s->cap_metrics = 0;
}

typedef struct metric_list {
    tb_metric_row *rows;
    char **names; /* owned names of derived rows */
    size_t n, cap, n_names;
} metric_list;

static void metric_add(metric_list *l, tb_metric_row row, char *owned_name)
{
    void *rows = l->rows;
    tb_grow(&rows, &l->cap, l->n + 1, sizeof *l->rows);
    l->rows = rows;
    if (owned_name) {
        l->names = tb_xrealloc(l->names, (l->n_names + 1) * sizeof *l->names);
        l->names[l->n_names++] = owned_name;
        row.name = owned_name;
    }
    l->rows[l->n++] = row;
}

static tb_estimate estimate(runner *r, const slot *s, const char *metric,
                            const char *group, const char *name)
{
    size_t n = 0;
    double *x = tb_xmalloc((s->n_items + 1) * sizeof *x);
    for (size_t i = 0; i < s->n_items; i++) {
        const tb_item_row *it = &s->items[i];
        if (strcmp(it->metric, metric) != 0)
            continue;
        if (group && !tb_str_eq(it->group, group))
            continue;
        x[n++] = it->score;
    }
    char *label = tb_xasprintf("%s/%s", r->m->cells[s->cell].key, name);
    tb_estimate e = tb_stats_mean_ci(x, n, tb_rng_derive(r->m->seed, label),
                                     r->resamples, 0.95);
    free(label);
    free(x);
    return e;
}

/* Turns reported metrics into stored rows: FROM_ITEMS metrics get their
 * value and CI from the items, PER_GROUP ones a row per group. */
static int build_metrics(runner *r, const slot *s, metric_list *out, char **why)
{
    for (size_t i = 0; i < s->n_metrics; i++) {
        const tb_metric_row *mr = &s->metrics[i];
        for (size_t j = 0; j < i; j++)
            if (strcmp(s->metrics[j].name, mr->name) == 0) {
                *why = tb_xasprintf("metric '%s' was reported twice", mr->name);
                return -1;
            }
        tb_metric_row row = *mr;
        if (!(mr->flags & TB_METRIC_FROM_ITEMS)) {
            metric_add(out, row, NULL);
            continue;
        }
        tb_estimate e = estimate(r, s, mr->name, NULL, mr->name);
        row.value = e.value;
        row.ci_low = e.ci_low;
        row.ci_high = e.ci_high;
        row.n = e.n;
        row.flags &= ~(uint32_t)TB_METRIC_PER_GROUP;
        metric_add(out, row, NULL);
        if (!(mr->flags & TB_METRIC_PER_GROUP))
            continue;
        /* Groups in the order they first appear. */
        for (size_t k = 0; k < s->n_items; k++) {
            const tb_item_row *it = &s->items[k];
            if (!it->group || strcmp(it->metric, mr->name) != 0)
                continue;
            int seen = 0;
            for (size_t q = 0; q < k && !seen; q++)
                seen = s->items[q].group && strcmp(s->items[q].metric, mr->name) == 0 &&
                       strcmp(s->items[q].group, it->group) == 0;
            if (seen)
                continue;
            char *gname = tb_xasprintf("%s[%s]", mr->name, it->group);
            tb_estimate g = estimate(r, s, mr->name, it->group, gname);
            tb_metric_row grow = row;
            grow.value = g.value;
            grow.ci_low = g.ci_low;
            grow.ci_high = g.ci_high;
            grow.n = g.n;
            metric_add(out, grow, gname);
        }
    }
    return 0;
}

static void metric_list_free(metric_list *l)
{
    for (size_t i = 0; i < l->n_names; i++)
        free(l->names[i]);
    free(l->names);
    free(l->rows);
}

static const char *signal_text(int sig)
{
    const char *s = strsignal(sig);
    return s ? s : "unknown signal";
}

static void cell_failed(runner *r, slot *s, tb_cell_status st, const char *reason)
{
    tb_error err;
    double secs = tb_now_monotonic() - s->started;
    if (tb_store_cell_fail(r->store, r->m->cells[s->cell].key, st, reason, secs,
                           &err) != TB_OK)
        tb_console_log(r->con, TB_LOG_ERROR, NULL, "%s", err.message);
    if (st == TB_CELL_INTERRUPTED)
        r->sum->interrupted++;
    else
        r->sum->failed++;
    tb_console_log(r->con, st == TB_CELL_INTERRUPTED ? TB_LOG_WARN : TB_LOG_ERROR,
                   NULL, "%s: %s: %s", s->label, tb_cell_status_name(st), reason);
}

static void cell_commit(runner *r, slot *s)
{
    metric_list ml;
    memset(&ml, 0, sizeof ml);
    char *why = NULL;
    if (build_metrics(r, s, &ml, &why) != 0) {
        cell_failed(r, s, TB_CELL_FAILED, why);
        free(why);
        metric_list_free(&ml);
        return;
    }
    tb_error err;
    double secs = tb_now_monotonic() - s->started;
    if (tb_store_cell_commit(r->store, r->m->cells[s->cell].key, s->items,
                             s->n_items, ml.rows, ml.n, secs, &err) != TB_OK) {
        char *reason = tb_xasprintf("results could not be stored: %s", err.message);
        cell_failed(r, s, TB_CELL_FAILED, reason);
        free(reason);
    } else {
        r->sum->done++;
        char rate[96];
        tb_console_rate(&s->live, tb_now_monotonic(), rate, sizeof rate);
        tb_console_log(r->con, TB_LOG_INFO, NULL, "%s: done, %zu items, %zu metrics (%s)",
                       s->label, s->n_items, ml.n, rate);
    }
    metric_list_free(&ml);
}

/* Decides what became of a child from what it said and how it ended. */
static void classify(runner *r, slot *s, int wstatus)
{
    double limit = s->deadline > 0 ? s->deadline - s->started : 0;
    int sig = WIFSIGNALED(wstatus) ? WTERMSIG(wstatus) : 0;
    char *reason = NULL;
    if (s->timed_out || sig == SIGALRM) {
        reason = tb_xasprintf("exceeded the time limit of %g s%s", limit,
                              sig == SIGKILL ? " and ignored cancellation" : "");
        cell_failed(r, s, TB_CELL_TIMEOUT, reason);
    } else if (s->got_done && s->done_status == TB_OK && !s->protocol_error &&
               WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0) {
        cell_commit(r, s);
    } else if (interrupted(r) &&
               (!s->got_done || s->done_status == TB_ERR_CANCELLED || sig)) {
        cell_failed(r, s, TB_CELL_INTERRUPTED, "interrupted by the user");
    } else if (s->got_done && s->done_status != TB_OK) {
        reason = tb_xasprintf("%s: %s", tb_status_name(s->done_status),
                              s->done_msg ? s->done_msg : "");
        cell_failed(r, s, TB_CELL_FAILED, reason);
    } else if (sig) {
        reason = tb_xasprintf("crashed: signal %d (%s)%s%s", sig, signal_text(sig),
                              s->last_error ? "; last error: " : "",
                              s->last_error ? s->last_error : "");
        cell_failed(r, s, TB_CELL_FAILED, reason);
    } else if (s->protocol_error) {
        cell_failed(r, s, TB_CELL_FAILED,
                    "sent malformed results (memory corruption in the plugin?)");
    } else {
        reason = tb_xasprintf("exited with status %d without reporting an end",
                              WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -1);
        cell_failed(r, s, TB_CELL_FAILED, reason);
    }
    free(reason);
}

static void variant_release(runner *r, size_t vsi)
{
    variant_state *v = &r->vs[vsi];
    if (v->open && v->all_spawned && v->running == 0) {
        if (r->bops->close)
            r->bops->close(r->backend, v->session);
        v->session = NULL;
        v->open = 0;
    }
}

static void slot_reap(runner *r, size_t i)
{
    slot *s = &r->slots[i];
    int wstatus = 0;
    while (waitpid(s->pid, &wstatus, 0) < 0 && errno == EINTR)
        ;
    close(s->fd);
    classify(r, s, wstatus);
    size_t vsi = s->variant_state;
    free_rows(s);
    tb_wire_reader_free(&s->rd);
    free(s->done_msg);
    free(s->last_error);
    free(s->label);
    r->slots[i] = r->slots[--r->n_slots];
    r->vs[vsi].running--;
    variant_release(r, vsi);
}

/* ------------------------------------------------------------------ */
/* The event loop                                                      */
/* ------------------------------------------------------------------ */

static void handle_interrupt(runner *r, double now)
{
    int count = (int)*r->o->interrupted;
    if (count <= r->forwarded_interrupts)
        return;
    if (r->forwarded_interrupts == 0)
        tb_console_log(r->con, TB_LOG_WARN, NULL,
                       "interrupted: stopping %zu running cell(s); press Ctrl-C again "
                       "to kill them at once", r->n_slots);
    for (size_t i = 0; i < r->n_slots; i++) {
        slot *s = &r->slots[i];
        kill(s->pid, count >= 2 ? SIGKILL : SIGINT);
        if (count < 2 && (s->kill_at == 0 || s->kill_at > now + INTERRUPT_GRACE))
            s->kill_at = now + INTERRUPT_GRACE;
    }
    r->forwarded_interrupts = count;
}

static void check_deadlines(runner *r, double now)
{
    for (size_t i = 0; i < r->n_slots; i++) {
        slot *s = &r->slots[i];
        if (s->deadline > 0 && now >= s->deadline && !s->timed_out) {
            s->timed_out = 1;
            kill(s->pid, SIGTERM);
            s->kill_at = now + TERM_GRACE;
        }
        if (s->kill_at > 0 && now >= s->kill_at) {
            kill(s->pid, SIGKILL);
            s->kill_at = now + 3600; /* once */
        }
    }
}

static int poll_timeout_ms(runner *r, double now, double max_wait)
{
    double wait = max_wait;
    for (size_t i = 0; i < r->n_slots; i++) {
        const slot *s = &r->slots[i];
        if (s->deadline > 0 && !s->timed_out && s->deadline - now < wait)
            wait = s->deadline - now;
        if (s->kill_at > 0 && s->kill_at - now < wait)
            wait = s->kill_at - now;
    }
    if (r->con->tty && r->n_slots > 0 && wait > 0.25)
        wait = 0.25;
    if (wait < 0)
        wait = 0;
    return (int)(wait * 1000.0) + 1;
}

static void draw(runner *r, double now)
{
    if (r->con->tty && now - r->last_draw < 0.2)
        return;
    r->last_draw = now;
    tb_live_cell *cells = tb_xcalloc(r->n_slots + 1, sizeof *cells);
    for (size_t i = 0; i < r->n_slots; i++)
        cells[i] = r->slots[i].live;
    tb_console_live(r->con, cells, r->n_slots, now);
    for (size_t i = 0; i < r->n_slots; i++)
        r->slots[i].live.last_logged = cells[i].last_logged;
    free(cells);
}

/* Waits up to max_wait seconds for something to happen, and handles it. */
static void service(runner *r, double max_wait)
{
    double now = tb_now_monotonic();
    struct pollfd *fds = tb_xcalloc(r->n_slots + 1, sizeof *fds);
    size_t n = 0;
    if (r->o->wake_fd >= 0) {
        fds[n].fd = r->o->wake_fd;
        fds[n++].events = POLLIN;
    }
    size_t first_slot = n;
    for (size_t i = 0; i < r->n_slots; i++) {
        fds[n].fd = r->slots[i].fd;
        fds[n++].events = POLLIN;
    }
    int rc = poll(fds, n, poll_timeout_ms(r, now, max_wait));
    if (rc > 0 && first_slot == 1 && (fds[0].revents & POLLIN)) {
        char drain[64];
        while (read(r->o->wake_fd, drain, sizeof drain) > 0)
            ;
    }
    /* Reap from the end so removing a slot keeps earlier indices valid. */
    for (size_t k = n; rc > 0 && k-- > first_slot;) {
        if (!fds[k].revents)
            continue;
        size_t i = k - first_slot;
        if (slot_read(&r->slots[i], r))
            slot_reap(r, i);
    }
    free(fds);
    now = tb_now_monotonic();
    if (interrupted(r))
        handle_interrupt(r, now);
    check_deadlines(r, now);
    if (r->n_slots)
        draw(r, now);
}

/* ------------------------------------------------------------------ */
/* Starting cells                                                      */
/* ------------------------------------------------------------------ */

static int spawn(runner *r, size_t ci, size_t vsi, tb_error *err)
{
    const tb_matrix *m = r->m;
    const tb_cell *cell = &m->cells[ci];
    int p[2];
    if (pipe(p) != 0) {
        tb_errorf(err, "pipe: %s", strerror(errno));
        return -1;
    }
    fflush(stdout);
    fflush(stderr);
    void *session = r->vs[vsi].session;
    pid_t pid = fork();
    if (pid < 0) {
        tb_errorf(err, "fork: %s", strerror(errno));
        close(p[0]);
        close(p[1]);
        return -1;
    }
    if (pid == 0) {
        close(p[0]);
        child_main(r, ci, session, p[1]);
    }
    close(p[1]);
    fcntl(p[0], F_SETFL, fcntl(p[0], F_GETFL) | O_NONBLOCK);
    fcntl(p[0], F_SETFD, FD_CLOEXEC);
    slot *s = &r->slots[r->n_slots++];
    memset(s, 0, sizeof *s);
    s->pid = pid;
    s->fd = p[0];
    s->cell = ci;
    s->variant_state = vsi;
    s->started = tb_now_monotonic();
    const tb_benchmark_spec *bs = &m->benchmarks[cell->benchmark];
    double timeout = r->o->timeout >= 0 ? r->o->timeout : bs->timeout;
    s->deadline = timeout > 0 ? s->started + timeout : 0;
    s->label = tb_xasprintf("[%zu/%zu] %s | %s", ++r->started_cells, r->todo_cells,
                            m->variants[cell->variant].label, bs->use.label);
    s->live.label = s->label;
    s->live.started = s->started;
    s->live.last_logged = s->started;
    r->vs[vsi].running++;
    tb_console_log(r->con, TB_LOG_INFO, NULL, "%s: started", s->label);
    return 0;
}

/* ------------------------------------------------------------------ */
/* Compressed variants                                                 */
/* ------------------------------------------------------------------ */

static tb_status make_parent_dirs(const char *path, tb_error *err);

static const char *model_hash(runner *r, size_t model, char **why)
{
    if (!r->model_hash[model]) {
        char hex[65];
        tb_error err;
        tb_console_log(r->con, TB_LOG_INFO, NULL, "hashing model '%s' for the compression cache",
                       r->m->models[model].id);
        if (tb_sha256_path(r->m->models[model].path, hex, &err) != TB_OK) {
            *why = tb_xasprintf("cannot hash the model: %s", err.message);
            return NULL;
        }
        r->model_hash[model] = tb_xstrdup(hex);
    }
    return r->model_hash[model];
}

/* The cache key of a compressed model: what it was made from and how. */
static char *artifact_key(runner *r, const tb_variant *v, char **why)
{
    const tb_model_spec *ms = &r->m->models[v->model];
    const char *mh = model_hash(r, v->model, why);
    if (!mh)
        return NULL;
    const tb_plugin_entry *c = v->compressor.plugin;
    tb_buf b = {0};
    tb_buf_printf(&b, "trustbench-artifact-v1\nmodel:%s\ntokenizer:%s\nchat:%s\n"
                      "compressor:%s %s\nparams:%s", mh, ms->tokenizer ? ms->tokenizer : "",
                  ms->chat_template ? ms->chat_template : "", c->name, c->desc->version,
                  v->compressor.params_json);
    if (c->desc->ops.compressor->flags & TB_COMPRESS_CALIBRATED) {
        if (!r->calib_hash) {
            const tb_param_value *data = tb_config_get(r->m->calibration.config, "data");
            char hex[65];
            tb_error err;
            if (tb_sha256_path(data->s, hex, &err) != TB_OK) {
                *why = tb_xasprintf("cannot hash the calibration data: %s", err.message);
                tb_buf_free(&b);
                return NULL;
            }
            r->calib_hash = tb_xstrdup(hex);
        }
        tb_buf_printf(&b, "\ncalibration:%s\ndata:%s\nseed:%llu\nbackend:%s",
                      r->m->calibration.params_json, r->calib_hash,
                      (unsigned long long)r->m->seed, r->m->backend.plugin->name);
    }
    char hex[33];
    tb_sha256_hex(tb_buf_str(&b), b.len, 16, hex);
    tb_buf_free(&b);
    return tb_xstrdup(hex);
}

static void calib_spec(const tb_matrix *m, tb_calib_spec *spec)
{
    const tb_config *c = m->calibration.config;
    memset(spec, 0, sizeof *spec);
    spec->data = tb_config_get(c, "data")->s;
    spec->samples = tb_config_get(c, "samples")->i;
    spec->seq_len = tb_config_get(c, "seq_len")->i;
    spec->sampling = tb_config_get(c, "sampling")->s;
    spec->field = tb_config_get(c, "field")->s;
    spec->tmpl = tb_config_get(c, "template")->s;
    spec->seed = m->seed;
}

/* In the child: compress into tmp, then publish report and model. */
static void compress_child(runner *r, const tb_variant *v, const char *path, int fd)
{
    const tb_matrix *m = r->m;
    const tb_model_spec *ms = &m->models[v->model];
    tb_calib_spec spec;
    tb_compress_job job;
    memset(&job, 0, sizeof job);
    job.model_path = ms->path;
    job.model_opts.tokenizer = ms->tokenizer;
    job.model_opts.chat_template = ms->chat_template;
    job.compressor = v->compressor.plugin;
    job.compressor_config = v->compressor.config;
    if (m->calibration.present) {
        calib_spec(m, &spec);
        job.calib = &spec;
    }
    job.backend = m->backend.plugin;
    job.backend_config = m->backend.config;
    char *tmp = tb_xasprintf("%s.tmp-%d.gguf", path, (int)getpid());
    job.out_path = tmp;
    job.console = r->con;
    job.seed = m->seed;
    tb_compress_report rep;
    tb_error err;
    memset(&err, 0, sizeof err);
    tb_status st = tb_compress_run(&job, &rep, &err);
    char *report = tb_xasprintf("%s.report.tsv", path);
    if (st == TB_OK)
        st = tb_compress_report_save(&rep, report, &err);
    if (st == TB_OK && rename(tmp, path) != 0) {
        tb_errorf(&err, "cannot move the compressed model into %s", path);
        st = TB_ERR_IO;
    }
    if (st != TB_OK) {
        unlink(tmp);
        ssize_t w = write(fd, err.message, strlen(err.message));
        (void)w;
    }
    _exit(st == TB_OK ? 0 : 1);
}

/* Waits for the compressing child, stopping it on an interrupt. */
static int wait_compression(runner *r, pid_t pid, int fd, char **why)
{
    int status = 0, killed = 0;
    double kill_at = 0;
    for (;;) {
        pid_t w = waitpid(pid, &status, WNOHANG);
        if (w == pid)
            break;
        if (interrupted(r) && !killed) {
            kill(pid, SIGTERM);
            killed = 1;
            kill_at = tb_now_monotonic() + INTERRUPT_GRACE;
        }
        if (killed && tb_now_monotonic() > kill_at)
            kill(pid, SIGKILL);
        struct pollfd p = {r->o->wake_fd, POLLIN, 0};
        if (poll(&p, r->o->wake_fd >= 0 ? 1 : 0, 250) > 0) {
            char drain[64];
            while (read(r->o->wake_fd, drain, sizeof drain) > 0)
                ;
        }
    }
    char msg[TB_ERROR_SIZE];
    ssize_t n = read(fd, msg, sizeof msg - 1);
    msg[n > 0 ? n : 0] = '\0';
    if (killed) {
        *why = tb_xstrdup("interrupted while compressing");
        return -1;
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        if (n > 0)
            *why = tb_xasprintf("compression failed: %s", msg);
        else if (WIFSIGNALED(status))
            *why = tb_xasprintf("compression crashed: signal %d (%s)", WTERMSIG(status),
                                signal_text(WTERMSIG(status)));
        else
            *why = tb_xstrdup("compression failed without a message");
        return -1;
    }
    return 0;
}

static void record_compression(runner *r, const tb_variant *v, const char *path, int cached,
                               double seconds)
{
    tb_compress_report rep;
    tb_error err;
    char *report = tb_xasprintf("%s.report.tsv", path);
    if (tb_compress_report_load(&rep, report, &err) != TB_OK) {
        tb_console_log(r->con, TB_LOG_WARN, NULL, "%s", err.message);
        free(report);
        return;
    }
    tb_compress_row *rows = tb_xcalloc(rep.n + 1, sizeof *rows);
    for (size_t i = 0; i < rep.n; i++) {
        rows[i].tensor = rep.lines[i].tensor;
        rows[i].sparsity = rep.lines[i].sparsity;
        rows[i].rel_error = rep.lines[i].rel_error;
        rows[i].seconds = rep.lines[i].seconds;
        rows[i].note = rep.lines[i].note;
    }
    if (tb_store_put_compression(r->store, v->key, r->run_id, path,
                                 cached ? rep.seconds : seconds, cached, rows, rep.n,
                                 &err) != TB_OK)
        tb_console_log(r->con, TB_LOG_ERROR, NULL, "%s", err.message);
    free(rows);
    tb_compress_report_free(&rep);
    free(report);
}

/* The compressed model of a variant: from the cache, or made now in a
 * child process (the runner itself never runs OpenMP: it forks cells). */
static char *compressed_model(runner *r, size_t vi, char **why)
{
    const tb_variant *v = &r->m->variants[vi];
    char *key = artifact_key(r, v, why);
    if (!key)
        return NULL;
    char *path = tb_xasprintf("%s/%s-%s.gguf", r->artifacts, v->compressor.plugin->name, key);
    free(key);
    if (tb_path_is_file(path)) {
        tb_console_log(r->con, TB_LOG_INFO, NULL, "variant %s: compressed model cached: %s",
                       v->label, path);
        record_compression(r, v, path, 1, 0);
        return path;
    }
    tb_error err;
    if (make_parent_dirs(path, &err) != TB_OK) {
        *why = tb_xstrdup(err.message);
        free(path);
        return NULL;
    }
    tb_console_log(r->con, TB_LOG_INFO, NULL, "variant %s: compressing", v->label);
    int p[2];
    if (pipe(p) != 0) {
        *why = tb_xasprintf("pipe: %s", strerror(errno));
        free(path);
        return NULL;
    }
    double t0 = tb_now_monotonic();
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        close(p[0]);
        child_signals();
        child_close_inherited(r, p[1]);
        compress_child(r, v, path, p[1]);
    }
    close(p[1]);
    int rc = pid < 0 ? -1 : wait_compression(r, pid, p[0], why);
    if (pid < 0)
        *why = tb_xasprintf("fork: %s", strerror(errno));
    close(p[0]);
    if (rc != 0) {
        free(path);
        return NULL;
    }
    double secs = tb_now_monotonic() - t0;
    tb_console_log(r->con, TB_LOG_INFO, NULL, "variant %s: compressed in %.1f s", v->label, secs);
    record_compression(r, v, path, 0, secs);
    return path;
}

/* Opens the backend session of a variant: the model as it is for an
 * identity compressor, otherwise its compressed model. */
static int open_variant(runner *r, size_t vi, void **session, char **why)
{
    const tb_matrix *m = r->m;
    const tb_variant *v = &m->variants[vi];
    const tb_model_spec *ms = &m->models[v->model];
    char *compressed = NULL;
    if (!v->is_baseline) {
        compressed = compressed_model(r, vi, why);
        if (!compressed)
            return -1;
    }
    tb_backend_open_args args;
    memset(&args, 0, sizeof args);
    args.struct_size = sizeof args;
    args.model_id = ms->id;
    args.model_path = compressed ? compressed : ms->path;
    args.model = NULL;
    tb_model_open_opts opts = {ms->tokenizer, ms->chat_template};
    r->backend_host.model_opts = &opts; /* read during open() only */
    tb_error err;
    memset(&err, 0, sizeof err);
    tb_status st = r->bops->open(r->backend, &args, session, &err);
    r->backend_host.model_opts = NULL;
    if (st != TB_OK) {
        *why = tb_xasprintf("backend '%s' could not open model '%s'%s: %s",
                            m->backend.plugin->name, ms->id,
                            compressed ? " (compressed)" : "",
                            err.message[0] ? err.message : tb_status_name(st));
        free(compressed);
        return -1;
    }
    free(compressed);
    return 0;
}

static void fail_unstarted(runner *r, size_t ci, const char *reason)
{
    tb_error err;
    const tb_cell *cell = &r->m->cells[ci];
    if (tb_store_cell_start(r->store, cell->key, r->run_id, &err) != TB_OK ||
        tb_store_cell_fail(r->store, cell->key, TB_CELL_FAILED, reason, 0, &err) != TB_OK)
        tb_console_log(r->con, TB_LOG_ERROR, NULL, "%s", err.message);
    r->sum->failed++;
    tb_console_log(r->con, TB_LOG_ERROR, NULL, "%s | %s: failed: %s",
                   r->m->variants[cell->variant].label,
                   r->m->benchmarks[cell->benchmark].use.label, reason);
}

/* A benchmark that needs what this session cannot do (a server without
 * prompt log-probabilities) fails before it starts, with the reason,
 * instead of at its first request. */
static int lacks_caps(runner *r, size_t ci, uint32_t caps)
{
    const tb_cell *cell = &r->m->cells[ci];
    const tb_plugin_use *u = &r->m->benchmarks[cell->benchmark].use;
    uint32_t missing = u->plugin->desc->ops.benchmark->needs & ~caps;
    const char *what = tb_cap_name(missing);
    if (!what)
        return 0;
    char *why = tb_xasprintf("benchmark '%s' needs %s, which this session of backend '%s' "
                             "does not offer (see the backend's log line when it opened)",
                             u->plugin->name, what, r->m->backend.plugin->name);
    fail_unstarted(r, ci, why);
    free(why);
    return 1;
}

/* ------------------------------------------------------------------ */
/* Setup                                                               */
/* ------------------------------------------------------------------ */

static int in_shard(const runner *r, const tb_cell *c)
{
    if (r->o->shard_count == 0)
        return 1;
    return tb_matrix_shard_of(c->key, r->o->shard_count) == r->o->shard_index;
}

static tb_status make_parent_dirs(const char *path, tb_error *err)
{
    char *dir = tb_path_dirname(path);
    for (char *p = dir + 1; ; p++) {
        char c = *p;
        if (c == '/' || c == '\0') {
            *p = '\0';
            if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
                tb_errorf(err, "cannot create folder %s: %s", dir, strerror(errno));
                free(dir);
                return TB_ERR_IO;
            }
            *p = c;
            if (c == '\0')
                break;
        }
    }
    free(dir);
    return TB_OK;
}

static tb_status record_plugin(runner *r, const tb_plugin_entry *e, tb_error *err)
{
    return tb_store_add_plugin(r->store, r->run_id, tb_kind_name(e->kind), e->name,
                               e->desc->version, e->path, err);
}

static tb_status record_run(runner *r, const char *db_path, tb_error *err)
{
    const tb_matrix *m = r->m;
    char host[256] = "unknown";
    gethostname(host, sizeof host - 1);
    char shard[64];
    snprintf(shard, sizeof shard, "%llu/%llu", (unsigned long long)r->o->shard_index,
             (unsigned long long)r->o->shard_count);
    tb_run_info info = {m->name, m->path, m->text, PACKAGE_VERSION, host,
                        r->o->argv, r->o->shard_count ? shard : NULL, m->seed};
    tb_status st = tb_store_run_begin(r->store, &info, &r->run_id, err);
    if (st != TB_OK)
        return st;
    st = record_plugin(r, m->backend.plugin, err);
    /* Each distinct compressor and benchmark plugin once. */
    for (size_t i = 0; st == TB_OK && i < m->n_variants; i++) {
        int seen = 0;
        for (size_t j = 0; j < i; j++)
            seen |= m->variants[j].compressor.plugin == m->variants[i].compressor.plugin;
        if (!seen)
            st = record_plugin(r, m->variants[i].compressor.plugin, err);
    }
    for (size_t i = 0; st == TB_OK && i < m->n_benchmarks; i++) {
        int seen = 0;
        for (size_t j = 0; j < i; j++)
            seen |= m->benchmarks[j].use.plugin == m->benchmarks[i].use.plugin;
        if (!seen)
            st = record_plugin(r, m->benchmarks[i].use.plugin, err);
    }
    (void)db_path;
    return st;
}

static tb_status record_matrix(runner *r, unsigned char *todo, tb_error *err)
{
    const tb_matrix *m = r->m;
    unsigned char *used = tb_xcalloc(m->n_variants + 1, 1);
    for (size_t i = 0; i < m->n_cells; i++)
        if (in_shard(r, &m->cells[i]))
            used[m->cells[i].variant] = 1;
    /* A baseline whose cells all fall in other shards is still stored, so
     * this shard's rows can name it and merged databases pair them. */
    for (size_t i = 0; i < m->n_variants; i++)
        if (used[i] == 1 && m->variants[i].baseline >= 0)
            used[m->variants[i].baseline] |= 2;
    tb_status st = TB_OK;
    for (size_t i = 0; st == TB_OK && i < m->n_variants; i++) {
        if (!used[i])
            continue;
        const tb_variant *v = &m->variants[i];
        tb_variant_row row = {v->key, m->models[v->model].id,
                              m->models[v->model].path_written,
                              v->compressor.plugin->name, v->compressor.params_json,
                              v->compressor.label,
                              v->baseline >= 0 ? m->variants[v->baseline].key : NULL,
                              v->is_baseline};
        st = tb_store_put_variant(r->store, &row, err);
    }
    for (size_t i = 0; st == TB_OK && i < m->n_cells; i++) {
        const tb_cell *c = &m->cells[i];
        if (!in_shard(r, c))
            continue;
        r->sum->cells++;
        const tb_benchmark_spec *bs = &m->benchmarks[c->benchmark];
        char *params = tb_xasprintf("{\"benchmark\":%s,\"limit\":%llu}",
                                    bs->use.params_json, (unsigned long long)bs->limit);
        tb_cell_row row = {c->key, m->variants[c->variant].key, bs->use.plugin->name,
                           params, bs->use.label};
        st = tb_store_put_cell(r->store, &row, err);
        free(params);
        tb_cell_status cs = TB_CELL_PENDING;
        if (st == TB_OK)
            st = tb_store_get_cell_status(r->store, c->key, &cs, err);
        if (st != TB_OK)
            break;
        if (cs == TB_CELL_DONE && !r->o->force) {
            r->sum->skipped++;
        } else {
            todo[i] = 1;
            r->todo_cells++;
        }
    }
    free(used);
    return st;
}

static tb_status make_backend(runner *r, tb_error *err)
{
    const tb_plugin_use *u = &r->m->backend;
    tb_host_init_local(&r->backend_host, u->plugin->name, r->con, r->m->seed,
                       (int)sysconf(_SC_NPROCESSORS_ONLN));
    r->backend_host.cache_store = r->store;
    /* A backend waiting in open() (a launched server starting) sees Ctrl-C. */
    r->backend_host.cancel = r->o->interrupted;
    r->bops = u->plugin->desc->ops.backend;
    tb_status st = u->plugin->desc->create(tb_host_api_table(), &r->backend_host,
                                           u->config, &r->backend, err);
    if (st != TB_OK && !err->message[0])
        tb_errorf(err, "backend '%s': %s", u->plugin->name, tb_status_name(st));
    return st;
}

/* ------------------------------------------------------------------ */
/* The run                                                             */
/* ------------------------------------------------------------------ */

static void run_variants(runner *r, const unsigned char *todo)
{
    const tb_matrix *m = r->m;
    for (size_t vi = 0; vi < m->n_variants && !interrupted(r); vi++) {
        int any = 0;
        for (size_t ci = 0; ci < m->n_cells; ci++)
            any |= todo[ci] && m->cells[ci].variant == vi;
        if (!any)
            continue;
        size_t vsi = r->n_vs++;
        variant_state *v = &r->vs[vsi];
        memset(v, 0, sizeof *v);
        v->variant = vi;
        char *why = NULL;
        tb_console_log(r->con, TB_LOG_INFO, NULL, "variant %s: preparing", m->variants[vi].label);
        if (open_variant(r, vi, &v->session, &why) != 0) {
            if (interrupted(r)) { /* Ctrl-C while a server started: not a failure */
                free(why);
                break;
            }
            for (size_t ci = 0; ci < m->n_cells; ci++)
                if (todo[ci] && m->cells[ci].variant == vi)
                    fail_unstarted(r, ci, why);
            free(why);
            continue;
        }
        v->open = 1;
        uint32_t caps = tb_session_caps(r->bops, v->session);
        for (size_t ci = 0; ci < m->n_cells; ci++) {
            if (!todo[ci] || m->cells[ci].variant != vi)
                continue;
            if (lacks_caps(r, ci, caps))
                continue;
            while (r->n_slots >= (size_t)r->o->jobs && !interrupted(r))
                service(r, 1.0);
            if (interrupted(r))
                break;
            tb_error err;
            if (tb_store_cell_start(r->store, m->cells[ci].key, r->run_id, &err) != TB_OK ||
                spawn(r, ci, vsi, &err) != 0) {
                tb_console_log(r->con, TB_LOG_ERROR, NULL, "%s", err.message);
                fail_unstarted(r, ci, err.message);
            }
        }
        r->vs[vsi].all_spawned = 1;
        variant_release(r, vsi);
    }
    while (r->n_slots > 0)
        service(r, 1.0);
    /* Sessions of variants cut short by the interrupt. */
    for (size_t i = 0; i < r->n_vs; i++) {
        r->vs[i].all_spawned = 1;
        variant_release(r, i);
    }
}

static void count_not_run(runner *r, const unsigned char *todo)
{
    size_t accounted = r->sum->done + r->sum->failed + r->sum->interrupted;
    size_t todo_n = 0;
    for (size_t i = 0; i < r->m->n_cells; i++)
        todo_n += todo[i];
    r->sum->not_run = todo_n > accounted ? todo_n - accounted : 0;
}

tb_status tb_runner_run(const tb_matrix *m, const tb_run_options *o,
                        tb_run_summary *sum, tb_error *err)
{
    runner r;
    memset(&r, 0, sizeof r);
    memset(sum, 0, sizeof *sum);
    r.m = m;
    r.o = o;
    r.con = o->console;
    r.sum = sum;
    r.resamples = o->resamples > 0 ? o->resamples : TB_BOOTSTRAP_DEFAULT;
    const char *db = o->db_path ? o->db_path : m->db_path;
    r.db = db;
    tb_status st = make_parent_dirs(db, err);
    if (st == TB_OK)
        st = tb_store_open(db, 1, &r.store, err);
    if (st != TB_OK)
        return st;
    unsigned char *todo = tb_xcalloc(m->n_cells + 1, 1);
    r.model_hash = tb_xcalloc(m->n_models + 1, sizeof *r.model_hash);
    r.artifacts = tb_xasprintf("%s.artifacts", db);
    st = record_run(&r, db, err);
    if (st == TB_OK)
        st = record_matrix(&r, todo, err);
    if (st == TB_OK) {
        tb_console_log(r.con, TB_LOG_INFO, NULL,
                       "matrix '%s': %zu variant(s) x %zu benchmark(s) = %zu cell(s)%s; "
                       "%zu already done, %zu to run; results in %s",
                       m->name, m->n_variants, m->n_benchmarks, m->n_cells,
                       o->shard_count ? " (this shard: fewer)" : "", sum->skipped,
                       r.todo_cells, db);
    }
    if (st == TB_OK && r.todo_cells > 0) {
        st = make_backend(&r, err);
        if (st == TB_OK) {
            r.slots = tb_xcalloc((size_t)o->jobs + 1, sizeof *r.slots);
            r.vs = tb_xcalloc(m->n_variants + 1, sizeof *r.vs);
            run_variants(&r, todo);
            m->backend.plugin->desc->destroy(r.backend);
            tb_host_release(&r.backend_host);
        }
    }
    count_not_run(&r, todo);
    sum->was_interrupted = interrupted(&r);
    const char *status = sum->was_interrupted ? "interrupted"
                         : (st != TB_OK || sum->failed) ? "failed" : "complete";
    tb_error end_err;
    if (r.run_id && tb_store_run_end(r.store, r.run_id, status, &end_err) != TB_OK)
        tb_console_log(r.con, TB_LOG_ERROR, NULL, "%s", end_err.message);
    tb_console_clear(r.con);
    free(todo);
    free(r.slots);
    free(r.vs);
    for (size_t i = 0; i < m->n_models; i++)
        free(r.model_hash[i]);
    free(r.model_hash);
    free(r.calib_hash);
    free(r.artifacts);
    tb_store_close(r.store);
    return st;
}

/* nook CLI — sessions and processes copied out of the library's listings (nook/session.h)
 * for the verbs that show them (session ls/inspect, ps), and the rule that turns what
 * a person types (a process ref, a unique prefix of one, or a session) into a process. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "listing.h"

static char *dup_or_null(const char *s) {
        return s ? strdup(s) : NULL;
}

static void session_row_done(cli_session_row *r) {
        free(r->ref);
        free(r->env);
        free(r->name);
        free(r->identity);
        free(r->state);
        free(r->rootfs);
        free(r->image);
        free(r->driver);
        free(r->driver_reason);
        free(r->upper);
        free(r->notes);
        free(r->mounts);
        free(r->secrets);
        free(r->labels);
        free(r->network);
        free(r->hostname);
        free(r->ports);
}

void cli_sessions_done(cli_sessions *l) {
        for (size_t i = 0; i < l->n; i++)
                session_row_done(&l->v[i]);
        free(l->v);
        *l = (cli_sessions){ 0 };
}

static int add_session(const nook_session_info *s, void *userdata) {
        cli_sessions *l = userdata;
        cli_session_row *nv = realloc(l->v, (l->n + 1) * sizeof(*nv));
        if (!nv)
                return -ENOMEM;
        l->v = nv;
        cli_session_row *r = &l->v[l->n++];
        *r = (cli_session_row){
                .ref = dup_or_null(s->ref),
                .env = dup_or_null(s->environment_id),
                .name = dup_or_null(s->name),
                .identity = dup_or_null(s->identity),
                .state = dup_or_null(s->state),
                .rootfs = dup_or_null(s->rootfs),
                .image = dup_or_null(s->image),
                .driver = dup_or_null(s->driver),
                .driver_reason = dup_or_null(s->driver_reason),
                .upper = dup_or_null(s->upper),
                .owners_collapsed = s->owners_collapsed,
                .notes = dup_or_null(s->notes),
                .mounts = dup_or_null(s->mounts),
                .secrets = dup_or_null(s->secrets),
                .labels = dup_or_null(s->labels),
                .network = dup_or_null(s->network),
                .hostname = dup_or_null(s->hostname),
                .ports = dup_or_null(s->ports),
                .holder_pid = s->holder_pid,
                .created_ms = s->created_ms,
                .owned = s->owned_by_caller,
        };
        return r->ref && r->env ? 0 : -ENOMEM;
}

static int by_created(const void *a, const void *b) {
        const cli_session_row *x = a, *y = b;
        return x->created_ms < y->created_ms ? -1 : x->created_ms > y->created_ms;
}

int cli_sessions_load(nook_runtime *rt, cli_sessions *ret) {
        _cleanup_(cli_error_freep) nook_error *err = NULL;
        int r = nook_runtime_sessions(rt, add_session, ret, &err);
        if (r < 0) {
                if (err)
                        cli_report(err);
                else
                        fprintf(stderr, "nook: listing the sessions: %s\n", strerror(-r));
                cli_sessions_done(ret);
                return EXIT_NOOK;
        }
        if (ret->n)
                qsort(ret->v, ret->n, sizeof(ret->v[0]), by_created);
        return 0;
}

const cli_session_row *cli_sessions_find(const cli_sessions *l, const char *env) {
        for (size_t i = 0; i < l->n; i++)
                if (strcmp(l->v[i].env, env) == 0)
                        return &l->v[i];
        return NULL;
}

const char *cli_session_label(const cli_session_row *r) {
        return r->name ? r->name : r->env;
}

void cli_processes_done(cli_processes *l) {
        for (size_t i = 0; i < l->n; i++) {
                free(l->v[i].ref);
                free(l->v[i].session_ref);
                free(l->v[i].env);
                free(l->v[i].command);
                free(l->v[i].state);
                free(l->v[i].ended_by);
        }
        free(l->v);
        *l = (cli_processes){ 0 };
}

static int add_process(const nook_process_info *p, void *userdata) {
        cli_processes *l = userdata;
        cli_process_row *nv = realloc(l->v, (l->n + 1) * sizeof(*nv));
        if (!nv)
                return -ENOMEM;
        l->v = nv;
        cli_process_row *r = &l->v[l->n++];
        *r = (cli_process_row){
                .ref = dup_or_null(p->ref),
                .session_ref = dup_or_null(p->session_ref),
                .env = dup_or_null(p->environment_id),
                .command = dup_or_null(p->command),
                .state = dup_or_null(p->state),
                .exit_code = p->exit_code,
                .terminal = p->terminal,
                .started_ms = p->started_ms,
                .finished_ms = p->finished_ms,
                .ended_by = dup_or_null(p->ended_by),
        };
        return r->ref && r->env && r->state && (r->ended_by || !p->ended_by) ? 0 : -ENOMEM;
}

static int by_started(const void *a, const void *b) {
        const cli_process_row *x = a, *y = b;
        return x->started_ms < y->started_ms ? -1 : x->started_ms > y->started_ms;
}

int cli_processes_load(nook_runtime *rt, const char *session, cli_processes *ret) {
        _cleanup_(cli_error_freep) nook_error *err = NULL;
        int r = nook_runtime_processes(rt, session, add_process, ret, &err);
        if (r < 0) {
                if (err)
                        cli_report(err);
                else
                        fprintf(stderr, "nook: listing the processes: %s\n", strerror(-r));
                cli_processes_done(ret);
                return EXIT_NOOK;
        }
        if (ret->n)
                qsort(ret->v, ret->n, sizeof(ret->v[0]), by_started);
        return 0;
}

/* At least this many characters make a prefix (as podman's short ids: "p-8a" is not
 * taken for a typo of a name). */
#define PREFIX_MIN 4

static bool starts(const char *s, const char *prefix, size_t len) {
        return s && strncmp(s, prefix, len) == 0;
}

/* A start of its ref, or of its environment id when that is no name: names are taken
 * whole, as podman takes container names (no 'nook rm -f web' removing webapp). */
static bool session_starts(const cli_session_row *r, const char *prefix, size_t len) {
        return starts(r->ref, prefix, len) || (!r->name && starts(r->env, prefix, len));
}

/* Every process and session whose ref (or environment id) starts with arg, on stderr;
 * EXIT_NOOK. */
static int ambiguous(const char *arg, const cli_processes *p, const cli_sessions *s) {
        size_t len = strlen(arg);
        fprintf(stderr, "nook: '%s' is the start of more than one ref; give more of it:\n", arg);
        for (size_t i = 0; i < p->n; i++)
                if (starts(p->v[i].ref, arg, len))
                        fprintf(stderr, "  %s (process)\n", p->v[i].ref);
        for (size_t i = 0; i < s->n; i++)
                if (session_starts(&s->v[i], arg, len))
                        fprintf(stderr, "  %s (session %s)\n", s->v[i].ref, cli_session_label(&s->v[i]));
        return EXIT_NOOK;
}

static int ref_find(nook_runtime *rt, const char *arg, bool sessions_only, cli_ref *ret) {
        _cleanup_(cli_processes_done) cli_processes all = { 0 };
        _cleanup_(cli_sessions_done) cli_sessions ses = { 0 };
        int rc = cli_sessions_load(rt, &ses);
        if (!rc && !sessions_only)
                rc = cli_processes_load(rt, NULL, &all);
        if (rc)
                return rc;
        const char *proc = NULL, *env = NULL;
        size_t n = 0, len = strlen(arg);
        for (size_t i = 0; i < all.n && !proc; i++)
                if (strcmp(all.v[i].ref, arg) == 0)
                        proc = all.v[i].ref;
        for (size_t i = 0; i < ses.n && !proc && !env; i++)
                if (strcmp(ses.v[i].ref, arg) == 0 || strcmp(ses.v[i].env, arg) == 0 ||
                    (ses.v[i].name && strcmp(ses.v[i].name, arg) == 0))
                        env = ses.v[i].env;
        /* a unique start of a process ref, a session ref or an environment id */
        if (!proc && !env && len >= PREFIX_MIN) {
                for (size_t i = 0; i < all.n; i++)
                        if (starts(all.v[i].ref, arg, len))
                                proc = all.v[i].ref, n++;
                for (size_t i = 0; i < ses.n; i++)
                        if (session_starts(&ses.v[i], arg, len))
                                env = ses.v[i].env, n++;
                if (n > 1)
                        return ambiguous(arg, &all, &ses);
        }
        if (!proc && !env)
                return -ENOENT;
        *ret = (cli_ref){ .process = proc ? strdup(proc) : NULL, .env = env ? strdup(env) : NULL };
        if (!proc) /* a session's first process: the command of 'nook run' */
                for (size_t i = 0; i < all.n && !ret->first; i++)
                        if (strcmp(all.v[i].env, env) == 0)
                                ret->first = strdup(all.v[i].ref);
        if ((proc && !ret->process) || (env && !ret->env)) {
                cli_ref_done(ret);
                fputs("nook: out of memory\n", stderr);
                return EXIT_NOOK;
        }
        return 0;
}

void cli_ref_done(cli_ref *r) {
        free(r->process);
        free(r->env);
        free(r->first);
        *r = (cli_ref){ 0 };
}

int cli_ref_lookup(nook_runtime *rt, const char *arg, cli_ref *ret) {
        return ref_find(rt, arg, false, ret);
}

int cli_ref_resolve(nook_runtime *rt, const char *arg, cli_ref *ret) {
        int rc = ref_find(rt, arg, false, ret);
        if (rc == -ENOENT) {
                fprintf(stderr, "nook: no process or session '%s'\n", arg);
                fprintf(stderr, "hint: 'nook ps' lists the processes, 'nook session ls' the sessions\n");
                return EXIT_NOOK;
        }
        return rc;
}

int cli_session_resolve(nook_runtime *rt, const char *arg, char **ret_env) {
        cli_ref r = { 0 };
        int rc = ref_find(rt, arg, true, &r);
        if (rc == -ENOENT) {
                fprintf(stderr, "nook: no session '%s'\n", arg);
                fprintf(stderr, "hint: 'nook session ls' lists the sessions\n");
                return EXIT_NOOK;
        }
        if (rc)
                return rc;
        *ret_env = TAKE_PTR(r.env);
        cli_ref_done(&r);
        return 0;
}

int cli_process_resolve(nook_runtime *rt, const char *arg, char **ret_ref) {
        _cleanup_(cli_ref_done) cli_ref r = { 0 };
        int rc = cli_ref_resolve(rt, arg, &r);
        if (rc)
                return rc;
        if (!r.process && !r.first) {
                fprintf(stderr, "nook: session '%s' has no process yet\n", arg);
                return EXIT_NOOK;
        }
        *ret_ref = r.process ? TAKE_PTR(r.process) : TAKE_PTR(r.first);
        return 0;
}

/* nook CLI — `nook serve`'s JSON-RPC 2.0 half: one message (or batch) a line, routed to
 * the contract calls (nook_runtime_call_buf) on a pool of workers, each owning a runtime
 * (a runtime's journal connection is opened SQLITE_OPEN_NOMUTEX: one thread at a time),
 * in arrival order per session; the ext methods wait_exit and subscribe_output run on
 * threads of their own; $/cancelRequest answers a queued request with Cancellation. */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "serve.h"
#include "util/clock.h"

/* JSON-RPC 2.0 error codes (section 5.1); -32000 is ours: the call failed, error.data
 * holds its AgentError. */
enum {
        RPC_PARSE_ERROR = -32700,
        RPC_INVALID_REQUEST = -32600,
        RPC_METHOD_NOT_FOUND = -32601,
        RPC_INVALID_PARAMS = -32602,
        RPC_CALL_FAILED = -32000,
};

#define SERVE_MAX_BATCH 1024

struct serve_job {
        serve_job *prev, *next;
        serve_reply to;
        char *method;
        char *params;
        size_t params_len;
        char *key; /* "e:<environment_id>", "p:<process_ref>" or NULL: see key_of() */
};

struct serve_batch {
        size_t left; /* answers still to come, plus one while the batch is being read */
        size_t n;
        char **slots;
};

struct serve_watch {
        serve_watch *prev, *next;
        serve *s;
        serve_reply to;
        bool subscribe;
        char *process_ref;
        char *stream;
        json_int_t cursor;
        json_int_t timeout_ms; /* -1: none */
        const char *cancelled; /* why, once cancelled (guarded by s->lock) */
};

/* ---- answers ---------------------------------------------------------------------- */

static char *dump(const json_t *v) {
        return v ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
}

static char *rpc_result(const json_t *id, const char *result) {
        _cleanup_free_ char *idt = id ? dump(id) : strdup("null");
        char *s = NULL;
        if (!idt || !result || asprintf(&s, "{\"jsonrpc\":\"2.0\",\"id\":%s,\"result\":%s}", idt, result) < 0)
                return NULL;
        return s;
}

/* data: AgentError JSON text, taken (NULL: no data member). */
static char *rpc_error(const json_t *id, int code, const char *message, char *data) {
        _cleanup_free_ char *owned = data;
        _cleanup_free_ char *idt = id ? dump(id) : strdup("null");
        json_t *m = cli_json_str(message);
        _cleanup_free_ char *mt = dump(m);
        json_decref(m);
        char *s = NULL;
        if (!idt || !mt ||
            asprintf(&s, "{\"jsonrpc\":\"2.0\",\"id\":%s,\"error\":{\"code\":%d,\"message\":%s%s%s}}", idt, code, mt,
                     owned ? ",\"data\":" : "", owned ? owned : "") < 0)
                return NULL;
        return s;
}

static char *agent_violation(const char *fmt, ...) _printf_(1, 2);
static char *agent_violation(const char *fmt, ...) {
        _cleanup_free_ char *msg = NULL;
        va_list ap;
        va_start(ap, fmt);
        int r = vasprintf(&msg, fmt, ap);
        va_end(ap);
        if (r < 0)
                return NULL;
        json_t *v = json_pack("{s:{s:o}}", "ContractViolation", "message", cli_json_str(msg));
        return cli_json_text(v);
}

/* A Classified AgentError as the contract's crate writes it (contract-samples/errors):
 * all seven context fields and all seven causal_ids fields, null or [] when unset. */
static char *agent_classified(const char *kind, const char *retry, const char *message) {
        json_t *v = json_pack("{s:{s:s,s:s,s:{s:o,s:[],s:n,s:n,s:n,s:n,s:o},s:{s:n,s:n,s:n,s:n,s:n,s:n,s:[]}}}",
                              "Classified", "kind", kind, "retry", retry, "context", "message", cli_json_str(message),
                              "policy_refs", "source", "destination", "subject", "privacy", "redacted_summary",
                              cli_json_str(message), "causal_ids", "run_id", "turn_id", "attempt_id", "event_id",
                              "tool_call_id", "span_id", "related");
        return cli_json_text(v);
}

static void batch_put(serve_conn *c, serve_batch *b, size_t slot, char *text);

/* Sends (or files into its batch) the answer to one message and lets go of its
 * connection; text is taken.  A notification is never answered. */
static void reply(serve_reply *to, char *text) {
        serve_conn *c = to->c;
        if (!to->id) {
                free(text);
                text = NULL;
        } else if (!text)
                fprintf(stderr, "nook serve: out of memory: a request of connection %u goes unanswered\n", c->no);
        if (to->batch)
                batch_put(c, to->batch, to->slot, text);
        else
                serve_conn_send(c, text);
        json_decref(to->id);
        to->id = NULL;
        serve_conn_unref(c);
}

static void reply_error(serve_reply *to, int code, const char *message, char *agent) {
        reply(to, rpc_error(to->id, code, message, agent));
}

static void reply_nook_error(serve_reply *to, const nook_error *err) {
        reply_error(to, RPC_CALL_FAILED, nook_error_get_message(err), nook_error_to_json(err));
}

static void reply_cancelled(serve_reply *to, const char *method, const char *why) {
        _cleanup_free_ char *msg = NULL;
        if (asprintf(&msg, "%s was cancelled %s", method, why) < 0)
                msg = NULL;
        const char *m = msg ? msg : "call cancelled";
        reply_error(to, RPC_CALL_FAILED, m, agent_classified("Cancellation", "NotRetryable", m));
}

static void batch_put(serve_conn *c, serve_batch *b, size_t slot, char *text) {
        pthread_mutex_lock(&c->lock);
        if (slot < b->n)
                b->slots[slot] = text;
        else
                free(text);
        if (--b->left > 0) {
                pthread_mutex_unlock(&c->lock);
                return;
        }
        /* the last answer: one line, a JSON array of the answers (none for notifications) */
        size_t len = 2, k = 0;
        for (size_t i = 0; i < b->n; i++)
                len += b->slots[i] ? strlen(b->slots[i]) + 1 : 0;
        char *line = malloc(len + 1);
        for (size_t i = 0; line && i < b->n; i++) {
                if (!b->slots[i])
                        continue;
                line[k] = k ? ',' : '[';
                k++;
                size_t n = strlen(b->slots[i]);
                memcpy(line + k, b->slots[i], n);
                k += n;
        }
        if (line && k) {
                line[k++] = ']';
                line[k] = 0;
                serve_conn_send_locked(c, line);
        } else
                free(line);
        pthread_mutex_unlock(&c->lock);
        for (size_t i = 0; i < b->n; i++)
                free(b->slots[i]);
        free(b->slots);
        free(b);
}

/* ---- the queue ---------------------------------------------------------------------- */

static serve_job *job_free(serve_job *j) {
        if (j) {
                free(j->method);
                free(j->params);
                free(j->key);
                free(j);
        }
        return NULL;
}

static void job_unlink(serve *s, serve_job *j) {
        if (j->prev)
                j->prev->next = j->next;
        else
                s->head = j->next;
        if (j->next)
                j->next->prev = j->prev;
        else
                s->tail = j->prev;
        j->prev = j->next = NULL;
        j->to.c->queued--;
        j->to.c->queued_bytes -= j->params_len;
}

/* The ordering rule: calls naming one environment (environment.environment_id, or
 * prepare_rootfs's ext environment_id) run one at a time, in arrival order; so do calls
 * naming one process_ref.  Everything else may run at once. */
static char *key_of(const json_t *params) {
        const char *env = json_string_value(json_object_get(json_object_get(params, "environment"), "environment_id"));
        if (!env)
                env = json_string_value(json_object_get(params, "environment_id"));
        const char *proc = json_string_value(json_object_get(params, "process_ref"));
        char *key = NULL;
        if (env)
                return asprintf(&key, "e:%s", env) < 0 ? NULL : key;
        if (proc)
                return asprintf(&key, "p:%s", proc) < 0 ? NULL : key;
        return NULL;
}

static bool key_running(const serve *s, const char *key) {
        for (unsigned i = 0; i < s->n_workers; i++)
                if (s->running[i] && strcmp(s->running[i], key) == 0)
                        return true;
        return false;
}

/* The first queued job whose key no worker holds and no earlier queued job shares. */
static serve_job *pick(serve *s) {
        for (serve_job *j = s->head; j; j = j->next) {
                if (!j->key)
                        return j;
                if (key_running(s, j->key))
                        continue;
                bool earlier = false;
                for (serve_job *k = s->head; k != j && !earlier; k = k->next)
                        earlier = k->key && strcmp(k->key, j->key) == 0;
                if (!earlier)
                        return j;
        }
        return NULL;
}

static void enqueue(serve *s, serve_reply *to, const char *method, const json_t *params) {
        serve_job *j = calloc(1, sizeof(*j));
        if (j) {
                j->to = *to;
                j->method = strdup(method);
                j->params = params ? dump(params) : strdup("{}");
                j->key = key_of(params);
        }
        if (!j || !j->method || !j->params) {
                if (j)
                        j->to = (serve_reply){ 0 };
                job_free(j);
                reply_error(to, RPC_CALL_FAILED, "out of memory",
                            agent_classified("IsolationFailure", "Retryable", "out of memory"));
                return;
        }
        pthread_mutex_lock(&s->lock);
        j->prev = s->tail;
        if (s->tail)
                s->tail->next = j;
        else
                s->head = j;
        s->tail = j;
        j->params_len = strlen(j->params);
        j->to.c->queued++;
        j->to.c->queued_bytes += j->params_len;
        pthread_cond_broadcast(&s->work);
        pthread_mutex_unlock(&s->lock);
}

static void run_job(nook_runtime *rt, serve_job *j) {
        char *result = NULL;
        nook_error *err = NULL;
        int r = nook_runtime_call_buf(rt, j->method, j->params, j->params_len, &result, &err);
        if (r < 0)
                reply_nook_error(&j->to, err);
        else
                reply(&j->to, j->to.id ? rpc_result(j->to.id, result) : NULL);
        free(result);
        nook_error_free(err);
}

typedef struct worker_arg {
        serve *s;
        unsigned no;
} worker_arg;

static void *worker_main(void *p) {
        worker_arg a = *(worker_arg *)p;
        free(p);
        serve *s = a.s;
        pthread_mutex_lock(&s->lock);
        for (;;) {
                serve_job *j = pick(s);
                if (!j) {
                        if (s->stopping && !s->head)
                                break;
                        pthread_cond_wait(&s->work, &s->lock);
                        continue;
                }
                bool was_full = j->to.c->queued >= SERVE_MAX_QUEUED || j->to.c->queued_bytes >= SERVE_MAX_QUEUED_BYTES;
                job_unlink(s, j);
                s->running[a.no] = j->key;
                pthread_mutex_unlock(&s->lock);
                if (was_full)
                        serve_wake(s);
                run_job(s->runtimes[a.no], j);
                pthread_mutex_lock(&s->lock);
                s->running[a.no] = NULL;
                job_free(j);
                pthread_cond_broadcast(&s->work); /* its key is free */
        }
        pthread_mutex_unlock(&s->lock);
        return NULL;
}

int serve_start_workers(serve *s) {
        for (unsigned i = 0; i < s->n_workers; i++)
                if (cli_open_runtime(&s->runtimes[i]) < 0) {
                        s->n_workers = 0;
                        return -1;
                }
        for (unsigned i = 0; i < s->n_workers; i++) {
                worker_arg *a = malloc(sizeof(*a));
                if (!a)
                        return -ENOMEM;
                *a = (worker_arg){ .s = s, .no = i };
                int r = pthread_create(&s->workers[i], NULL, worker_main, a);
                if (r != 0) {
                        free(a);
                        fprintf(stderr, "nook serve: cannot start a worker thread: %s\n", strerror(r));
                        s->n_workers = i; /* those started are joined */
                        return -r;
                }
        }
        return 0;
}

void serve_stop_workers(serve *s) {
        pthread_mutex_lock(&s->lock);
        s->stopping = true;
        pthread_cond_broadcast(&s->work);
        pthread_mutex_unlock(&s->lock);
        for (unsigned i = 0; i < s->n_workers; i++)
                pthread_join(s->workers[i], NULL);
        for (unsigned i = 0; i < SERVE_MAX_WORKERS; i++)
                s->runtimes[i] = nook_runtime_free(s->runtimes[i]);
}

void serve_wake(serve *s) {
        uint64_t one = 1;
        (void)!write(s->wake_fd, &one, sizeof(one));
}

/* ---- wait_exit and subscribe_output ------------------------------------------------ */

static const char *watch_cancelled(serve_watch *w) {
        pthread_mutex_lock(&w->s->lock);
        const char *why = w->cancelled;
        pthread_mutex_unlock(&w->s->lock);
        return why;
}

static bool conn_broken(serve_conn *c) {
        pthread_mutex_lock(&c->lock);
        bool b = c->broken;
        pthread_mutex_unlock(&c->lock);
        return b;
}

/* wait_exit: nook_runtime_process_wait in slices, so that a cancel is seen. */
static char *wait_run(nook_runtime *rt, serve_watch *w) {
        int64_t deadline = w->timeout_ms >= 0 ? nook_mono_ms() + w->timeout_ms : INT64_MAX;
        for (;;) {
                int64_t left = deadline - nook_mono_ms();
                int slice = left < SERVE_WATCH_SLICE_MS ? (int)(left > 0 ? left : 0) : SERVE_WATCH_SLICE_MS;
                int code = 0;
                _cleanup_(cli_error_freep) nook_error *err = NULL;
                int r = nook_runtime_process_wait(rt, w->process_ref, slice, &code, &err);
                if (r < 0)
                        return rpc_error(w->to.id, RPC_CALL_FAILED, nook_error_get_message(err),
                                         nook_error_to_json(err));
                json_t *res = NULL;
                if (r == 1)
                        res = json_pack("{s:s,s:b,s:i}", "process_ref", w->process_ref, "exited", 1, "exit_code", code);
                else if (nook_mono_ms() >= deadline)
                        res = json_pack("{s:s,s:b}", "process_ref", w->process_ref, "exited", 0);
                if (res) {
                        _cleanup_free_ char *text = cli_json_text(res);
                        return rpc_result(w->to.id, text);
                }
                const char *why = watch_cancelled(w);
                if (why)
                        return NULL; /* the caller answers Cancellation */
        }
}

static char *frame_request(serve_watch *w, json_int_t cursor) {
        return cli_json_text(json_pack("{s:s,s:s,s:I,s:i}", "process_ref", w->process_ref, "stream", w->stream,
                                       "cursor", cursor, "wait_ms", SERVE_WATCH_SLICE_MS));
}

/* subscribe_output: stream_io from the cursor, waiting server-side; every frame with
 * bytes, and the last one (eof), goes out as an "output" notification. */
static char *subscribe_run(nook_runtime *rt, serve_watch *w) {
        json_int_t cursor = w->cursor, frames = 0;
        for (;;) {
                if (watch_cancelled(w))
                        return NULL;
                if (conn_broken(w->to.c))
                        return rpc_result(w->to.id, "{}"); /* nobody reads: stop (the answer is dropped) */
                _cleanup_free_ char *req = frame_request(w, cursor), *res = NULL;
                _cleanup_(cli_error_freep) nook_error *err = NULL;
                if (!req || nook_runtime_call(rt, "stream_io", req, &res, &err) < 0)
                        return rpc_error(w->to.id, RPC_CALL_FAILED, nook_error_get_message(err),
                                         err ? nook_error_to_json(err) : NULL);
                json_t *f = json_loads(res, 0, NULL);
                json_int_t bytes = json_integer_value(json_object_get(f, "byte_count"));
                bool eof = json_is_true(json_object_get(f, "eof"));
                json_t *code = json_incref(json_object_get(f, "exit_code"));
                if (json_is_integer(json_object_get(f, "cursor")))
                        cursor = json_integer_value(json_object_get(f, "cursor"));
                json_decref(f);
                char *note = NULL;
                if ((bytes > 0 || eof) &&
                    asprintf(&note, "{\"jsonrpc\":\"2.0\",\"method\":\"output\",\"params\":%s}", res) >= 0) {
                        frames++;
                        serve_conn_send(w->to.c, note);
                }
                if (!eof) {
                        json_decref(code);
                        continue;
                }
                _cleanup_free_ char *text = cli_json_text(json_pack(
                        "{s:s,s:s,s:I,s:I,s:b,s:o}", "process_ref", w->process_ref, "stream", w->stream, "cursor",
                        cursor, "frames", frames, "eof", 1, "exit_code", code ? code : json_null()));
                return rpc_result(w->to.id, text);
        }
}

static void watch_free(serve_watch *w) {
        free(w->process_ref);
        free(w->stream);
        free(w);
}

/* Takes w out of the server's list of waits and subscriptions; s->lock is held. */
static void watch_unlink(serve *s, serve_watch *w) {
        if (w->prev)
                w->prev->next = w->next;
        else
                s->watches = w->next;
        if (w->next)
                w->next->prev = w->prev;
        s->n_watches--;
}

static void *watch_main(void *p) {
        serve_watch *w = p;
        serve *s = w->s;
        nook_runtime *rt = NULL;
        char *text = NULL;
        if (cli_open_runtime(&rt) == 0)
                text = w->subscribe ? subscribe_run(rt, w) : wait_run(rt, w);
        else
                text = rpc_error(w->to.id, RPC_CALL_FAILED, "cannot open the runtime (the server's stderr says why)",
                                 agent_classified("IsolationFailure", "Retryable",
                                                  "cannot open the runtime (the server's stderr says why)"));
        nook_runtime_free(rt);
        pthread_mutex_lock(&s->lock);
        watch_unlink(s, w);
        const char *why = w->cancelled;
        pthread_mutex_unlock(&s->lock);
        if (!text && why)
                reply_cancelled(&w->to, w->subscribe ? "subscribe_output" : "wait_exit", why);
        else
                reply(&w->to, text);
        watch_free(w);
        return NULL;
}

/* process_ref (required), stream ("stdout" or "stderr"), cursor and timeout_ms
 * (non-negative integers): refusals name the field as the contract's errors do. */
static char *watch_params(serve_watch *w, const json_t *params, const char **ret_message) {
        const json_t *ref = json_object_get(params, "process_ref"), *stream = json_object_get(params, "stream");
        const json_t *cursor = json_object_get(params, "cursor"), *timeout = json_object_get(params, "timeout_ms");
        *ret_message = "invalid params";
        stream = json_is_null(stream) ? NULL : stream; /* null: absent, as the contract writes None */
        cursor = json_is_null(cursor) ? NULL : cursor;
        timeout = json_is_null(timeout) ? NULL : timeout;
        if (!ref) {
                *ret_message = "missing required field /process_ref";
                return cli_json_text(json_pack("{s:{s:s}}", "MissingRequiredField", "field", "/process_ref"));
        }
        if (!json_is_string(ref) || json_string_length(ref) == 0 || json_string_length(ref) > 512)
                return agent_violation("/process_ref: a string of 1 to 512 bytes");
        if (w->subscribe && stream &&
            (!json_is_string(stream) ||
             (strcmp(json_string_value(stream), "stdout") != 0 && strcmp(json_string_value(stream), "stderr") != 0)))
                return agent_violation("/stream: \"stdout\" or \"stderr\"");
        if (cursor && (!json_is_integer(cursor) || json_integer_value(cursor) < 0))
                return agent_violation("/cursor: a byte offset (an integer >= 0)");
        if (timeout && (!json_is_integer(timeout) || json_integer_value(timeout) < 0))
                return agent_violation("/timeout_ms: an integer >= 0");
        w->process_ref = strdup(json_string_value(ref));
        w->stream = strdup(stream ? json_string_value(stream) : "stdout");
        w->cursor = cursor ? json_integer_value(cursor) : 0;
        /* past a year is no limit (and no overflow of the deadline) */
        w->timeout_ms =
                timeout && json_integer_value(timeout) < 366LL * 86400 * 1000 ? json_integer_value(timeout) : -1;
        return NULL;
}

static void watch_start(serve *s, serve_reply *to, bool subscribe, const json_t *params) {
        serve_watch *w = calloc(1, sizeof(*w));
        if (!w)
                return reply_error(to, RPC_CALL_FAILED, "out of memory",
                                   agent_classified("IsolationFailure", "Retryable", "out of memory"));
        *w = (serve_watch){ .s = s, .to = *to, .subscribe = subscribe };
        const char *msg = NULL;
        char *bad = watch_params(w, params, &msg);
        if (bad || !w->process_ref || !w->stream) {
                watch_free(w);
                return reply_error(to, RPC_CALL_FAILED, msg, bad);
        }
        pthread_mutex_lock(&s->lock);
        bool full = s->n_watches >= SERVE_MAX_WATCHES;
        if (!full) {
                w->next = s->watches;
                if (s->watches)
                        s->watches->prev = w;
                s->watches = w;
                s->n_watches++;
        }
        pthread_mutex_unlock(&s->lock);
        const char *why = "too many waits and subscriptions at once (256); retry when one has ended";
        pthread_attr_t attr;
        pthread_t t;
        int r = full ? EAGAIN : pthread_attr_init(&attr);
        if (!full) {
                pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
                r = pthread_create(&t, &attr, watch_main, w);
                pthread_attr_destroy(&attr);
        }
        if (r == 0)
                return;
        if (!full) {
                pthread_mutex_lock(&s->lock);
                watch_unlink(s, w);
                pthread_mutex_unlock(&s->lock);
                why = "cannot start a thread for it";
        }
        watch_free(w);
        reply_error(to, RPC_CALL_FAILED, why, agent_classified("IsolationFailure", "Retryable", why));
}

/* ---- cancellation ----------------------------------------------------------------- */

static void cancel_request(serve *s, serve_reply *to, const json_t *params) {
        const json_t *target = json_object_get(params, "id");
        if (!target || !(json_is_string(target) || json_is_number(target)))
                return reply_error(to, RPC_INVALID_PARAMS, "Invalid params",
                                   agent_violation("/id: the id (a string or number) of a request of this "
                                                   "connection"));
        serve_job *found = NULL;
        bool any = false;
        pthread_mutex_lock(&s->lock);
        for (serve_job *j = s->head, *next; j; j = next) {
                next = j->next;
                if (j->to.c != to->c || !j->to.id || !json_equal(j->to.id, target))
                        continue;
                job_unlink(s, j);
                j->next = found;
                found = j;
        }
        for (serve_watch *w = s->watches; w; w = w->next)
                if (w->to.c == to->c && w->to.id && json_equal(w->to.id, target)) {
                        w->cancelled = w->cancelled ? w->cancelled : "by $/cancelRequest";
                        any = true;
                }
        pthread_mutex_unlock(&s->lock);
        any = any || found;
        for (serve_job *j = found, *next; j; j = next) {
                next = j->next;
                reply_cancelled(&j->to, j->method, "by $/cancelRequest before it started");
                job_free(j);
        }
        if (any)
                serve_wake(s);
        reply(to, rpc_result(to->id, any ? "{\"cancelled\":true}" : "{\"cancelled\":false}"));
}

void serve_cancel_all(serve *s) {
        pthread_mutex_lock(&s->lock);
        s->shutting_down = true;
        serve_job *all = s->head;
        for (serve_job *j = all; j; j = j->next) {
                j->to.c->queued--;
                j->to.c->queued_bytes -= j->params_len;
        }
        s->head = s->tail = NULL;
        for (serve_watch *w = s->watches; w; w = w->next)
                w->cancelled = w->cancelled ? w->cancelled : "because the server is shutting down";
        pthread_mutex_unlock(&s->lock);
        for (serve_job *j = all, *next; j; j = next) {
                next = j->next;
                reply_cancelled(&j->to, j->method, "before it started: the server is shutting down");
                job_free(j);
        }
}

/* ---- messages --------------------------------------------------------------------- */

static bool contract_method(const char *name) {
        for (const char *const *m = nook_runtime_methods(); *m; m++)
                if (strcmp(*m, name) == 0)
                        return true;
        return false;
}

static void message(serve *s, serve_reply *to, json_t *msg) {
        const json_t *id = json_object_get(msg, "id"), *ver = json_object_get(msg, "jsonrpc");
        const json_t *params = json_object_get(msg, "params");
        const char *method = json_string_value(json_object_get(msg, "method"));
        bool id_ok = !id || json_is_string(id) || json_is_number(id) || json_is_null(id);
        if (!json_is_object(msg) || !id_ok || !method || !json_is_string(ver) ||
            strcmp(json_string_value(ver), "2.0") != 0) {
                to->id = id && id_ok ? json_incref((json_t *)id) : json_null();
                return reply_error(to, RPC_INVALID_REQUEST, "Invalid Request",
                                   agent_violation("not a JSON-RPC 2.0 request: an object with \"jsonrpc\":\"2.0\", "
                                                   "a string \"method\", optional \"params\" and \"id\" (a string, "
                                                   "number or null)"));
        }
        to->id = json_incref((json_t *)id); /* NULL: a notification */
        bool known = contract_method(method) || strcmp(method, "wait_exit") == 0 ||
                     strcmp(method, "subscribe_output") == 0 || strcmp(method, "$/cancelRequest") == 0;
        if (!known)
                return reply_error(to, RPC_METHOD_NOT_FOUND, "Method not found",
                                   agent_violation("unknown method '%s'; the methods are the contract's calls (nook "
                                                   "call --help), wait_exit, subscribe_output and $/cancelRequest",
                                                   method));
        if (json_is_null(params))
                params = NULL;
        if (params && !json_is_object(params))
                return reply_error(to, RPC_INVALID_PARAMS, "Invalid params",
                                   agent_violation("params: the request object of %s (by-name parameters)", method));
        if (strcmp(method, "$/cancelRequest") == 0)
                cancel_request(s, to, params);
        else if (strcmp(method, "wait_exit") == 0 || strcmp(method, "subscribe_output") == 0)
                watch_start(s, to, strcmp(method, "subscribe_output") == 0, params);
        else
                enqueue(s, to, method, params);
}

static void batch(serve *s, serve_conn *c, json_t *arr) {
        size_t n = json_array_size(arr);
        if (n == 0 || n > SERVE_MAX_BATCH) {
                serve_reply to = { .c = serve_conn_ref(c), .id = json_null() };
                return reply_error(&to, RPC_INVALID_REQUEST, "Invalid Request",
                                   n ? agent_violation("a batch of more than %d messages", SERVE_MAX_BATCH)
                                     : agent_violation("an empty batch"));
        }
        serve_batch *b = calloc(1, sizeof(*b));
        char **slots = calloc(n, sizeof(char *));
        if (!b || !slots) {
                free(b);
                free(slots);
                serve_reply to = { .c = serve_conn_ref(c), .id = json_null() };
                return reply_error(&to, RPC_INVALID_REQUEST, "out of memory", NULL);
        }
        *b = (serve_batch){ .left = n + 1, .n = n, .slots = slots };
        for (size_t i = 0; i < n; i++) {
                serve_reply to = { .c = serve_conn_ref(c), .batch = b, .slot = i };
                message(s, &to, json_array_get(arr, i));
        }
        batch_put(c, b, n, NULL); /* reading it is done */
}

void serve_line(serve_conn *c, const char *line, size_t len) {
        while (len && (line[len - 1] == '\r' || line[len - 1] == ' ' || line[len - 1] == '\t'))
                len--;
        size_t i = 0;
        while (i < len && (line[i] == ' ' || line[i] == '\t'))
                i++;
        if (i == len)
                return; /* a blank line */
        json_error_t e;
        json_t *msg = json_loadb(line, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &e);
        if (!msg) {
                serve_reply to = { .c = serve_conn_ref(c), .id = json_null() };
                return reply_error(&to, RPC_PARSE_ERROR, "Parse error",
                                   agent_violation("not JSON: %s (column %d)", e.text, e.column));
        }
        if (json_is_array(msg))
                batch(c->s, c, msg);
        else {
                serve_reply to = { .c = serve_conn_ref(c) };
                message(c->s, &to, msg);
        }
        json_decref(msg);
}

void serve_line_too_long(serve_conn *c, size_t len) {
        serve_reply to = { .c = serve_conn_ref(c), .id = json_null() };
        reply_error(&to, RPC_INVALID_REQUEST, "Invalid Request",
                    agent_violation("a message of %zu bytes or more: at most %u bytes a line", len,
                                    NOOK_MAX_REQUEST_BYTES));
}

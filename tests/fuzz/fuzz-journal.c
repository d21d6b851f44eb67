/* nook fuzz — the journal's idempotency lookup and replay (src/core/journal.c through
 * nook_runtime_call_buf, src/core/runtime.c), on the fake adapter with a fresh SQLite
 * journal per input.  Input: up to 6 steps separated by "\n#step#\n"; a step is a call
 * (byte 0: the method, modulo the number of calls; the rest: its request) or, with byte
 * 0 = 0xff, a tampered row: the newest call row rewritten from the step's bytes (status,
 * result, hash, owner), as a damaged or hand-edited journal would hold it.
 * Oracles: a call that succeeded, repeated at once with the same key, replays exactly
 * the redacted result the journal recorded; success always comes with a result; every
 * error and the journal listing are JSON. */
#include <fcntl.h>
#include <jansson.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/codec.h"
#include "core/journal.h"
#include "core/redact.h"
#include "core/runtime-internal.h"
#include "fuzz-common.h"
#include "nook/journal.h"
#include "nook/runtime.h"

#define MAX_STEPS 6

static void check_json(const char *text, size_t flags, const char *what) {
        json_t *v = text ? json_loads(text, flags, NULL) : NULL;
        FUZZ_CHECK(v, "%s is not JSON: %s", what, text ? text : "(null)");
        json_decref(v);
}

/* What a replay must answer: the result as finish() recorded it (runtime.c). */
static char *recorded_form(const nook_method_info *m, const char *result) {
        json_t *out = json_loads(result, JSON_DECODE_ANY, NULL);
        FUZZ_CHECK(out, "%s answered a result that is not JSON: %s", m->name, result);
        json_t *red = m->result ? nook_redact_result(m->result, out) : json_incref(out);
        char *text = red ? json_dumps(red, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
        FUZZ_CHECK(text, "redacting %s's result failed", m->name);
        json_decref(red);
        json_decref(out);
        return text;
}

/* true when the call is journaled under an idempotency key (so a repeat replays). */
static bool replays(const nook_method_info *m, const char *req, size_t len) {
        json_t *doc = NULL;
        void *r = NULL;
        nook_error *err = NULL;
        if (nook_codec_parse_request(m, req, len, NOOK_MAX_REQUEST_BYTES, &doc, &r, &err) < 0) {
                nook_error_free(err);
                return false;
        }
        char *key = nook_codec_idempotency_key(m, r);
        bool yes = key && nook_codec_is_journaled(m, r);
        free(key);
        nook_codec_free_request(m, r);
        json_decref(doc);
        return yes;
}

static int call(nook_runtime *rt, const nook_method_info *m, const char *req, size_t len, char **ret) {
        nook_error *err = NULL;
        *ret = NULL;
        int r = nook_runtime_call_buf(rt, m->name, req, len, ret, &err);
        if (r < 0) {
                FUZZ_CHECK(err, "%s failed (%d) without an error", m->name, r);
                char *ej = nook_error_to_json(err);
                check_json(ej, 0, "an error");
                free(ej);
        } else
                FUZZ_CHECK(*ret, "%s succeeded without a result (a replay of a row without one?)", m->name);
        if (getenv("NOOK_FUZZ_VERBOSE")) /* what a seed reaches */
                dprintf(2, "%s: %s\n", m->name, r < 0 ? nook_error_get_message(err) : *ret);
        nook_error_free(err);
        return r;
}

static void step_call(nook_runtime *rt, const fuzz_part *p, bool tampered) {
        const nook_method_info *m = nook_method_get((nook_method)(p->data[0] % NOOK_M_COUNT));
        const char *req = (const char *)p->data + 1;
        size_t len = p->size - 1;
        char *first = NULL, *again = NULL;
        if (call(rt, m, req, len, &first) == 0 && !tampered && replays(m, req, len)) {
                FUZZ_CHECK(call(rt, m, req, len, &again) == 0, "%s: the repeated call failed", m->name);
                char *want = recorded_form(m, first);
                FUZZ_CHECK(strcmp(want, again) == 0, "%s: the replay differs from the recorded result:\n  %s\n  %s",
                           m->name, want, again);
                free(want);
        }
        free(again);
        free(first);
}

static const char *const statuses[] = { "intent", "done", "failed", "interrupted" };

/* Byte 1: status; byte 2: which columns go NULL; then "\x1f"-separated result, hash,
 * owner boot id and owner pid (decimal). */
static void step_tamper(const char *journal, const fuzz_part *p) {
        if (p->size < 3)
                return;
        fuzz_part f[4] = { 0 };
        size_t n = fuzz_split(p->data + 3, p->size - 3, "\x1f", f, 4);
        char *result = fuzz_strdup_part(&f[0]), *hash = n > 1 ? fuzz_strdup_part(&f[1]) : NULL;
        char *boot = n > 2 ? fuzz_strdup_part(&f[2]) : NULL, *pid = n > 3 ? fuzz_strdup_part(&f[3]) : NULL;
        unsigned nulls = p->data[2];
        sqlite3 *db = NULL;
        sqlite3_stmt *s = NULL;
        FUZZ_CHECK(sqlite3_open_v2(journal, &db, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK, "opening the journal");
        sqlite3_busy_timeout(db, 1000);
        int rc = sqlite3_prepare_v2(db,
                                    "UPDATE calls SET status = ?1, result = ?2, request_hash = coalesce(?3, "
                                    "request_hash), owner_boot = coalesce(?4, owner_boot), owner_pid = "
                                    "coalesce(?5, owner_pid) WHERE id = (SELECT max(id) FROM calls)",
                                    -1, &s, NULL);
        FUZZ_CHECK(rc == SQLITE_OK, "preparing the tamper statement: %s", sqlite3_errmsg(db));
        sqlite3_bind_text(s, 1, statuses[p->data[1] % 4], -1, SQLITE_STATIC);
        if (!(nulls & 1))
                sqlite3_bind_text(s, 2, result, -1, SQLITE_STATIC);
        if (hash)
                sqlite3_bind_text(s, 3, hash, -1, SQLITE_STATIC);
        if (boot)
                sqlite3_bind_text(s, 4, boot, -1, SQLITE_STATIC);
        /* an intent of this very process is "in progress": the runtime waits 10 s for it
         * (runtime.c), which would only slow the fuzzing; another owner is tried */
        if (pid || p->data[1] % 4 == 0)
                sqlite3_bind_int64(s, 5, pid ? strtoll(pid, NULL, 10) : 0);
        rc = sqlite3_step(s);
        FUZZ_CHECK(rc == SQLITE_DONE, "tampering: %s", sqlite3_errmsg(db));
        sqlite3_finalize(s);
        sqlite3_close(db);
        free(result);
        free(hash);
        free(boot);
        free(pid);
}

static int count_entry(const nook_journal_entry *e, void *userdata) {
        FUZZ_CHECK(e->method && e->status, "a journal entry without method or status");
        (*(unsigned *)userdata)++;
        return 0;
}

/* Listing and recovery over whatever the steps left. */
static void check_journal(nook_runtime *rt) {
        nook_error *err = NULL;
        char *list = NULL;
        if (nook_runtime_journal_list_json(rt, 0, &list, &err) == 0)
                check_json(list, 0, "the journal listing");
        free(list);
        unsigned n = 0;
        (void)nook_runtime_journal_list(rt, 0, count_entry, &n, &err);
        nook_error_free(err);
        err = NULL;
        nook_journal *j = NULL;
        if (nook_runtime_journal(rt, &j, &err) == 0) {
                unsigned reaped = 0;
                bool repair = false;
                (void)nook_journal_reap_interrupted(j, &reaped, &err);
                nook_error_free(err);
                err = NULL;
                (void)nook_journal_environment_needs_repair(j, "env.samples.main", &repair, &err);
        }
        nook_error_free(err);
}

static nook_runtime *open_runtime(void) {
        static char *data, *run;
        if (!data) {
                const char *w = fuzz_workdir("journal");
                if (asprintf(&data, "%s/data", w) < 0 || asprintf(&run, "%s/run", w) < 0)
                        abort();
        }
        nook_options o = NOOK_OPTIONS_INIT;
        o.data_dir = data;
        o.run_dir = run;
        o.adapter = "fake";
        nook_runtime *rt = NULL;
        nook_error *err = NULL;
        FUZZ_CHECK(nook_runtime_open(&o, &rt, &err) == 0, "opening the runtime: %s", nook_error_get_message(err));
        return rt;
}

/* The next input starts from an empty journal: the rows go, the file stays (creating
 * and migrating a new one per input would cost most of the run). */
static void forget(nook_runtime *rt) {
        nook_journal *j = NULL;
        nook_error *err = NULL;
        if (nook_runtime_journal(rt, &j, &err) < 0) {
                nook_error_free(err);
                return;
        }
        sqlite3 *db = NULL;
        FUZZ_CHECK(sqlite3_open_v2(nook_runtime_journal_path(rt), &db, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK,
                   "opening the journal");
        sqlite3_busy_timeout(db, 1000);
        int rc = sqlite3_exec(db, "DELETE FROM resources; DELETE FROM tickets; DELETE FROM calls;", NULL, NULL, NULL);
        FUZZ_CHECK(rc == SQLITE_OK, "emptying the journal: %s", sqlite3_errmsg(db));
        sqlite3_close(db);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        fuzz_part steps[MAX_STEPS];
        size_t n = fuzz_split(data, size, "\n#step#\n", steps, MAX_STEPS);
        nook_runtime *rt = open_runtime();
        bool tampered = false;
        for (size_t i = 0; i < n; i++) {
                if (steps[i].size == 0)
                        continue;
                if (steps[i].data[0] == 0xff) {
                        nook_error *err = NULL;
                        nook_journal *j = NULL;
                        /* the journal exists once a journaled call ran */
                        if (nook_runtime_journal(rt, &j, &err) == 0)
                                step_tamper(nook_runtime_journal_path(rt), &steps[i]);
                        nook_error_free(err);
                        tampered = true;
                } else
                        step_call(rt, &steps[i], tampered);
        }
        check_journal(rt);
        forget(rt);
        nook_runtime_free(rt);
        return 0;
}

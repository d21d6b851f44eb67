/* nook fuzz — the session record (src/userns/session.c: <run>/<ref>/state, read by
 * every stage after prepare_session) and the exit record (p/<ref>/exit).  Input byte 0
 * even: the rest is a state file (and an exit file) as found on disk; odd: the rest
 * gives a record's fields ("\x1f"-separated strings, then 8 bytes per number) that is
 * saved.  Oracle: a record read back after nook_session_save is the record saved (a
 * value holding a newline may be refused, never written).  A record loads only in the
 * dir its environment id names and with our uid (S32): a file is read once as found
 * (under REF, refused unless it names it) and once in the dir it names, with our uid. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz-common.h"
#include "userns/session.h"
#include "util/macro.h"

#define REF "s-0123456789abcdef01234567"
#define PROC "p-0123456789abcdef01234567-0123456789abcdef"

/* The string fields, in the order mode 1 fills them. */
#define STRING_FIELDS(X)  \
        X(environment_id) \
        X(name)           \
        X(ticket)         \
        X(rootfs)         \
        X(hostname) X(notes) X(mounts) X(workspace) X(image) X(image_store) X(driver) X(driver_reason) X(upper)
#define NUMBER_FIELDS(X)                                                                            \
        X(identity, int)                                                                            \
        X(uid, uid_t)                                                                               \
        X(gid, gid_t)                                                                               \
        X(inner_uid, uid_t)                                                                         \
        X(inner_gid, gid_t)                                                                         \
        X(subid_count, uint32_t) X(holder_pid, pid_t) X(holder_start, uint64_t) X(owner_pid, pid_t) \
                X(owner_start, uint64_t) X(created_ms, int64_t) X(owners_collapsed, uint64_t)
#define BOOL_FIELDS(X) X(own_netns) X(detached) X(rootfs_rw) X(read_only) X(prepared) X(keep_upper)

static int run_dir_fd(char **ret_run) {
        static char *run;
        if (!run) {
                if (asprintf(&run, "%s/run", fuzz_workdir("session")) < 0)
                        abort();
                (void)mkdir(run, 0700);
        }
        *ret_run = run;
        int fd = open(run, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        FUZZ_CHECK(fd >= 0, "cannot open %s", run);
        return fd;
}

static bool streq_null(const char *a, const char *b) {
        return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static void compare(const nook_session *a, const nook_session *b) {
#define CMP_STR(f) FUZZ_CHECK(streq_null(a->f, b->f), "state: " #f " does not read back as saved");
#define CMP_NUM(f, t) FUZZ_CHECK(a->f == b->f, "state: " #f " does not read back as saved");
#define CMP_BOOL(f) FUZZ_CHECK(a->f == b->f, "state: " #f " does not read back as saved");
        STRING_FIELDS(CMP_STR)
        NUMBER_FIELDS(CMP_NUM)
        BOOL_FIELDS(CMP_BOOL)
}

/* Saves s and reads it back: the same record.  A record is one "key=value" a line:
 * only a value holding a newline may be refused (may_refuse). */
static void round_trip(int runfd, const char *run, const nook_session *s, bool may_refuse) {
        nook_error *err = NULL;
        int r = nook_session_save(s, &err);
        if (r < 0 && may_refuse) {
                nook_error_free(err);
                return;
        }
        FUZZ_CHECK(r == 0, "saving a session record failed: %s", nook_error_get_message(err));
        nook_session *back = NULL;
        r = nook_session_load_at(runfd, run, s->ref, &back, &err);
        FUZZ_CHECK(r == 0, "a saved session record does not load (%d)", r);
        compare(s, back);
        nook_session_free(back);
}

/* The environment id the record parser ends with: the last "environment_id=" line, read
 * as a C string as the parser reads it; NULL when none or empty. */
static char *last_environment_id(const uint8_t *data, size_t size) {
        char *id = NULL;
        for (size_t at = 0; at < size;) {
                const uint8_t *nl = memchr(data + at, '\n', size - at);
                size_t len = nl ? (size_t)(nl - (data + at)) : size - at;
                char *line = strndup((const char *)data + at, len);
                FUZZ_CHECK(line, "out of memory");
                if (!strncmp(line, "environment_id=", 15)) {
                        free(id);
                        id = line[15] ? strdup(line + 15) : NULL;
                }
                free(line);
                at += len + 1;
        }
        return id;
}

static void load_file(int runfd, const char *run, const char *ref, const uint8_t *data, size_t size, const char *tail) {
        FUZZ_CHECK(mkdirat(runfd, ref, 0700) == 0, "mkdir %s", ref);
        char path[96];
        snprintf(path, sizeof(path), "%s/state", ref);
        _cleanup_free_ char *all = malloc(size + strlen(tail) + 1);
        FUZZ_CHECK(all, "out of memory");
        memcpy(all, data, size);
        memcpy(all + size, tail, strlen(tail));
        FUZZ_CHECK(fuzz_write_file(runfd, path, all, size + strlen(tail)) == 0, "writing the state file");
        nook_session *s = NULL;
        nook_error *err = NULL;
        if (nook_session_load_at(runfd, run, ref, &s, &err) == 0) {
                FUZZ_CHECK(!strcmp(s->ref, ref) && s->uid == getuid(), "a record of another dir or user loaded");
                round_trip(runfd, run, s, false);
                /* the exit record of one of its processes, the same bytes */
                char p[160];
                snprintf(p, sizeof(p), "%s/p", ref);
                FUZZ_CHECK(mkdirat(runfd, p, 0700) == 0, "mkdir p/");
                snprintf(p, sizeof(p), "%s/p/" PROC, ref);
                FUZZ_CHECK(mkdirat(runfd, p, 0700) == 0, "mkdir p/" PROC);
                snprintf(p, sizeof(p), "%s/p/" PROC "/exit", ref);
                FUZZ_CHECK(fuzz_write_file(runfd, p, data, size) == 0, "writing the exit file");
                /* read, or refused as not a record (record.h): never half of one */
                nook_exit_record rec;
                int e = nook_exit_record_read(s, PROC, &rec);
                FUZZ_CHECK((e == 0 && rec.present) || ((e == -EINVAL || e == -EFBIG) && !rec.present),
                           "reading the exit record (%d)", e);
                FUZZ_CHECK(memchr(rec.killed_by, 0, sizeof(rec.killed_by)) &&
                                   memchr(rec.exec_failed, 0, sizeof(rec.exec_failed)),
                           "exit record strings unterminated");
                (void)nook_process_lost(s, PROC);
        }
        nook_error_free(err);
        nook_session_free(s);
        fuzz_rm_rf(runfd, ref);
}

static void from_file(int runfd, const char *run, const uint8_t *data, size_t size) {
        load_file(runfd, run, REF, data, size, "");
        _cleanup_free_ char *id = last_environment_id(data, size);
        if (!id)
                return;
        char ref[NOOK_SESSION_REF_LEN], tail[32];
        nook_session_ref_for(id, ref);
        snprintf(tail, sizeof(tail), "\nuid=%u\n", (unsigned)getuid());
        load_file(runfd, run, ref, data, size, tail);
}

static uint64_t take_u64(const fuzz_part *p, size_t *at) {
        uint64_t v = 0;
        for (size_t i = 0; i < 8 && *at < p->size; i++)
                v = v << 8 | p->data[(*at)++];
        return v;
}

/* A record as a writer makes it: an empty string stored as none, an environment id
 * always; *newline set when the value holds one. */
static char *field(const fuzz_part *p, bool *newline) {
        char *s = fuzz_strdup_part(p);
        *newline |= strchr(s, '\n') != NULL;
        if (!*s) {
                free(s);
                return NULL;
        }
        return s;
}

static void from_fields(int runfd, const char *run, const uint8_t *data, size_t size) {
        enum { N_STRINGS = 13 };
        fuzz_part parts[N_STRINGS + 1] = { 0 };
        size_t n = fuzz_split(data, size, "\x1f", parts, N_STRINGS + 1);
        nook_session *s = calloc(1, sizeof(*s));
        FUZZ_CHECK(s, "out of memory");
        s->dir_fd = -1;
        size_t i = 0;
        bool newline = false;
#define SET_STR(f) s->f = i < n && i < N_STRINGS ? field(&parts[i], &newline) : NULL, i++;
        STRING_FIELDS(SET_STR)
        size_t at = 0;
        const fuzz_part *nums = n > N_STRINGS ? &parts[N_STRINGS] : &(fuzz_part){ 0 };
#define SET_NUM(f, t) s->f = (t)take_u64(nums, &at);
#define SET_BOOL(f) s->f = take_u64(nums, &at) & 1;
        NUMBER_FIELDS(SET_NUM)
        BOOL_FIELDS(SET_BOOL)
        if (s->environment_id) {
                /* the dir its environment id names, and our uid: what a writer saves */
                nook_session_ref_for(s->environment_id, s->ref);
                s->uid = getuid();
                FUZZ_CHECK(asprintf(&s->dir, "%s/%s", run, s->ref) > 0 && (s->run_dir = strdup(run)), "out of memory");
                FUZZ_CHECK(mkdirat(runfd, s->ref, 0700) == 0, "mkdir %s", s->ref);
                s->dir_fd = openat(runfd, s->ref, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                FUZZ_CHECK(s->dir_fd >= 0, "opening %s", s->ref);
                round_trip(runfd, run, s, newline);
                fuzz_rm_rf(runfd, s->ref);
        }
        nook_session_free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (size < 1)
                return 0;
        char *run;
        _cleanup_close_ int runfd = run_dir_fd(&run);
        if (data[0] & 1)
                from_fields(runfd, run, data + 1, size - 1);
        else
                from_file(runfd, run, data + 1, size - 1);
        fuzz_rm_rf(runfd, REF);
        return 0;
}

/* nook util — host paths out of text meant for JSON results, errors and the journal
 * (CONTRACT.md "Errors"). */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "util/macro.h"
#include "util/scrub.h"
#include "util/strbuf.h"

typedef struct subst {
        char *path;
        char *name;
} subst;

static bool shared_dir(const char *p) {
        static const char *const shared[] = { "/", "/tmp", "/var/tmp", "/var", "/home", "/run", "/run/user", "/usr" };
        for (size_t i = 0; i < ELEMENTSOF(shared); i++)
                if (strcmp(p, shared[i]) == 0)
                        return true;
        return false;
}

static size_t add_with_ancestors(subst *out, size_t n, size_t max, const char *path, const char *name) {
        if (!path || path[0] != '/' || n >= max)
                return n;
        char *p = strdup(path);
        char *label = strdup(name);
        for (; p && label && !shared_dir(p) && n < max;) {
                out[n++] = (subst){ .path = p, .name = label };
                char *slash = strrchr(p, '/');
                if (!slash)
                        return n;
                p = strndup(p, slash == p ? 1 : (size_t)(slash - p));
                char *up = NULL;
                label = asprintf(&up, "%s/..", label) < 0 ? NULL : up;
        }
        free(p);
        free(label);
        return n;
}

static int by_length_desc(const void *a, const void *b) {
        size_t la = strlen(((const subst *)a)->path), lb = strlen(((const subst *)b)->path);
        return la < lb ? 1 : la > lb ? -1 : 0;
}

static bool name_char(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

char *nook_scrub_paths(const char *text, const char *data_dir, const char *run_dir) {
        if (!text)
                return NULL;
        subst subs[48];
        size_t n = add_with_ancestors(subs, 0, ELEMENTSOF(subs), data_dir, "<data dir>");
        n = add_with_ancestors(subs, n, ELEMENTSOF(subs), run_dir, "<run dir>");
        const char *home = getenv("HOME");
        if (home && home[0] == '/' && !shared_dir(home) && n < ELEMENTSOF(subs))
                subs[n++] = (subst){ .path = strdup(home), .name = strdup("~") };
        qsort(subs, n, sizeof(subst), by_length_desc);
        nook_strbuf b = NOOK_STRBUF_INIT;
        for (const char *p = text; *p;) {
                size_t i = 0;
                for (; i < n; i++) {
                        size_t len = subs[i].path ? strlen(subs[i].path) : 0;
                        /* "/tmp/ab" must not match inside "/tmp/abc"; anything else may end
                         * it (quotes, a full stop, a newline): a name scrubbed too eagerly
                         * ("<data dir>.bak") loses nothing, a path left in would leak */
                        if (len && subs[i].name && strncmp(p, subs[i].path, len) == 0 && !name_char(p[len])) {
                                nook_strbuf_puts(&b, subs[i].name);
                                p += len;
                                break;
                        }
                }
                if (i == n)
                        nook_strbuf_putn(&b, p++, 1);
        }
        for (size_t i = 0; i < n; i++) {
                free(subs[i].path);
                free(subs[i].name);
        }
        return nook_strbuf_steal(&b);
}

/* nook CLI — parsing of option values shared by the verbs: durations (30s, 500ms, 1m30s),
 * sizes (512m, 1g), environment variables (-e, --env-file), session names, and the
 * random suffixes of the ids the CLI makes up. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

/* One number with an optional fraction: "12", "1.5". */
static int number(const char **p, double *ret) {
        const char *s = *p;
        if (!(*s >= '0' && *s <= '9') && *s != '.')
                return -EINVAL;
        char *end;
        errno = 0;
        double v = strtod(s, &end);
        if (end == s || errno || !isfinite(v) || v < 0)
                return -EINVAL;
        /* strtod also reads "1e3", "inf", hex: allow only digits and one dot */
        for (const char *c = s; c < end; c++)
                if (!((*c >= '0' && *c <= '9') || *c == '.'))
                        return -EINVAL;
        *p = end;
        *ret = v;
        return 0;
}

int cli_parse_duration(const char *s, uint64_t *ret_ms) {
        static const struct {
                const char *unit;
                double ms;
        } units[] = { { "ms", 1 }, { "s", 1000 }, { "m", 60000 }, { "h", 3600000 }, { "d", 86400000 } };
        if (!s || !*s)
                return -EINVAL;
        double total = 0;
        const char *p = s;
        bool first = true;
        while (*p) {
                double v;
                if (number(&p, &v) < 0)
                        return -EINVAL;
                if (!*p && first) { /* a bare number is seconds, as podman's --timeout */
                        total = v * 1000;
                        break;
                }
                size_t n = 0;
                while ((p[n] >= 'a' && p[n] <= 'z') || (p[n] >= 'A' && p[n] <= 'Z'))
                        n++;
                double scale = -1;
                for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
                        if (strlen(units[i].unit) == n && strncasecmp(p, units[i].unit, n) == 0)
                                scale = units[i].ms;
                if (scale < 0)
                        return -EINVAL;
                total += v * scale;
                p += n;
                first = false;
        }
        if (total > 1e15)
                return -ERANGE;
        *ret_ms = (uint64_t)ceil(total);
        return 0;
}

int cli_parse_size(const char *s, uint64_t *ret_bytes) {
        if (!s || !*s)
                return -EINVAL;
        const char *p = s;
        double v;
        if (number(&p, &v) < 0)
                return -EINVAL;
        double scale = 1;
        if (*p) {
                switch (*p == 'B' || *p == 'b' ? 'b' : *p | 0x20) {
                case 'b':
                        break;
                case 'k':
                        scale = 1024.0;
                        break;
                case 'm':
                        scale = 1024.0 * 1024;
                        break;
                case 'g':
                        scale = 1024.0 * 1024 * 1024;
                        break;
                case 't':
                        scale = 1024.0 * 1024 * 1024 * 1024;
                        break;
                default:
                        return -EINVAL;
                }
                p++;
                /* "512m", "512mb", "512MiB" */
                if (scale > 1 && (*p == 'i' || *p == 'I'))
                        p++;
                if (scale > 1 && (*p == 'b' || *p == 'B'))
                        p++;
                if (*p)
                        return -EINVAL;
        }
        double bytes = v * scale;
        if (bytes > 1.8e19)
                return -ERANGE;
        *ret_bytes = (uint64_t)ceil(bytes);
        return 0;
}

void cli_format_duration(uint64_t ms, char *buf, size_t size) {
        if (ms % 3600000 == 0 && ms >= 3600000)
                snprintf(buf, size, "%lluh", (unsigned long long)(ms / 3600000));
        else if (ms % 60000 == 0 && ms >= 60000)
                snprintf(buf, size, "%llum", (unsigned long long)(ms / 60000));
        else if (ms % 1000 == 0 && ms >= 1000)
                snprintf(buf, size, "%llus", (unsigned long long)(ms / 1000));
        else
                snprintf(buf, size, "%llums", (unsigned long long)ms);
}

void cli_format_bytes(uint64_t b, char *buf, size_t size) {
        static const char *const u[] = { "B", "KiB", "MiB", "GiB", "TiB" };
        double v = (double)b;
        size_t i = 0;
        while (v >= 1024 && i < 4) {
                v /= 1024;
                i++;
        }
        if (i == 0)
                snprintf(buf, size, "%lluB", (unsigned long long)b);
        else
                snprintf(buf, size, "%.1f%s", v, u[i]);
}

/* podman's container-name rule: [a-zA-Z0-9][a-zA-Z0-9_.-]*, here at most 64 bytes. */
bool cli_name_valid(const char *s) {
        size_t n = strlen(s);
        if (n == 0 || n > 64)
                return false;
        for (size_t i = 0; i < n; i++) {
                char c = s[i];
                bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
                if (!alnum && (i == 0 || (c != '_' && c != '.' && c != '-')))
                        return false;
        }
        return true;
}

/* ---- environment variables ------------------------------------------------------------ */

static bool envname_valid(const char *s, size_t n) {
        if (n == 0 || (s[0] >= '0' && s[0] <= '9'))
                return false;
        for (size_t i = 0; i < n; i++)
                if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') ||
                      s[i] == '_'))
                        return false;
        return true;
}

void cli_env_done(cli_env *e) {
        for (size_t i = 0; i < e->n; i++) {
                free(e->names[i]);
                free(e->values[i]);
        }
        free(e->names);
        free(e->values);
        *e = (cli_env){ 0 };
}

/* A later value of the same name replaces the earlier one (the request must not hold
 * duplicate keys). */
static int env_set(cli_env *e, const char *name, size_t nlen, const char *value) {
        char *v = strdup(value);
        if (!v)
                return -ENOMEM;
        for (size_t i = 0; i < e->n; i++)
                if (strlen(e->names[i]) == nlen && memcmp(e->names[i], name, nlen) == 0) {
                        free(e->values[i]);
                        e->values[i] = v;
                        return 0;
                }
        char **nn = realloc(e->names, (e->n + 1) * sizeof(char *));
        if (nn)
                e->names = nn;
        char **nv = realloc(e->values, (e->n + 1) * sizeof(char *));
        if (nv)
                e->values = nv;
        char *k = strndup(name, nlen);
        if (!nn || !nv || !k) {
                free(v);
                free(k);
                return -ENOMEM;
        }
        e->names[e->n] = k;
        e->values[e->n] = v;
        e->n++;
        return 0;
}

/* "K=V", or "K" to copy K from our own environment (skipped when unset, as podman). */
int cli_env_add(cli_env *e, const char *arg, const char *verb, const char *where) {
        const char *eq = strchr(arg, '=');
        size_t nlen = eq ? (size_t)(eq - arg) : strlen(arg);
        if (!envname_valid(arg, nlen)) {
                cli_usage_error(verb,
                                "%s '%s': expected NAME=VALUE or NAME, where NAME is letters, digits and '_', not "
                                "starting with a digit",
                                where, arg);
                return -EINVAL;
        }
        if (!eq) {
                _cleanup_free_ char *name = strndup(arg, nlen);
                const char *v = name ? getenv(name) : NULL;
                if (!name)
                        return -ENOMEM;
                return v ? env_set(e, arg, nlen, v) : 0;
        }
        return env_set(e, arg, nlen, eq + 1);
}

int cli_read_file(const char *path, size_t max, char **ret, size_t *ret_len) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        struct stat st;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (S_ISDIR(st.st_mode))
                return -EISDIR;
        size_t len = 0, cap = 4096;
        _cleanup_free_ char *buf = malloc(cap + 1);
        if (!buf)
                return -ENOMEM;
        for (;;) {
                if (len == cap) {
                        if (cap >= max)
                                return -EFBIG;
                        cap = cap * 2 > max ? max : cap * 2;
                        char *nb = realloc(buf, cap + 1);
                        if (!nb)
                                return -ENOMEM;
                        buf = nb;
                }
                ssize_t n = read(fd, buf + len, cap - len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                if (n == 0)
                        break;
                len += (size_t)n;
        }
        if (memchr(buf, 0, len))
                return -EBADMSG;
        buf[len] = 0;
        *ret = TAKE_PTR(buf);
        if (ret_len)
                *ret_len = len;
        return 0;
}

/* Lines NAME=VALUE (the value taken literally) or NAME; blank lines and '#' comments
 * are skipped, as podman's --env-file. */
int cli_env_file(cli_env *e, const char *path, const char *verb) {
        _cleanup_free_ char *text = NULL;
        int r = cli_read_file(path, 1u << 20, &text, NULL);
        if (r < 0) {
                cli_usage_error(verb, "--env-file %s: %s", path,
                                r == -EFBIG     ? "larger than 1 MiB"
                                : r == -EBADMSG ? "holds a NUL byte"
                                                : strerror(-r));
                return r;
        }
        unsigned lineno = 0;
        for (char *line = text, *next; line && *line; line = next) {
                next = strchr(line, '\n');
                if (next)
                        *next++ = 0;
                lineno++;
                size_t n = strlen(line);
                if (n && line[n - 1] == '\r')
                        line[--n] = 0;
                const char *p = line + strspn(line, " \t");
                if (!*p || *p == '#')
                        continue;
                char where[64 + 4096];
                snprintf(where, sizeof(where), "--env-file %s, line %u", path, lineno);
                r = cli_env_add(e, p, verb, where);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* nook CLI — the secret options: --secret on run and session create (podman's grammar,
 * plus src= for a value that is not in the named store) and the global
 * --secret-source REF=SOURCE.  The CLI never reads a value: it names refs and their
 * sources, and prepare_secrets (src/userns/secrets.c) reads each value once. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/run.h"
#include "util/mask.h"

char **arg_secret_sources = NULL;
size_t arg_n_secret_sources = 0;

static int oom(void) {
        fputs("nook: out of memory\n", stderr);
        return EXIT_NOOK;
}

/* A secret ref: what the redaction marker [REDACTED:<ref>] shows (util/mask.h), starting
 * with a letter or digit as the named store's names do. */
static bool ref_valid(const char *s, size_t n) {
        return n && isalnum((unsigned char)s[0]) && nook_mask_ref_valid(s, n);
}

static bool env_name_valid(const char *s) {
        if (!*s || isdigit((unsigned char)*s))
                return false;
        for (; *s; s++)
                if (!isalnum((unsigned char)*s) && *s != '_')
                        return false;
        return true;
}

/* SOURCE as prepare_secrets reads it; a relative file: path made absolute (the
 * adapter reads it, maybe from another directory).  NULL after reporting. */
static char *source_canon(const char *flag, const char *src, const char *verb) {
        char *out = NULL;
        if (!strncmp(src, "file:", 5)) {
                const char *p = src + 5;
                struct stat st;
                _cleanup_free_ char *real = *p ? cli_host_real_path(p, &st) : NULL;
                if (!real) {
                        cli_usage_error(verb, "%s: file %s %s", flag, p,
                                        *p ? "does not exist or cannot be reached" : "is empty");
                        return NULL;
                }
                if (S_ISDIR(st.st_mode)) {
                        cli_usage_error(verb, "%s: %s is a directory; a secret is one file", flag, p);
                        return NULL;
                }
                if (asprintf(&out, "file:%s", real) < 0)
                        out = NULL;
        } else if (!strncmp(src, "env:", 4)) {
                if (!env_name_valid(src + 4)) {
                        cli_usage_error(verb, "%s: env:%s is not a variable name", flag, src + 4);
                        return NULL;
                }
                if (!getenv(src + 4)) {
                        cli_usage_error(verb, "%s: $%s is not set", flag, src + 4);
                        return NULL;
                }
                out = strdup(src);
        } else if (!strncmp(src, "fd:", 3)) {
                char *end;
                long fd = strtol(src + 3, &end, 10);
                if (end == src + 3 || *end || fd < 0 || fd > 65535) {
                        cli_usage_error(verb, "%s: fd:%s is not an fd number", flag, src + 3);
                        return NULL;
                }
                out = strdup(src);
        } else if (!strncmp(src, "store:", 6)) {
                if (!ref_valid(src + 6, strlen(src + 6))) {
                        cli_usage_error(verb, "%s: store:%s is not a secret name", flag, src + 6);
                        return NULL;
                }
                out = strdup(src);
        } else {
                cli_usage_error(verb,
                                "%s: the source is file:PATH, env:VAR, fd:N or store:NAME (a secret of `nook "
                                "secret create`), not '%s'",
                                flag, src);
                return NULL;
        }
        if (!out)
                oom();
        return out;
}

static int add_source(const char *flag, const char *ref, const char *src, const char *verb) {
        size_t n = strlen(ref);
        for (size_t i = 0; i < arg_n_secret_sources; i++)
                if (!strncmp(arg_secret_sources[i], ref, n) && arg_secret_sources[i][n] == '=')
                        return cli_usage_error(verb, "%s: secret %s already has a source", flag, ref);
        _cleanup_free_ char *canon = source_canon(flag, src, verb);
        if (!canon)
                return EXIT_NOOK;
        char *entry = NULL;
        char **nv = realloc(arg_secret_sources, (arg_n_secret_sources + 2) * sizeof(char *));
        if (!nv)
                return oom();
        arg_secret_sources = nv;
        if (asprintf(&entry, "%s=%s", ref, canon) < 0)
                return oom();
        arg_secret_sources[arg_n_secret_sources++] = entry;
        arg_secret_sources[arg_n_secret_sources] = NULL;
        return 0;
}

int cli_opt_secret_source(const char *arg) {
        const char *eq = strchr(arg, '=');
        if (!eq || !ref_valid(arg, (size_t)(eq - arg)))
                return cli_usage_error(NULL,
                                       "--secret-source '%s': expected REF=SOURCE, REF being 1 to 128 letters, "
                                       "digits, '.', '_' and '-' (starting with a letter or digit)",
                                       arg);
        _cleanup_free_ char *ref = strndup(arg, (size_t)(eq - arg));
        return ref ? add_source("--secret-source", ref, eq + 1, NULL) : oom();
}

/* A ref for a secret given only by its source: the target's last component (or the
 * variable's name), reduced to the ref's characters. */
static char *derived_ref(const char *target) {
        const char *base = strrchr(target, '/');
        base = base ? base + 1 : target;
        char *r = strdup(*base ? base : "secret");
        for (char *p = r; p && *p; p++)
                if (!isalnum((unsigned char)*p) && *p != '.' && *p != '_' && *p != '-')
                        *p = '_';
        if (r && !isalnum((unsigned char)r[0]))
                r[0] = 's';
        if (r && strlen(r) > 128)
                r[128] = 0;
        return r;
}

static int uint_opt(const char *flag, const char *key, const char *v, unsigned long max, int base, json_t *ext,
                    const char *verb) {
        char *end;
        unsigned long n = strtoul(v, &end, base);
        if (!*v || *end || n > max || v[0] == '-')
                return cli_usage_error(verb, "%s: %s=%s is not a number%s", flag, key, v,
                                       base == 8 ? " in octal up to 0777" : "");
        return json_object_set_new(ext, key, json_integer((json_int_t)n)) < 0 ? oom() : 0;
}

/* --secret NAME[,type=mount|env][,target=PATH|VAR][,mode=0400][,uid=N][,gid=N][,src=SOURCE] */
int cli_secret_opt(const char *arg, cli_session_opts *s, const char *verb) {
        char flag[512];
        snprintf(flag, sizeof(flag), "--secret %s", arg);
        _cleanup_free_ char *buf = strdup(arg);
        if (!buf)
                return oom();
        const char *name = NULL, *type = "mount", *target = NULL, *src = NULL;
        json_t *ext = json_object();
        int r = 0;
        for (char *save = NULL, *t = strtok_r(buf, ",", &save); t && !r; t = strtok_r(NULL, ",", &save)) {
                char *eq = strchr(t, '=');
                if (!eq) {
                        if (name)
                                r = cli_usage_error(verb, "%s: two names (%s, %s)", flag, name, t);
                        name = t;
                        continue;
                }
                *eq = 0;
                const char *v = eq + 1;
                if (!strcmp(t, "type"))
                        type = v;
                else if (!strcmp(t, "target"))
                        target = v;
                else if (!strcmp(t, "src") || !strcmp(t, "source"))
                        src = v;
                else if (!strcmp(t, "mode"))
                        r = uint_opt(flag, "mode", v, 0777, 8, ext, verb);
                else if (!strcmp(t, "uid") || !strcmp(t, "gid"))
                        r = uint_opt(flag, t, v, 4294967294ul, 10, ext, verb);
                else
                        r = cli_usage_error(verb, "%s: unknown option %s (type, target, mode, uid, gid, src)", flag, t);
        }
        bool env = type && !strcmp(type, "env");
        if (!r && strcmp(type, "mount") != 0 && !env)
                r = cli_usage_error(verb, "%s: type is mount or env, not '%s'", flag, type);
        if (!r && env && json_object_size(ext))
                r = cli_usage_error(verb, "%s: mode, uid and gid are for type=mount", flag);
        /* a bare source is the name of a secret in the store: src=NAME */
        if (!r && src && !name && !strchr(src, ':'))
                name = src, src = NULL;
        if (!r && !name && !src)
                r = cli_usage_error(verb, "%s: name the secret (--secret NAME) or give its source (src=SOURCE)", flag);
        if (!r && !name && !target)
                r = cli_usage_error(verb, "%s: a secret given by src= needs a name or a target", flag);
        _cleanup_free_ char *ref = NULL;
        if (!r) {
                ref = name ? strdup(name) : derived_ref(target);
                if (!ref)
                        r = oom();
                else if (!ref_valid(ref, strlen(ref)))
                        r = cli_usage_error(verb,
                                            "%s: '%s' is not a secret name (1 to 128 letters, digits, '.', '_' "
                                            "and '-', starting with a letter or digit)",
                                            flag, ref);
        }
        if (!r && src)
                r = add_source(flag, ref, src, verb);
        _cleanup_free_ char *path = NULL;
        if (!r && env) {
                if (!target)
                        target = ref;
                if (!env_name_valid(target))
                        r = cli_usage_error(verb, "%s: %s is not an environment variable name: give target=NAME", flag,
                                            target);
        } else if (!r) {
                if (!target || target[0] != '/') {
                        if (asprintf(&path, "/run/secrets/%s", target ? target : ref) < 0)
                                r = oom();
                        target = path;
                }
                if (!r &&
                    (strstr(target, "/../") || strstr(target, "/./") || target[strlen(target) - 1] == '/' ||
                     (strlen(target) >= 3 && !strcmp(target + strlen(target) - 3, "/..")) || strlen(target) >= 4096))
                        r = cli_usage_error(verb, "%s: target %s is not a file path inside the sandbox", flag, target);
        }
        if (r) {
                json_decref(ext);
                return r;
        }
        char mref[32];
        snprintf(mref, sizeof(mref), "secret%u", s->n_secrets++);
        json_t *dest = json_pack("{s:s,s:o,s:s,s:s}", "kind", "external_runtime", "id",
                                 env ? json_sprintf("env.%s", target) : cli_json_str(target), "privacy",
                                 "content_refs_only", "retention", "host_policy");
        json_t *o = env ? json_pack("{s:o,s:o,s:o}", "secret_ref", cli_json_str(ref), "env_key", cli_json_str(target),
                                    "destination", dest)
                        : json_pack("{s:o,s:s,s:o}", "secret_ref", cli_json_str(ref), "mount_ref", mref, "destination",
                                    dest);
        if (o && !env && json_object_size(ext))
                r = json_object_set(o, "nook", ext);
        json_decref(ext);
        json_t **arr = env ? &s->sec_envs : &s->sec_mounts;
        if (!*arr)
                *arr = json_array();
        if (!o || r || !*arr || json_array_append_new(*arr, o) < 0)
                return oom();
        return 0;
}

json_t *cli_secrets_spec(const cli_session_opts *s) {
        if (!s->sec_mounts && !s->sec_envs)
                return NULL;
        json_t *o = json_pack("{s:s,s:b}", "ambient", "explicit_refs_only", "teardown_required", 1);
        if (o && s->sec_mounts)
                json_object_set(o, "secret_mounts", s->sec_mounts);
        if (o && s->sec_envs)
                json_object_set(o, "env_secrets", s->sec_envs);
        return o;
}

void cli_secrets_done(cli_session_opts *s) {
        json_decref(s->sec_mounts);
        json_decref(s->sec_envs);
        s->sec_mounts = s->sec_envs = NULL;
}

/* nook CLI — `nook image import|ls|inspect|rm|prune` and `nook images`: the local
 * image store (nook/image.h), with a progress bar on a terminal during import. */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "util/clock.h"
#include "util/strbuf.h"

void help_image(FILE *f) {
        fputs("Usage: nook image COMMAND [OPTIONS]\n"
              "\n"
              "Manages the local image store (no registry, no network: images arrive as files).\n"
              "\n"
              "Commands:\n"
              "  import [--name NAME] [--quiet] [--json] SOURCE\n"
              "                    add an image: an oci-archive or docker-archive tar (podman\n"
              "                    save, docker save, skopeo copy), an OCI layout dir (DIR or\n"
              "                    DIR:TAG or DIR@sha256:...), or a rootfs tarball (.tar,\n"
              "                    .tar.gz, .tar.zst); prints the name and digest\n"
              "  ls [--json] [-q] list the images (also: nook images)\n"
              "  inspect IMAGE    the image's config, layers and ownership facts as JSON\n"
              "  rm IMAGE...      remove names; an image goes with its last name (refused\n"
              "                   while a session uses it)\n"
              "  prune [--json]   remove layers no image uses, and what killed imports left\n"
              "\n"
              "IMAGE is a name (name[:tag], ':latest' when no tag is given; references such\n"
              "as docker.io/library/debian:12 are names too), a digest (sha256:...) or the\n"
              "first 12+ hex digits of one.\n"
              "\n"
              "Examples:\n"
              "  podman save -o app.tar app && nook image import app.tar && nook run app\n"
              "  nook image import --name deb ./oci-layout-dir:12\n"
              "  nook run deb -- cat /etc/os-release\n",
              f);
}

void help_images(FILE *f) {
        fputs("Usage: nook images [--json] [-q]\n"
              "\n"
              "Lists the images of the local store: names, digest, size, age, layers.\n"
              "\n"
              "  --json      a JSON array, one object per image\n"
              "  -q, --quiet digests only\n"
              "  -h, --help  print this help\n",
              f);
}

/* ---- import ---- */

typedef struct bar {
        bool tty;
        int64_t last_ms; /* nook_mono_ms() of the last line drawn */
        char what[64];
} bar;

static void human_size(unsigned long long n, char *buf, size_t size) {
        static const char *const unit[] = { "B", "kB", "MB", "GB", "TB" };
        double v = (double)n;
        size_t u = 0;
        while (v >= 1000 && u + 1 < ELEMENTSOF(unit)) {
                v /= 1000;
                u++;
        }
        snprintf(buf, size, u ? "%.1f %s" : "%.0f %s", v, unit[u]);
}

static void progress(const char *what, uint64_t done, uint64_t total, void *userdata) {
        bar *b = userdata;
        int64_t now = nook_mono_ms(), ms = now - b->last_ms;
        if (ms < 100 && strcmp(what, b->what) == 0 && done < total)
                return;
        b->last_ms = now;
        snprintf(b->what, sizeof(b->what), "%s", what);
        char d[32], t[32];
        human_size(done, d, sizeof(d));
        human_size(total, t, sizeof(t));
        unsigned pct = total ? (unsigned)(done * 100 / total) : 0;
        pct = pct > 100 ? 100 : pct;
        char fill[31];
        unsigned w = pct * 30 / 100;
        memset(fill, '=', w);
        memset(fill + w, ' ', 30 - w);
        fill[30] = 0;
        fprintf(stderr, "\r\033[K%-28s [%s] %3u%%  %s / %s", what, fill, pct, d, t);
        fflush(stderr);
}

static int image_import(int argc, char **argv) {
        static const struct option opts[] = { { "name", required_argument, NULL, 'n' },
                                              { "quiet", no_argument, NULL, 'q' },
                                              { "json", no_argument, NULL, 'j' },
                                              { "help", no_argument, NULL, 'h' },
                                              {} };
        const char *name = NULL;
        bool quiet = false, json = false;
        optind = 1;
        for (int c; (c = getopt_long(argc, argv, "n:qh", opts, NULL)) != -1;)
                switch (c) {
                case 'n':
                        name = optarg;
                        break;
                case 'q':
                        quiet = true;
                        break;
                case 'j':
                        json = true;
                        break;
                case 'h':
                        help_image(stdout);
                        return 0;
                default:
                        return cli_usage_error("image", "unknown option of image import");
                }
        if (optind + 1 != argc)
                return cli_usage_error("image", "image import takes one SOURCE (a file or an OCI layout dir)");
        _cleanup_(cli_runtime_freep) nook_runtime *rt = NULL;
        if (cli_open_runtime(&rt) < 0)
                return EXIT_NOOK;
        bar b = { .tty = isatty(STDERR_FILENO) && !quiet && !json };
        nook_import_options o = NOOK_IMPORT_OPTIONS_INIT;
        o.source = argv[optind];
        o.name = name;
        o.progress = b.tty ? progress : NULL;
        o.userdata = &b;
        _cleanup_(cli_error_freep) nook_error *err = NULL;
        _cleanup_free_ char *res = NULL;
        int r = nook_runtime_image_import(rt, &o, &res, &err);
        if (b.tty && b.what[0])
                fputs("\r\033[K", stderr);
        if (r < 0)
                return cli_report(err);
        if (json) {
                puts(res);
                return 0;
        }
        _cleanup_free_ char *n = cli_json_get(res, "/name"), *d = cli_json_get(res, "/digest");
        if (quiet) {
                puts(d ? d : "");
                return 0;
        }
        _cleanup_free_ char *layers = cli_json_get(res, "/layers"), *unpacked = cli_json_get(res, "/unpacked"),
                            *size = cli_json_get(res, "/size"), *skipped = cli_json_get(res, "/skipped");
        char sz[32];
        human_size(size ? strtoull(size, NULL, 10) : 0, sz, sizeof(sz));
        printf("%s %s\n", n ? n : "?", d ? d : "?");
        fprintf(stderr, "%s layers (%s unpacked, %s expanded)", layers ? layers : "?", unpacked ? unpacked : "?", sz);
        if (skipped && strcmp(skipped, "0") != 0)
                fprintf(stderr, "; %s device nodes or sockets skipped (nook image inspect)", skipped);
        fputc('\n', stderr);
        return 0;
}

/* ---- ls ---- */

static int image_ls(int argc, char **argv) {
        static const struct option opts[] = { { "json", no_argument, NULL, 'j' },
                                              { "quiet", no_argument, NULL, 'q' },
                                              { "help", no_argument, NULL, 'h' },
                                              {} };
        bool json = false, quiet = false;
        optind = 1;
        for (int c; (c = getopt_long(argc, argv, "qh", opts, NULL)) != -1;)
                switch (c) {
                case 'j':
                        json = true;
                        break;
                case 'q':
                        quiet = true;
                        break;
                case 'h':
                        help_images(stdout);
                        return 0;
                default:
                        return cli_usage_error("images", "unknown option");
                }
        if (optind != argc)
                return cli_usage_error("images", "images takes no argument");
        _cleanup_(cli_runtime_freep) nook_runtime *rt = NULL;
        if (cli_open_runtime(&rt) < 0)
                return EXIT_NOOK;
        _cleanup_(cli_error_freep) nook_error *err = NULL;
        _cleanup_free_ char *res = NULL;
        if (nook_runtime_images(rt, &res, &err) < 0)
                return cli_report(err);
        if (json) {
                puts(res);
                return 0;
        }
        if (!quiet)
                printf("%-36s %-14s %-10s %-8s %-6s %s\n", "NAME", "DIGEST", "SIZE", "CREATED", "LAYERS", "IN USE");
        for (int i = 0;; i++) {
                char p[64];
                snprintf(p, sizeof(p), "/%d/digest", i);
                _cleanup_free_ char *d = cli_json_get(res, p);
                if (!d)
                        break;
                if (quiet) {
                        puts(d);
                        continue;
                }
                snprintf(p, sizeof(p), "/%d/size", i);
                _cleanup_free_ char *size = cli_json_get(res, p);
                snprintf(p, sizeof(p), "/%d/created_ms", i);
                _cleanup_free_ char *created = cli_json_get(res, p);
                snprintf(p, sizeof(p), "/%d/layers", i);
                _cleanup_free_ char *layers = cli_json_get(res, p);
                snprintf(p, sizeof(p), "/%d/in_use", i);
                _cleanup_free_ char *in_use = cli_json_get(res, p);
                char sz[32], ago[32];
                human_size(size ? strtoull(size, NULL, 10) : 0, sz, sizeof(sz));
                cli_format_ago(created ? strtoll(created, NULL, 10) : 0, ago, sizeof(ago));
                for (int k = 0;; k++) {
                        snprintf(p, sizeof(p), "/%d/names/%d", i, k);
                        _cleanup_free_ char *n = cli_json_get(res, p);
                        if (!n && k > 0)
                                break;
                        printf("%-36s %-14.14s %-10s %-8s %-6s %s\n", n ? n : "<none>", d + 7, sz, ago,
                               layers ? layers : "?", in_use && strcmp(in_use, "true") == 0 ? "yes" : "");
                        if (!n)
                                break;
                }
        }
        return 0;
}

/* ---- inspect, rm, prune ---- */

static int image_each(int argc, char **argv, const char *verb) {
        bool json = false;
        int first = 1;
        for (; first < argc && argv[first][0] == '-'; first++) {
                if (cli_is_help(argv[first])) {
                        help_image(stdout);
                        return 0;
                }
                if (strcmp(argv[first], "--json") == 0)
                        json = true;
                else if (strcmp(argv[first], "--") == 0) {
                        first++;
                        break;
                } else
                        return cli_usage_error("image", "image %s: unknown option %s", verb, argv[first]);
        }
        bool prune = strcmp(verb, "prune") == 0;
        if (prune ? first != argc : first == argc)
                return cli_usage_error("image", prune ? "image prune takes no argument" : "image %s needs an IMAGE",
                                       verb);
        _cleanup_(cli_runtime_freep) nook_runtime *rt = NULL;
        if (cli_open_runtime(&rt) < 0)
                return EXIT_NOOK;
        int status = 0;
        for (int i = first; i < argc || (prune && i == first); i++) {
                _cleanup_(cli_error_freep) nook_error *err = NULL;
                _cleanup_free_ char *res = NULL;
                int r = prune                          ? nook_runtime_image_prune(rt, &res, &err)
                        : strcmp(verb, "inspect") == 0 ? nook_runtime_image_inspect(rt, argv[i], &res, &err)
                                                       : nook_runtime_image_remove(rt, argv[i], &res, &err);
                if (r < 0) {
                        status = cli_report(err);
                        continue;
                }
                if (json || strcmp(verb, "inspect") == 0) {
                        puts(res);
                } else if (prune) {
                        _cleanup_free_ char *l = cli_json_get(res, "/layers_removed"),
                                            *b = cli_json_get(res, "/blobs_removed"),
                                            *s = cli_json_get(res, "/abandoned_imports_removed");
                        printf("removed %s layers, %s blobs, %s abandoned imports\n", l ? l : "0", b ? b : "0",
                               s ? s : "0");
                } else {
                        _cleanup_free_ char *d = cli_json_get(res, "/deleted");
                        for (int k = 0;; k++) {
                                char p[32];
                                snprintf(p, sizeof(p), "/untagged/%d", k);
                                _cleanup_free_ char *n = cli_json_get(res, p);
                                if (!n)
                                        break;
                                printf("Untagged: %s\n", n);
                        }
                        if (d && strcmp(d, "null") != 0)
                                printf("Deleted: %s\n", d);
                }
                if (prune)
                        break;
        }
        return status;
}

int cmd_images(int argc, char **argv) {
        return image_ls(argc, argv);
}

int cmd_image(int argc, char **argv) {
        if (argc < 2 || cli_is_help(argv[1])) {
                help_image(argc < 2 ? stderr : stdout);
                return argc < 2 ? EXIT_NOOK : 0;
        }
        const char *v = argv[1];
        if (strcmp(v, "import") == 0 || strcmp(v, "load") == 0)
                return image_import(argc - 1, argv + 1);
        if (strcmp(v, "ls") == 0 || strcmp(v, "list") == 0)
                return image_ls(argc - 1, argv + 1);
        if (strcmp(v, "inspect") == 0 || strcmp(v, "rm") == 0 || strcmp(v, "prune") == 0)
                return image_each(argc - 1, argv + 1, v);
        if (strcmp(v, "remove") == 0)
                return image_each(argc - 1, argv + 1, "rm");
        return cli_usage_error("image", "unknown command 'image %s' (import, ls, inspect, rm, prune)", v);
}

/* nook CLI — `nook load` and `nook save`, podman's names for moving images as files:
 * load imports an oci-archive or docker-archive (nook image import), save writes an
 * oci-archive (nook/image.h nook_runtime_image_save).  Progress goes to stderr. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

void help_load(FILE *f) {
        fputs("Usage: nook load [-i ARCHIVE] [-q]\n"
              "\n"
              "Adds the image of an oci-archive or docker-archive tarball (podman save, docker\n"
              "save, skopeo copy, nook save) to the local store, as 'podman load' does, and\n"
              "prints \"Loaded image: NAME\".  Without -i, the archive is read from stdin.\n"
              "Same as 'nook image import' (which also takes OCI layout dirs and rootfs tarballs).\n"
              "\n"
              "Options:\n"
              "  -i, --input ARCHIVE  the archive (default: stdin)\n"
              "  -q, --quiet          no progress\n"
              "  -h, --help           print this help\n"
              "\n"
              "Example:\n"
              "  podman save -o app.tar app && nook load -i app.tar && nook run app\n",
              f);
}

void help_save(FILE *f) {
        fputs("Usage: nook save [-o FILE] [--format oci-archive] [-q] IMAGE\n"
              "\n"
              "Writes an image of the local store as an oci-archive: a tar of an OCI image\n"
              "layout (oci-layout, index.json, blobs/sha256/...), which 'nook load', 'podman\n"
              "load', 'skopeo copy oci-archive:FILE ...' and other OCI layout readers take.\n"
              "Layers are written as uncompressed tars made again from the store (owners,\n"
              "modes and whiteouts as the image gave them), so the digests differ from the\n"
              "archive the image came from; saving the same image again gives the same bytes.\n"
              "\n"
              "Options:\n"
              "  -o, --output FILE  where to write it (default: stdout, when not a terminal)\n"
              "  --format oci-archive\n"
              "                     the only format (docker-archive is not written)\n"
              "  -q, --quiet        no progress\n"
              "  -h, --help         print this help\n"
              "\n"
              "IMAGE is a name, a digest or the first 12+ hex digits of one (nook images).\n"
              "\n"
              "Example:\n"
              "  nook save -o deb.tar deb && nook load -i deb.tar\n",
              f);
}

static void progress_line(const char *what, uint64_t done, uint64_t total, void *userdata) {
        (void)userdata;
        if (strcmp(what, "done") == 0)
                return;
        if (total && strncmp(what, "layer", 5) == 0)
                fprintf(stderr, "Writing %s (%llu of %llu)\n", what, (unsigned long long)done + 1,
                        (unsigned long long)total);
}

/* Import's progress, one line per blob on stderr (podman's "Copying blob" lines). */
static void load_progress(const char *what, uint64_t done, uint64_t total, void *userdata) {
        char *last = userdata;
        if (strcmp(what, last) == 0)
                return;
        snprintf(last, 128, "%s", what);
        fprintf(stderr, "Copying %s\n", what);
}

static void stdin_file_remove(char *path) {
        unlink(path);
        char *slash = strrchr(path, '/');
        *slash = 0;
        rmdir(path);
}

/* stdin kept in a private temp dir as "stdin" (an archive that carries no name is
 * loaded as stdin:latest, as a file is named after itself); -1 when kept there (the
 * caller removes path and its dir), else the exit code after reporting. */
static int stdin_file(char *path, size_t size) {
        if (isatty(STDIN_FILENO)) {
                fputs("nook: load: no archive: give -i ARCHIVE, or pipe one into nook load\n", stderr);
                return EXIT_NOOK;
        }
        const char *dir = getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
        snprintf(path, size, "%s/nook-load.XXXXXX", dir);
        if (!mkdtemp(path)) {
                fprintf(stderr, "nook: load: keeping stdin in %s: %s (set TMPDIR)\n", dir, strerror(errno));
                return EXIT_NOOK;
        }
        size_t n = strlen(path);
        snprintf(path + n, size - n, "/stdin");
        _cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        char buf[65536];
        ssize_t r = fd < 0 ? -1 : 0;
        while (fd >= 0 && (r = read(STDIN_FILENO, buf, sizeof(buf))) > 0)
                if (write(fd, buf, (size_t)r) != r) {
                        r = -1;
                        break;
                }
        if (r < 0) {
                fprintf(stderr, "nook: load: keeping stdin in %s: %s\n", path, strerror(errno));
                stdin_file_remove(path);
                return EXIT_NOOK;
        }
        return -1;
}

int cmd_load(int argc, char **argv) {
        const char *input = NULL;
        bool quiet = false;
        for (int i = 1; i < argc; i++) {
                if (cli_is_help(argv[i])) {
                        help_load(stdout);
                        return 0;
                } else if ((strcmp(argv[i], "-i") == 0 || strcmp(argv[i], "--input") == 0) && i + 1 < argc)
                        input = argv[++i];
                else if (strncmp(argv[i], "--input=", 8) == 0)
                        input = argv[i] + 8;
                else if (strcmp(argv[i], "-q") == 0 || strcmp(argv[i], "--quiet") == 0)
                        quiet = true;
                else if (strcmp(argv[i], "-i") == 0 || strcmp(argv[i], "--input") == 0)
                        return cli_usage_error("load", "%s needs ARCHIVE", argv[i]);
                else
                        return cli_usage_error("load", "unexpected '%s' (nook load -i ARCHIVE)", argv[i]);
        }
        char path[4096];
        int kept = 0;
        if (!input && (kept = stdin_file(path, sizeof(path))) > 0)
                return kept;
        _cleanup_(cli_runtime_freep) nook_runtime *rt = NULL;
        if (cli_open_runtime(&rt) < 0) {
                if (kept < 0)
                        stdin_file_remove(path);
                return EXIT_NOOK;
        }
        char last[128] = "";
        nook_import_options o = NOOK_IMPORT_OPTIONS_INIT;
        o.source = input ? input : path;
        o.progress = quiet ? NULL : load_progress;
        o.userdata = last;
        _cleanup_(cli_error_freep) nook_error *err = NULL;
        _cleanup_free_ char *res = NULL;
        int r = nook_runtime_image_import(rt, &o, &res, &err);
        if (kept < 0)
                stdin_file_remove(path);
        if (r < 0)
                return cli_report(err);
        _cleanup_free_ char *n = cli_json_get(res, "/name"), *d = cli_json_get(res, "/digest");
        printf("Loaded image: %s\n", n && strcmp(n, "null") != 0 ? n : d ? d : "?");
        return 0;
}

int cmd_save(int argc, char **argv) {
        const char *output = NULL, *image = NULL;
        bool quiet = false;
        for (int i = 1; i < argc; i++) {
                const char *v = NULL;
                if (cli_is_help(argv[i])) {
                        help_save(stdout);
                        return 0;
                } else if ((strcmp(argv[i], "-o") == 0 || strcmp(argv[i], "--output") == 0) && i + 1 < argc)
                        output = argv[++i];
                else if (strncmp(argv[i], "--output=", 9) == 0)
                        output = argv[i] + 9;
                else if ((strcmp(argv[i], "--format") == 0 && (v = i + 1 < argc ? argv[++i] : "")) ||
                         (strncmp(argv[i], "--format=", 9) == 0 && (v = argv[i] + 9))) {
                        if (strcmp(v, "oci-archive") != 0)
                                return cli_usage_error("save",
                                                       "--format '%s': nook writes oci-archive only (podman load "
                                                       "and docker load (25+) read it)",
                                                       v);
                } else if (strcmp(argv[i], "-q") == 0 || strcmp(argv[i], "--quiet") == 0)
                        quiet = true;
                else if (argv[i][0] == '-' && argv[i][1])
                        return cli_usage_error("save", "unknown option '%s'", argv[i]);
                else if (!image)
                        image = argv[i];
                else
                        return cli_usage_error("save", "one IMAGE at a time (got '%s' too)", argv[i]);
        }
        if (!image)
                return cli_usage_error("save", "missing IMAGE (a name or digest from 'nook images')");
        if (!output && isatty(STDOUT_FILENO))
                return cli_usage_error("save", "refusing to write an archive to a terminal: give -o FILE");
        _cleanup_(cli_runtime_freep) nook_runtime *rt = NULL;
        if (cli_open_runtime(&rt) < 0)
                return EXIT_NOOK;
        /* written beside FILE and renamed over it once complete: no half archive under its name */
        _cleanup_free_ char *tmp = NULL;
        _cleanup_close_ int fd = -1;
        if (output) {
                if (asprintf(&tmp, "%s.nook-save.XXXXXX", output) < 0)
                        return EXIT_NOOK;
                fd = mkostemp(tmp, O_CLOEXEC);
                if (fd < 0) {
                        fprintf(stderr, "nook: save: creating %s: %s\n", output, strerror(errno));
                        return EXIT_NOOK;
                }
                (void)fchmod(fd, 0644 & ~umask(umask(0)));
        }
        nook_save_options o = NOOK_SAVE_OPTIONS_INIT;
        o.image = image;
        o.fd = output ? fd : STDOUT_FILENO;
        o.progress = quiet ? NULL : progress_line;
        _cleanup_(cli_error_freep) nook_error *err = NULL;
        _cleanup_free_ char *res = NULL;
        int r = nook_runtime_image_save(rt, &o, &res, &err);
        if (r == 0 && output && (fsync(fd) < 0 || rename(tmp, output) < 0)) {
                fprintf(stderr, "nook: save: writing %s: %s\n", output, strerror(errno));
                r = -errno;
        }
        if (r < 0 && output)
                unlink(tmp);
        if (r < 0)
                return err ? cli_report(err) : EXIT_NOOK;
        _cleanup_free_ char *d = cli_json_get(res, "/digest");
        if (!quiet)
                fprintf(stderr, "Saved %s as %s\n", image, d ? d : "?");
        return 0;
}

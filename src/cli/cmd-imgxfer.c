/* nook CLI — `nook load` (stub). */
#include "cli.h"

void help_load(FILE *f) {
        fputs("Usage: nook load\n", f);
}
void help_save(FILE *f) {
        fputs("Usage: nook save\n", f);
}

int cmd_load(int argc, char **argv) {
        (void)argc;
        (void)argv;
        return cli_usage_error("load", "not yet");
}
int cmd_save(int argc, char **argv) {
        (void)argc;
        (void)argv;
        return cli_usage_error("save", "not yet");
}

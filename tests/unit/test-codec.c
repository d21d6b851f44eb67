/* Unit tests of src/core/schema.c, src/core/contract.c and src/core/codec.c: every
 * contract type round-trips to its canonical JSON, defaults are filled in, every
 * rejection names the exact JSON pointer and kind, whole requests are parsed
 * strictly, AgentError JSON has the contract's shapes, and idempotency keys and
 * journaling flags follow CONTRACT.md.
 *
 * Test data is written as JSON with ' for " (see J()): "{'a':'b'}" reads as {"a":"b"}. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/codec.h"
#include "core/contract.h"
#include "core/schema.h"
#include "util/error.h"

/* ======================================================================== helpers */

#define MISS NOOK_ERROR_MISSING_REQUIRED_FIELD
#define CV NOOK_ERROR_CONTRACT_VIOLATION

/* Test JSON is written with ' for ": returns the real JSON text (free()). */
static char *jq(const char *s) {
        char *r = strdup(s);
        assert_non_null(r);
        for (char *p = r; *p; p++)
                if (*p == '\'')
                        *p = '"';
        return r;
}

/* Loads test JSON written with ' for " (any value, duplicates rejected). */
static json_t *J(const char *text) {
        _cleanup_free_ char *s = jq(text);
        json_error_t e;
        json_t *v = json_loads(s, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &e);
        if (!v)
                fail_msg("test JSON does not parse (%s, column %d): %s", e.text, e.column, s);
        return v;
}

static char *dump(const json_t *v) {
        return v ? json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY) : strdup("(null)");
}

static void check_json_equal(const json_t *got, const json_t *want, const char *what) {
        if (got && want && json_equal(got, want))
                return;
        char *g = dump(got), *w = dump(want);
        print_error("%s: JSON differs\n  got:  %s\n  want: %s\n", what, g, w);
        free(g);
        free(w);
        fail();
}

static void unescape_token(char *t) {
        char *w = t;
        for (char *r = t; *r; r++) {
                if (r[0] == '~' && r[1] == '1') {
                        *w++ = '/';
                        r++;
                } else if (r[0] == '~' && r[1] == '0') {
                        *w++ = '~';
                        r++;
                } else
                        *w++ = *r;
        }
        *w = 0;
}

/* Sets (val, stolen) or deletes (val == NULL) the member at JSON pointer ptr of root,
 * creating missing intermediate objects. */
static void jset(json_t *root, const char *ptr, json_t *val) {
        assert_true(ptr[0] == '/');
        _cleanup_free_ char *copy = strdup(ptr + 1);
        assert_non_null(copy);
        json_t *cur = root;
        for (char *tok = copy;;) {
                char *slash = strchr(tok, '/');
                if (slash)
                        *slash = 0;
                unescape_token(tok);
                if (!slash) {
                        if (json_is_object(cur)) {
                                if (val)
                                        assert_int_equal(json_object_set_new(cur, tok, val), 0);
                                else
                                        json_object_del(cur, tok);
                        } else if (json_is_array(cur)) {
                                size_t i = strtoul(tok, NULL, 10);
                                if (!val)
                                        assert_int_equal(json_array_remove(cur, i), 0);
                                else if (i == json_array_size(cur))
                                        assert_int_equal(json_array_append_new(cur, val), 0);
                                else
                                        assert_int_equal(json_array_set_new(cur, i, val), 0);
                        } else
                                fail_msg("jset: %s does not lead to a container", ptr);
                        return;
                }
                json_t *next = NULL;
                if (json_is_object(cur)) {
                        next = json_object_get(cur, tok);
                        if (!next) {
                                next = json_object();
                                assert_int_equal(json_object_set_new(cur, tok, next), 0);
                        }
                } else if (json_is_array(cur))
                        next = json_array_get(cur, strtoul(tok, NULL, 10));
                if (!next)
                        fail_msg("jset: no container at '%s' of %s", tok, ptr);
                cur = next;
                tok = slash + 1;
        }
}

/* A typed struct parsed by a schema, freed by typed_done. */
typedef struct typed {
        const nook_schema *s;
        void *obj;
} typed;

static void typed_done(typed *t) {
        if (t->obj) {
                nook_schema_clear(t->s, t->obj);
                free(t->obj);
        }
        t->obj = NULL;
}
#define _cleanup_typed_ _cleanup_(typed_done)

/* Parses v with s into a calloc'd struct; on failure the struct is cleared again (the
 * engine already cleared it: a second clear must be harmless) and freed. */
static int try_parse(const nook_schema *s, json_t *v, typed *out, nook_error **err) {
        void *obj = calloc(1, s->size);
        assert_non_null(obj);
        int r = nook_schema_parse(s, v, "", obj, err);
        if (r < 0) {
                nook_schema_clear(s, obj);
                free(obj);
                obj = NULL;
        }
        *out = (typed){ .s = s, .obj = obj };
        return r;
}

static typed parse_ok(const nook_schema *s, json_t *v) {
        _cleanup_(nook_error_freep) nook_error *err = NULL;
        typed t;
        if (try_parse(s, v, &t, &err) < 0) {
                char *d = dump(v);
                print_error("parse of %s failed at \"%s\": %s\n  input: %s\n", s->name,
                            nook_error_get_pointer(err) ? nook_error_get_pointer(err) : "(null)",
                            nook_error_get_message(err), d);
                free(d);
                fail();
        }
        assert_null(err);
        return t;
}

static void check_error(const nook_error *err, nook_error_kind kind, const char *pointer, const char *msg,
                        const char *what) {
        if (!err)
                fail_msg("%s: no error was set", what);
        const char *p = nook_error_get_pointer(err);
        const char *m = nook_error_get_message(err);
        if (nook_error_get_kind(err) != kind || !p || strcmp(p, pointer) != 0 || (msg && !strstr(m, msg)))
                fail_msg("%s:\n  want %s at \"%s\"%s%s%s\n  got  %s at \"%s\": %s", what, nook_error_kind_name(kind),
                         pointer, msg ? " saying \"" : "", msg ? msg : "", msg ? "\"" : "",
                         nook_error_kind_name(nook_error_get_kind(err)), p ? p : "(null)", m);
}

/* Parses v with s and expects a failure of kind at pointer (message containing msg). */
static void expect_reject(const nook_schema *s, json_t *v, nook_error_kind kind, const char *pointer, const char *msg,
                          const char *what) {
        _cleanup_(nook_error_freep) nook_error *err = NULL;
        _cleanup_typed_ typed t = { 0 };
        int r = try_parse(s, v, &t, &err);
        if (r >= 0) {
                char *d = dump(v);
                print_error("%s: accepted, expected %s at \"%s\"\n  input: %s\n", what, nook_error_kind_name(kind),
                            pointer, d);
                free(d);
                fail();
        }
        assert_int_equal(r, -EINVAL);
        assert_null(t.obj);
        check_error(err, kind, pointer, msg, what);
        assert_int_equal(nook_error_get_retry(err), NOOK_RETRY_NOT_RETRYABLE);
}

/* A base document (test JSON) with the value at pointer `at` replaced (`value`, test
 * JSON) or deleted (value NULL); at NULL: the base unchanged. */
static json_t *variant_of(const char *base, const char *at, const char *value) {
        json_t *doc = J(base);
        if (at)
                jset(doc, at, value ? J(value) : NULL);
        return doc;
}

/* A string of n copies of unit. */
static char *repeat(const char *unit, size_t n) {
        size_t u = strlen(unit);
        char *s = malloc(u * n + 1);
        assert_non_null(s);
        for (size_t i = 0; i < n; i++)
                memcpy(s + i * u, unit, u);
        s[u * n] = 0;
        return s;
}

/* A whole request through the codec, freed by call_done. */
typedef struct call {
        const nook_method_info *m;
        json_t *doc;
        void *req;
} call;

static void call_done(call *c) {
        json_decref(c->doc);
        c->doc = NULL;
        if (c->m)
                c->req = nook_codec_free_request(c->m, c->req);
}
#define _cleanup_call_ _cleanup_(call_done)

static int call_parse_n(call *c, const char *method, const char *text, size_t len, size_t max, nook_error **err) {
        *c = (call){ .m = nook_method_lookup(method) };
        assert_non_null(c->m);
        int r = nook_codec_parse_request(c->m, text, len, max, &c->doc, &c->req, err);
        if (r < 0) {
                assert_null(c->doc);
                assert_null(c->req);
        } else {
                assert_non_null(c->doc);
                assert_non_null(c->req);
        }
        return r;
}

#define MAX_REQ (16u * 1024 * 1024)

/* Parses test JSON as a request of method; must succeed. */
static void call_ok(call *c, const char *method, const char *test_json) {
        _cleanup_free_ char *text = jq(test_json);
        _cleanup_(nook_error_freep) nook_error *err = NULL;
        if (call_parse_n(c, method, text, strlen(text), MAX_REQ, &err) < 0)
                fail_msg("%s request rejected at \"%s\": %s\n  input: %s", method,
                         nook_error_get_pointer(err) ? nook_error_get_pointer(err) : "(null)",
                         nook_error_get_message(err), text);
}

/* Parses raw bytes as a request of method; must fail with a ContractViolation at
 * pointer (message containing msg). */
static void call_reject_raw(const char *method, const char *text, size_t len, size_t max, nook_error_kind kind,
                            const char *pointer, const char *msg, const char *what) {
        _cleanup_call_ call c = { 0 };
        _cleanup_(nook_error_freep) nook_error *err = NULL;
        int r = call_parse_n(&c, method, text, len, max, &err);
        if (r >= 0) {
                call_done(&c); /* fail_msg longjmps past the cleanup attributes */
                fail_msg("%s: request accepted", what);
        }
        check_error(err, kind, pointer, msg, what);
}

/* ======================================================================= fixtures */

#define HEX64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define HEX63 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde"
#define HEX64_UPPER "0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF"
#define DIGEST "sha256:" HEX64

#define SP "/environment/spec"

#define POLICY_DEFAULT \
        "{'default_capture':'redacted_summary','max_bytes':65536,'truncation_policy':'truncate_with_marker'}"
#define SPEC_DEFAULTS                                                                                         \
        "'resources':{'cpus':1,'memory_mb':1024,'timeout_ms':120000,'process_count':32},"                     \
        "'filesystem':{'root':'read_only','workspace':{'mode':'none','destination_path':'/workspace'},"       \
        "'mounts':[],'symlink_policy':'deny_escapes','single_file_mount_expansion':'audit_expanded_parent'}," \
        "'network':'disabled',"                                                                               \
        "'secrets':{'ambient':'denied','secret_mounts':[],'env_secrets':[],'teardown_required':true},"        \
        "'ownership':{'ownership_class':'agent_owned','detach_policy':{'allowed':false}},"                    \
        "'accepted_adapters':[],"                                                                             \
        "'io_policy':{'stdout':" POLICY_DEFAULT ",'stderr':" POLICY_DEFAULT "}"

#define ENV_MIN "{'environment_id':'env-1','spec':{}}"
#define ENV_MIN_CANON "{'environment_id':'env-1','spec':{" SPEC_DEFAULTS "}}"

/* Every field of ExecutionEnvironment / EnvironmentSpec, already in canonical form. */
#define POLICY_FULL                                                                                    \
        "{'default_capture':'content_ref','max_bytes':1048576,'truncation_policy':'fail_if_exceeded'," \
        "'content_ref_mode':'by_range','redaction_policy_ref':'red-3'}"
#define FULL_SPEC                                                                                                    \
        "{'environment_id':'env-1','kind':'isolated_process',"                                                       \
        "'requirement':{'minimum_class':'sandbox','trust':{'locality':'local','tenancy':'dedicated',"                \
        "'auditability':'required','cleanup':'required','data_residency':{'region':'eu-west-1'},"                    \
        "'secret_isolation':'best_effort'},'preferred_adapters':['nook.userns'],"                                    \
        "'fallback':{'allow_if_package_and_policy_approve':{'accepted_classes':['sandbox'],"                         \
        "'accepted_capability_downgrades':['audit_log'],'accepted_trust_downgrades':['tenancy'],"                    \
        "'required_policy_refs':[{'kind':'host','id':'p-1'}]}},"                                                     \
        "'required_capabilities':{'capabilities':['read_only_root','no_network_guarantee']}},"                       \
        "'image':{'image_ref':'docker.io/library/alpine:3.20','expected_digest':'" DIGEST "',"                       \
        "'expected_architecture':'x86_64','credential_alias_ref':'cred-1'},"                                         \
        "'rootfs':{'rootfs_ref':'rootfs-1','read_only':false,'writable_layer_ref':'layer-1'},"                       \
        "'resources':{'cpus':2.5,'memory_mb':2048,'timeout_ms':60000,'process_count':64},"                           \
        "'filesystem':{'root':'writable_layer',"                                                                     \
        "'workspace':{'workspace_ref':'ws-1','mode':'live_writable','mount_ref':'m-ws','destination_path':'/work'}," \
        "'mounts':[{'mount_ref':'m-1','source_alias':'datasets','destination_path':'/data','mode':'read_only',"      \
        "'expansion_audit':{'audited':true},'policy_refs':['pol-2']},"                                               \
        "{'mount_ref':'m-2','source_alias':'cache','destination_path':'/cache/pip','mode':'writable'}],"             \
        "'symlink_policy':'follow_within_alias','single_file_mount_expansion':'deny_single_file'},"                  \
        "'network':{'allowlist':{'hosts':['pypi.org','files.pythonhosted.org']}},"                                   \
        "'secrets':{'ambient':'explicit_refs_only',"                                                                 \
        "'secret_mounts':[{'secret_ref':'sec-1','mount_ref':'sm-1','destination':{'kind':'external_runtime','id':'/" \
        "run/secrets/token'},"                                                                                       \
        "'redaction_policy_ref':'red-1'}],"                                                                          \
        "'env_secrets':[{'secret_ref':'sec-2','env_key':'API_KEY','destination':{'env':'API_KEY'},"                  \
        "'redaction_policy_ref':{'id':'red-2'}}],'teardown_required':false},"                                        \
        "'lifecycle':{'max_age_ms':1000},"                                                                           \
        "'ownership':{'ownership_class':'detached_by_intent','detach_policy':{'allowed':true},"                      \
        "'reclaim_policy':'reclaim_on_ticket','on_parent_cancel':'terminate','on_parent_complete':{'keep':true}},"   \
        "'accepted_adapters':[{'required_class':'container'},{'required_class':'sandbox'}],"                         \
        "'io_policy':{'stdout':" POLICY_FULL ","                                                                     \
        "'stderr':{'default_capture':'raw_content_if_policy_allows','max_bytes':0,"                                  \
        "'truncation_policy':'truncate_with_marker'}},"                                                              \
        "'stats_policy':{'interval_ms':500}}"
#define FULL_ENV                                                                                                \
        "{'environment_id':'env-1','requirement_ref':{'id':'req-1'},'sidecar_ref':'sc-1','spec':" FULL_SPEC "," \
        "'source':{'kind':'agent'},'destination':'sandbox','policy_refs':['pol-1'],"                            \
        "'runtime_package_fingerprint':'fp-1'}"

#define FULL_PROCESS                                                                                                 \
        "{'process_id':'proc-1','argv':['/usr/bin/python3','-c','print(1)'],'cwd':'/work',"                          \
        "'env':[{'name':'PATH','value_ref':'envref-1','redacted_value':'/usr/bin:/bin','raw_value_present':false},"  \
        "{'name':'_X1','raw_value_present':false}],"                                                                 \
        "'user':{'uid':1000},'terminal_mode':'pty','timeout_ms':30000,'rlimits':{'cpus':1,'memory_mb':256,'timeout_" \
        "ms':30000,'process_count':16},'posix_rlimits':{'nofile':1024},"                                             \
        "'stdin':{'content_ref':'content-1'},'stdout_policy':" POLICY_FULL ",'stderr_policy':" POLICY_DEFAULT ","    \
        "'stats_policy':'default','ownership':'agent_owned','env_values':{'LANG':'C.UTF-8','_X1':'1'}}"
#define FULL_EFFECT                                                                                       \
        "{'effect_id':'eff-1','kind':'process_start','subject_ref':'subj-1','source':{'agent':'a-1'},"    \
        "'destination':'sandbox','policy_refs':['pol-1'],'idempotency_key':'idem-1','dedupe_key':'dd-1'," \
        "'content_refs':['c-1'],'redacted_summary':'run python'}"

#define PROCESS_MIN "{'process_id':'p-1','argv':['/bin/true']}"
#define PROCESS_MIN_CANON \
        "{'process_id':'p-1','argv':['/bin/true'],'env':[],'terminal_mode':'pipe','stdin':'closed','env_values':{}}"

#define FRAME_CORE                                                                                       \
        "{'stream_ref':'s-1','stream':'stdout','cursor':10,'byte_count':10,'content_hash':'" DIGEST "'," \
        "'content_refs':['c-1'],'raw_content_present':false,'truncated':false,'redacted_summary':'10 bytes'}"
#define FRAME_EXT                                                                                      \
        "{'stream_ref':'s-2','stream':'stderr','cursor':6,'byte_count':6,'content_hash':'" DIGEST "'," \
        "'raw_content_present':true,'truncated':true,'redacted_summary':'6 bytes',"                    \
        "'data':'hello\\n','eof':true,'exit_code':0}"

#define CAPS_BASE                                                                                                 \
        "'report_ref':'rep-1','adapter_ref':'nook.userns','adapter_kind':'os_sandbox','adapter_version':'0.1.0'," \
        "'capability_version':'1'"
#define CAPS_PLATFORM \
        "'platform':{'platform':'linux-x86_64','os':'linux','cpu_architecture':'x86_64','emulation_supported':false}"
#define CAPS_FULL_TAIL                                                                              \
        "'supported_classes':['host_process','sandbox']," CAPS_PLATFORM ","                         \
        "'capabilities':{'capabilities':['read_only_root','cleanup']},'trust':{'locality':'local'," \
        "'tenancy':'shared_allowed','auditability':'required','cleanup':'required',"                \
        "'data_residency':'local_only','secret_isolation':'none'},"                                 \
        "'unsupported_requirements':['egress_allowlist'],'log_retention':'durable',"                \
        "'findings':[{'name':'userns','title':'User namespaces','ok':true,'required':true,"         \
        "'detail':'unprivileged user namespaces work','remedy':'none'},"                            \
        "{'name':'slirp4netns','ok':false,'required':false,'detail':'not installed'}]"

/* Request bases for the rejection table. */
#define REQ_ENV "{'environment':" ENV_MIN "}"
#define REQ_ENV_MOUNT                                                              \
        "{'environment':{'environment_id':'env-1','spec':{'filesystem':{'mounts':" \
        "[{'mount_ref':'m-1','source_alias':'data','destination_path':'/data'}]}}}}"
#define REQ_START "{'environment':" ENV_MIN ",'process':" PROCESS_MIN ",'effect_intent':{'effect_id':'e-1'}}"
#define REQ_SECRETS "{'environment':" ENV_MIN ",'secret_values':{'tok':{'value':'x'}}}"
#define REQ_CLEANUP "{'environment':" ENV_MIN ",'cleanup_plan_ref':'plan-1'}"
#define REQ_STREAM "{'process_ref':'pr-1','stream':'stdin'}"
#define REQ_SIGNAL "{'process_ref':'pr-1','signal':'kill'}"
#define REQ_IMAGE "{'image':{'image_ref':'alpine'}}"
#define REQ_ROOTFS "{'rootfs':{'rootfs_ref':'r-1'}}"
#define CAPS_TRUST                                                                                               \
        "'trust':{'locality':'local','tenancy':'shared_allowed','auditability':'required','cleanup':'required'," \
        "'data_residency':'local_only','secret_isolation':'none'},'log_retention':'durable'"
#define RES_CAPS "{" CAPS_BASE "," CAPS_PLATFORM ",'capabilities':{'capabilities':[]}," CAPS_TRUST "}"
#define RES_FRAME "{'stream_ref':'s-1','stream':'stdout','content_hash':'" DIGEST "'}"
#define RES_STATS "{'snapshot_ref':'snap-1','process_ref':'pr-1'}"
#define RES_START "{'process_ref':'pr-1','adapter_session_ref':'as-1'}"
#define RES_CLEANUP "{'cleanup_plan_ref':'plan-1','status':'completed'}"

/* ==================================================== 1. round trips of every type */

typedef struct rt_case {
        const char *name;
        const nook_schema *schema;
        const char *input;
        const char *expected; /* NULL: the input is already canonical */
} rt_case;

static const rt_case round_trips[] = {
        /* requests */
        { "empty_req {}", &nook_schema_empty_req, "{}", NULL },
        { "empty_req with key, unknown dropped", &nook_schema_empty_req, "{'idempotency_key':'k-1','extra':[1]}",
          "{'idempotency_key':'k-1'}" },
        { "env_req minimal gets every default", &nook_schema_env_req, "{'environment':" ENV_MIN "}",
          "{'environment':" ENV_MIN_CANON "}" },
        { "env_req full ExecutionEnvironment", &nook_schema_env_req,
          "{'environment':" FULL_ENV ",'idempotency_key':'k-1'}", NULL },
        { "resolve_image_req full", &nook_schema_resolve_image_req,
          "{'image':{'image_ref':'alpine:3.20','expected_digest':'" DIGEST "','expected_architecture':'aarch64',"
          "'credential_alias_ref':'cred-1'},'idempotency_key':'k-2'}",
          NULL },
        { "resolve_image_req minimal", &nook_schema_resolve_image_req, "{'image':{'image_ref':'alpine'}}", NULL },
        { "prepare_rootfs_req full", &nook_schema_prepare_rootfs_req,
          "{'rootfs':{'rootfs_ref':'r-1','read_only':true,'writable_layer_ref':'l-1'},'environment_id':'env-1',"
          "'idempotency_key':'k-3'}",
          NULL },
        { "prepare_rootfs_req minimal", &nook_schema_prepare_rootfs_req, "{'rootfs':{'rootfs_ref':'r-1'}}",
          "{'rootfs':{'rootfs_ref':'r-1','read_only':false}}" },
        { "prepare_secrets_req every source kind", &nook_schema_prepare_secrets_req,
          "{'environment':" FULL_ENV ",'secret_values':{'sec-1':{'file':'/home/user/.token'},"
          "'sec-2':{'env':'HOST_API_KEY'},'sec-3':{'fd':3},'sec-4':{'value':'hunter2'},'sec-5':{'fd':0}}}",
          NULL },
        { "prepare_secrets_req minimal", &nook_schema_prepare_secrets_req, "{'environment':" ENV_MIN "}",
          "{'environment':" ENV_MIN_CANON ",'secret_values':{}}" },
        { "start_process_req full", &nook_schema_start_process_req,
          "{'environment':" FULL_ENV ",'process':" FULL_PROCESS ",'effect_intent':" FULL_EFFECT ","
          "'wait_ms':5000,'idempotency_key':'k-4'}",
          NULL },
        { "start_process_req minimal", &nook_schema_start_process_req, REQ_START,
          "{'environment':" ENV_MIN_CANON ",'process':" PROCESS_MIN_CANON ",'effect_intent':{'effect_id':'e-1'}}" },
        { "stream_io_req stdin write, every field", &nook_schema_stream_io_req,
          "{'process_ref':'pr-1','stream':'stdin','cursor':100,'max_bytes':4096,'data':'aGVsbG8=',"
          "'encoding':'base64','close':true,'wait_ms':250,'idempotency_key':'k-5'}",
          NULL },
        { "stream_io_req minimal read", &nook_schema_stream_io_req, "{'process_ref':'pr-1','stream':'stdout'}",
          "{'process_ref':'pr-1','stream':'stdout','encoding':'utf8','close':false,'wait_ms':0}" },
        { "signal_req full", &nook_schema_signal_req,
          "{'process_ref':'pr-1','signal':'terminate','grace_ms':5000,'idempotency_key':'k-6'}", NULL },
        { "signal_req minimal", &nook_schema_signal_req, REQ_SIGNAL,
          "{'process_ref':'pr-1','signal':'kill','grace_ms':0}" },
        { "process_ref_req", &nook_schema_process_ref_req, "{'process_ref':'pr-1'}", NULL },
        { "cleanup_req", &nook_schema_cleanup_req, REQ_CLEANUP,
          "{'environment':" ENV_MIN_CANON ",'cleanup_plan_ref':'plan-1'}" },
        { "reclaim_req", &nook_schema_reclaim_req, "{'ticket_ref':'ticket-1','idempotency_key':'k-7'}", NULL },
        { "read_content_req full", &nook_schema_read_content_req, "{'content_ref':'c-1','max_bytes':1024}", NULL },
        { "read_content_req minimal", &nook_schema_read_content_req, "{'content_ref':'c-1'}", NULL },

        /* results */
        { "capability_report healthy with findings", &nook_schema_capability_report,
          "{" CAPS_BASE ",'health':'healthy'," CAPS_FULL_TAIL "}", NULL },
        { "capability_report degraded", &nook_schema_capability_report,
          "{" CAPS_BASE ",'health':{'degraded':{'reason':'no cgroup delegation'}}," CAPS_FULL_TAIL "}", NULL },
        { "capability_report unsupported_host", &nook_schema_capability_report,
          "{" CAPS_BASE
          ",'health':{'unsupported_host':{'missing_prerequisites':['user namespaces','newuidmap']}}," CAPS_FULL_TAIL
          "}",
          NULL },
        { "capability_report healthy given as {healthy:{}}", &nook_schema_capability_report,
          "{" CAPS_BASE ",'health':{'healthy':{}}," CAPS_FULL_TAIL "}",
          "{" CAPS_BASE ",'health':'healthy'," CAPS_FULL_TAIL "}" },
        { "capability_report minimal", &nook_schema_capability_report, RES_CAPS,
          "{" CAPS_BASE "," CAPS_PLATFORM ",'capabilities':{}," CAPS_TRUST ",'findings':[]}" },
        { "resolve_image_result", &nook_schema_resolve_image_result,
          "{'image_ref':'img-1','digest':'" DIGEST "','redacted_credential_alias':'cred-***'}", NULL },
        { "mount_plan", &nook_schema_mount_plan,
          "{'mounts':['m-1','m-2'],'expanded_exposure_audits':['/data/x exposes its parent /data'],"
          "'nook':[{'mount_ref':'m-1','source_alias':'datasets','destination_path':'/data','mode':'read_only',"
          "'expansion_audit':'expanded /data/x to /data'},"
          "{'mount_ref':'m-2','destination_path':'/cache','mode':'writable'}]}",
          NULL },
        { "mount_plan empty", &nook_schema_mount_plan, "{}", "{}" },
        { "secrets_result", &nook_schema_secrets_result,
          "{'secret_mount_refs':['sm-1','sm-2'],'teardown_required':false}", NULL },
        { "secrets_result empty", &nook_schema_secrets_result, "{}", "{'teardown_required':true}" },
        { "io_frame without ext fields", &nook_schema_io_frame, FRAME_CORE, NULL },
        { "io_frame with ext data/eof/exit_code", &nook_schema_io_frame, FRAME_EXT, NULL },
        { "io_frame minimal", &nook_schema_io_frame, RES_FRAME,
          "{'stream_ref':'s-1','stream':'stdout','cursor':0,'byte_count':0,'content_hash':'" DIGEST "',"
          "'raw_content_present':false,'truncated':false}" },
        { "io_frame eof false stays present", &nook_schema_io_frame,
          "{'stream_ref':'s-1','stream':'stdin','content_hash':'" DIGEST "','eof':false}",
          "{'stream_ref':'s-1','stream':'stdin','cursor':0,'byte_count':0,'content_hash':'" DIGEST "',"
          "'raw_content_present':false,'truncated':false,'eof':false}" },
        { "start_result with io_frames", &nook_schema_start_result,
          "{'process_ref':'pr-1','adapter_session_ref':'as-1','terminal_status':'completed',"
          "'external_operation_id':'op-1','io_frames':[" FRAME_CORE "," FRAME_EXT "],'redacted_summary':'exit 0'}",
          NULL },
        { "start_result minimal is unknown", &nook_schema_start_result, RES_START,
          "{'process_ref':'pr-1','adapter_session_ref':'as-1','terminal_status':'unknown',"
          "'external_operation_id':null}" },
        { "signal_result", &nook_schema_signal_result,
          "{'process_ref':'pr-1','signal':'interrupt','delivered':true,'redacted_summary':'SIGINT delivered'}", NULL },
        { "signal_result minimal", &nook_schema_signal_result, "{'process_ref':'pr-1','signal':'kill'}",
          "{'process_ref':'pr-1','signal':'kill','delivered':false}" },
        { "stats_result every field", &nook_schema_stats_result,
          "{'snapshot_ref':'snap-1','process_ref':'pr-1','cpu_millis':120,'memory_bytes':1048576,"
          "'process_count':3,'filesystem_bytes':4096,'network_bytes':0,'exit_code':0,'redacted_summary':'done'}",
          NULL },
        { "stats_result absent stays absent, zero stays zero", &nook_schema_stats_result,
          "{'snapshot_ref':'snap-1','process_ref':'pr-1','cpu_millis':0,'exit_code':0}",
          "{'snapshot_ref':'snap-1','process_ref':'pr-1','cpu_millis':0,'memory_bytes':null,'process_count':null,"
          "'filesystem_bytes':null,'network_bytes':null,'exit_code':0}" },
        { "stats_result nothing measurable", &nook_schema_stats_result, RES_STATS,
          "{'snapshot_ref':'snap-1','process_ref':'pr-1','cpu_millis':null,'memory_bytes':null,'process_count':null,"
          "'filesystem_bytes':null,'network_bytes':null,'exit_code':null}" },
        { "stats_result null optional is absent", &nook_schema_stats_result,
          "{'snapshot_ref':'snap-1','process_ref':'pr-1','memory_bytes':null,'exit_code':7}",
          "{'snapshot_ref':'snap-1','process_ref':'pr-1','cpu_millis':null,'memory_bytes':null,'process_count':null,"
          "'filesystem_bytes':null,'network_bytes':null,'exit_code':7}" },
        { "cleanup_result", &nook_schema_cleanup_result,
          "{'cleanup_plan_ref':'plan-1','status':'repair_needed','external_operation_id':'op-2',"
          "'redacted_summary':'1 mount left'}",
          NULL },
        { "detach_result", &nook_schema_detach_result, "{'host_ack_ref':'ticket-1','redacted_summary':'detached'}",
          NULL },
        { "reclaim_result", &nook_schema_reclaim_result,
          "{'ticket_ref':'ticket-1','status':'completed','redacted_summary':'2 processes stopped'}", NULL },
        { "content_result", &nook_schema_content_result,
          "{'content_ref':'c-1','byte_count':5,'content_hash':'" DIGEST "','data':'hello'}", NULL },
        { "content_result minimal", &nook_schema_content_result, "{'content_ref':'c-1'}",
          "{'content_ref':'c-1','byte_count':0}" },
};

/* parse -> encode == expected; encode(parse(encode(x))) == encode(x), also as canonical text. */
static void check_round_trip(const nook_schema *s, json_t *in, json_t *want, const char *what) {
        _cleanup_typed_ typed a = parse_ok(s, in);
        json_auto_t *enc = nook_schema_encode(s, a.obj);
        assert_non_null(enc);
        check_json_equal(enc, want, what);

        _cleanup_typed_ typed b = parse_ok(s, enc);
        json_auto_t *enc2 = nook_schema_encode(s, b.obj);
        assert_non_null(enc2);
        check_json_equal(enc2, enc, what);
        _cleanup_free_ char *c1 = nook_json_canonical(enc);
        _cleanup_free_ char *c2 = nook_json_canonical(enc2);
        assert_non_null(c1);
        assert_string_equal(c1, c2);
}

static void test_every_contract_type_round_trips_to_canonical_json(void **state) {
        for (size_t i = 0; i < ELEMENTSOF(round_trips); i++) {
                const rt_case *c = &round_trips[i];
                json_auto_t *in = J(c->input);
                json_auto_t *want = J(c->expected ? c->expected : c->input);
                check_round_trip(c->schema, in, want, c->name);
        }
}

/* A value substituted into the full start_process request, and its canonical form. */
typedef struct sweep_case {
        const char *at;
        const char *value;
        const char *expected; /* NULL: value is canonical */
} sweep_case;

static const sweep_case variant_sweep[] = {
        /* every network variant */
        { SP "/network", "'disabled'", NULL },
        { SP "/network", "{'disabled':{}}", "'disabled'" },
        { SP "/network", "{'disabled':null}", "'disabled'" },
        { SP "/network", "null", "'disabled'" },
        { SP "/network", "{'allowlist':{'hosts':['pypi.org']}}", NULL },
        { SP "/network", "{'allowlist':{'hosts':[]}}", NULL },
        { SP "/network", "{'egress_scoped':{'rules':['tcp:443:api.github.com','udp:53:10.0.0.1','https://pypi.org']}}",
          NULL },
        { SP "/network", "{'exposed_ports':{'ports':[8080,80]}}", NULL },
        { SP "/network", "{'socket_relay':{'relay_refs':['relay.ssh-agent']}}", NULL },
        { SP "/network", "{'socket_relay':{'relay_refs':[]}}", NULL },
        { SP "/network", "'adapter_defined_denied'", NULL },
        { SP "/network", "{'adapter_defined_denied':{}}", "'adapter_defined_denied'" },
        /* every fallback variant */
        { SP "/requirement/fallback", "'deny'", NULL },
        { SP "/requirement/fallback", "{'deny':{}}", "'deny'" },
        { SP "/requirement/fallback", "'test_only_host_process'", NULL },
        { SP "/requirement/fallback", "{'allow_if_package_and_policy_approve':{'accepted_classes':['container']}}",
          "{'allow_if_package_and_policy_approve':{'accepted_classes':['container'],'accepted_capability_downgrades':[]"
          ","
          "'accepted_trust_downgrades':[]}}" },
        { SP "/requirement/fallback", "{'allow_if_package_and_policy_approve':{}}",
          "{'allow_if_package_and_policy_approve':{'accepted_classes':[],'accepted_capability_downgrades':[],"
          "'accepted_trust_downgrades':[]}}" },
        /* stdin */
        { "/process/stdin", "'closed'", NULL },
        { "/process/stdin", "{'closed':{}}", "'closed'" },
        { "/process/stdin", "{'content_ref':'c-9'}", NULL },
        { "/process/stdin", "{'content_ref':{'ref':'c-9','range':[0,10]}}", NULL },
        /* every workspace mode, root, capture policy */
        { SP "/filesystem/workspace/mode", "'none'", NULL },
        { SP "/filesystem/workspace/mode", "'snapshot'", NULL },
        { SP "/filesystem/workspace/mode", "'live_read_only'", NULL },
        { SP "/filesystem/workspace/mode", "'scratch'", NULL },
        { SP "/filesystem/root", "'read_only'", NULL },
        { SP "/io_policy/stdout/default_capture", "'off'", NULL },
        { SP "/io_policy/stdout/default_capture", "'metadata_only'", NULL },
        { SP "/requirement/minimum_class", "'lightweight_vm'", NULL },
        { SP "/requirement/minimum_class", "'remote_sandbox'", NULL },
        { SP "/requirement/minimum_class", "'container'", NULL },
        { SP "/requirement/minimum_class", "'host_process'", NULL },
        { SP "/ownership/ownership_class", "'host_managed'", NULL },
        { SP "/resources/cpus", "0.01", NULL },
        { SP "/resources/cpus", "1024", NULL },
        { SP "/resources/cpus", "3.0", "3" },
};

static void test_every_variant_and_enum_value_round_trips(void **state) {
        static const char base[] = "{'environment':" FULL_ENV ",'process':" FULL_PROCESS ",'effect_intent':" FULL_EFFECT
                                   ",'wait_ms':5000,'idempotency_key':'k-4'}";
        for (size_t i = 0; i < ELEMENTSOF(variant_sweep); i++) {
                const sweep_case *c = &variant_sweep[i];
                json_auto_t *in = variant_of(base, c->at, c->value);
                json_auto_t *want = variant_of(base, c->at, c->expected ? c->expected : c->value);
                char what[256];
                snprintf(what, sizeof what, "%s = %s", c->at, c->value);
                check_round_trip(&nook_schema_start_process_req, in, want, what);
        }
}

static void test_unknown_fields_are_tolerated_and_not_encoded(void **state) {
        json_auto_t *in = J("{'environment':{'environment_id':'env-1','x-host':1,'spec':{'future':{'a':[1]},"
                            "'resources':{'gpus':1},'filesystem':{'mounts':[{'mount_ref':'m-1','source_alias':'a',"
                            "'destination_path':'/a','propagation':'private'}],'workspace':{'x':1}},"
                            "'network':{'allowlist':{'hosts':['h'],'comment':'x'}},"
                            "'secrets':{'secret_mounts':[{'secret_ref':'s','destination':'/s','mode':384}]},"
                            "'ownership':{'detach_policy':{'allowed':true,'max_age':'1d'}},"
                            "'io_policy':{'stdout':{'x':1}}}},"
                            "'process':{'process_id':'p-1','argv':['a'],'env':[{'name':'A','note':'x'}],'y':2},"
                            "'effect_intent':{'effect_id':'e-1','extra':null},'trace_id':'t-1'}");
        _cleanup_typed_ typed t = parse_ok(&nook_schema_start_process_req, in);
        json_auto_t *enc = nook_schema_encode(&nook_schema_start_process_req, t.obj);
        assert_non_null(enc);
        assert_null(json_object_get(enc, "trace_id"));
        assert_null(json_object_get(json_object_get(enc, "process"), "y"));
        assert_null(json_object_get(json_object_get(json_object_get(enc, "environment"), "spec"), "future"));
        json_t *net = json_object_get(json_object_get(json_object_get(enc, "environment"), "spec"), "network");
        json_auto_t *want_net = J("{'allowlist':{'hosts':['h']}}");
        check_json_equal(net, want_net, "unknown member of a variant payload dropped");
        const nook_start_process_req *r = t.obj;
        assert_true(r->environment.spec.ownership.detach_policy.allowed);
        assert_int_equal(r->process.env.n, 1);
}

/* ================================================== 2. defaults and typed values */

static void test_minimal_environment_gets_contract_defaults(void **state) {
        json_auto_t *doc = J(REQ_ENV);
        _cleanup_typed_ typed t = parse_ok(&nook_schema_env_req, doc);
        const nook_env_req *req = t.obj;
        const nook_environment_spec *s = &req->environment.spec;

        assert_string_equal(req->environment.environment_id, "env-1");
        assert_null(req->idempotency_key);
        assert_null(s->environment_id);
        assert_false(s->has_requirement);
        assert_false(s->has_image);
        assert_false(s->has_rootfs);

        assert_true(s->resources.cpus == 1.0);
        assert_int_equal(s->resources.memory_mb, 1024);
        assert_int_equal(s->resources.timeout_ms, 120000);
        assert_int_equal(s->resources.process_count, 32);

        assert_int_equal(s->filesystem.root, NOOK_ROOT_READ_ONLY);
        assert_int_equal(s->filesystem.workspace.mode, NOOK_WS_NONE);
        assert_string_equal(s->filesystem.workspace.destination_path, "/workspace");
        assert_null(s->filesystem.workspace.workspace_ref);
        assert_null(s->filesystem.workspace.mount_ref);
        assert_int_equal(s->filesystem.mounts.n, 0);
        assert_int_equal(s->filesystem.symlink_policy, NOOK_SYMLINK_DENY_ESCAPES);
        assert_int_equal(s->filesystem.single_file_mount_expansion, NOOK_SFM_AUDIT_EXPANDED_PARENT);

        assert_int_equal(s->network.tag, NOOK_NET_DISABLED);
        assert_null(s->network.data);

        assert_int_equal(s->secrets.ambient, NOOK_AMBIENT_DENIED);
        assert_int_equal(s->secrets.secret_mounts.n, 0);
        assert_int_equal(s->secrets.env_secrets.n, 0);
        assert_true(s->secrets.teardown_required);

        assert_int_equal(s->ownership.ownership_class, NOOK_OWN_AGENT_OWNED);
        assert_false(s->ownership.detach_policy.allowed);
        assert_int_equal(s->accepted_adapters.n, 0);

        const nook_stream_policy *pol[] = { &s->io_policy.stdout_policy, &s->io_policy.stderr_policy };
        for (size_t i = 0; i < ELEMENTSOF(pol); i++) {
                assert_int_equal(pol[i]->default_capture, NOOK_CAPTURE_REDACTED_SUMMARY);
                assert_int_equal(pol[i]->max_bytes, 65536);
                assert_int_equal(pol[i]->truncation_policy, NOOK_TRUNC_WITH_MARKER);
                assert_null(pol[i]->content_ref_mode);
        }
        assert_null(s->kind);
        assert_null(s->lifecycle);
        assert_null(s->stats_policy);
}

static void test_empty_requirement_defaults_to_fallback_deny_and_no_class(void **state) {
        /* minimum_class is required (the crate writes it always); the rest asks nothing */
        json_auto_t *bad = variant_of(REQ_ENV, SP "/requirement", "{}");
        nook_env_req r = { 0 };
        _cleanup_(nook_error_freep) nook_error *err = NULL;
        assert_true(nook_schema_parse(&nook_schema_env_req, bad, "", &r, &err) < 0);
        assert_int_equal(nook_error_get_kind(err), NOOK_ERROR_MISSING_REQUIRED_FIELD);
        assert_string_equal(nook_error_get_pointer(err), SP "/requirement/minimum_class");
        json_auto_t *doc = variant_of(REQ_ENV, SP "/requirement", "{'minimum_class':'sandbox'}");
        _cleanup_typed_ typed t = parse_ok(&nook_schema_env_req, doc);
        const nook_environment_spec *s = &((nook_env_req *)t.obj)->environment.spec;
        assert_true(s->has_requirement);
        assert_int_equal(s->requirement.minimum_class, NOOK_CLASS_SANDBOX);
        assert_int_equal(s->requirement.fallback.tag, NOOK_FALLBACK_DENY);
        assert_null(s->requirement.fallback.data);
        assert_false(s->requirement.has_trust);
        assert_int_equal(s->requirement.preferred_adapters.n, 0);
        assert_int_equal(s->requirement.required_capabilities.capabilities.n, 0);
        json_auto_t *enc = nook_schema_encode(&nook_schema_env_req, t.obj);
        /* an empty capability set is {} (enums.md) */
        json_auto_t *want =
                J("{'minimum_class':'sandbox','fallback':'deny','preferred_adapters':[],'required_capabilities':{}}");
        check_json_equal(json_object_get(json_object_get(json_object_get(enc, "environment"), "spec"), "requirement"),
                         want, "requirement defaults");
}

static void test_minimal_process_defaults_to_pipe_closed_stdin_and_no_timeout(void **state) {
        json_auto_t *doc = J(REQ_START);
        _cleanup_typed_ typed t = parse_ok(&nook_schema_start_process_req, doc);
        const nook_start_process_req *r = t.obj;
        assert_int_equal(r->process.terminal_mode, NOOK_TERM_PIPE);
        assert_int_equal(r->process.stdin_spec.tag, NOOK_STDIN_CLOSED);
        assert_null(r->process.stdin_spec.data);
        assert_false(r->process.has_timeout_ms);
        assert_false(r->process.has_stdout_policy);
        assert_false(r->process.has_stderr_policy);
        assert_null(r->process.cwd);
        assert_int_equal(r->process.env.n, 0);
        assert_int_equal(r->process.env_values.n, 0);
        assert_int_equal(r->process.argv.n, 1);
        assert_string_equal(((char **)r->process.argv.items)[0], "/bin/true");
        assert_false(r->has_wait_ms);
        assert_null(r->effect_intent.idempotency_key);
        assert_string_equal(r->effect_intent.effect_id, "e-1");
}

static void test_other_request_and_result_defaults(void **state) {
        {
                json_auto_t *doc = J("{'process_ref':'pr-1','stream':'stdout'}");
                _cleanup_typed_ typed t = parse_ok(&nook_schema_stream_io_req, doc);
                const nook_stream_io_req *r = t.obj;
                assert_int_equal(r->stream, NOOK_STREAM_STDOUT);
                assert_int_equal(r->encoding, NOOK_ENCODING_UTF8);
                assert_false(r->close);
                assert_int_equal(r->wait_ms, 0);
                assert_false(r->has_cursor);
                assert_false(r->has_max_bytes);
                assert_null(r->data);
        }
        {
                json_auto_t *doc = variant_of(REQ_START, "/process/stdout_policy", "{}");
                _cleanup_typed_ typed t = parse_ok(&nook_schema_start_process_req, doc);
                const nook_process_spec *p = &((nook_start_process_req *)t.obj)->process;
                assert_true(p->has_stdout_policy);
                assert_false(p->has_stderr_policy);
                assert_int_equal(p->stdout_policy.default_capture, NOOK_CAPTURE_REDACTED_SUMMARY);
                assert_int_equal(p->stdout_policy.max_bytes, 65536);
        }
        {
                json_auto_t *doc = J(RES_START);
                _cleanup_typed_ typed t = parse_ok(&nook_schema_start_result, doc);
                assert_int_equal(((nook_start_result *)t.obj)->terminal_status, NOOK_TERMINAL_UNKNOWN);
        }
        {
                json_auto_t *doc = J("{}");
                _cleanup_typed_ typed t = parse_ok(&nook_schema_secrets_result, doc);
                assert_true(((nook_secrets_result *)t.obj)->teardown_required);
        }
        {
                json_auto_t *doc = J("{'snapshot_ref':'s','process_ref':'p','cpu_millis':0}");
                _cleanup_typed_ typed t = parse_ok(&nook_schema_stats_result, doc);
                const nook_stats_result *r = t.obj;
                assert_true(r->has_cpu_millis);
                assert_int_equal(r->cpu_millis, 0);
                assert_false(r->has_memory_bytes);
                assert_false(r->has_process_count);
                assert_false(r->has_filesystem_bytes);
                assert_false(r->has_network_bytes);
                assert_false(r->has_exit_code);
        }
        {
                json_auto_t *doc = J(RES_CAPS);
                _cleanup_typed_ typed t = parse_ok(&nook_schema_capability_report, doc);
                assert_int_equal(((nook_capability_report *)t.obj)->health.tag, -1);
        }
}

static const nook_named_secret *find_secret(const nook_array *a, const char *ref) {
        for (size_t i = 0; i < a->n; i++) {
                const nook_named_secret *s = (const nook_named_secret *)a->items + i;
                if (strcmp(s->secret_ref, ref) == 0)
                        return s;
        }
        fail_msg("secret %s not parsed", ref);
        return NULL;
}

static void test_full_requests_parse_into_the_expected_typed_values(void **state) {
        json_auto_t *doc = J("{'environment':" FULL_ENV ",'process':" FULL_PROCESS ",'effect_intent':" FULL_EFFECT
                             ",'wait_ms':5000}");
        _cleanup_typed_ typed t = parse_ok(&nook_schema_start_process_req, doc);
        const nook_start_process_req *r = t.obj;
        const nook_environment_spec *s = &r->environment.spec;

        assert_true(s->resources.cpus == 2.5);
        assert_int_equal(s->requirement.minimum_class, NOOK_CLASS_SANDBOX);
        assert_int_equal(s->requirement.fallback.tag, NOOK_FALLBACK_ALLOW_IF_APPROVED);
        const nook_fallback_allow *allow = s->requirement.fallback.data;
        assert_int_equal(allow->accepted_classes.n, 1);
        assert_int_equal(((int *)allow->accepted_trust_downgrades.items)[0], NOOK_TRUST_TENANCY);
        assert_int_equal(s->requirement.trust.data_residency.tag, NOOK_RESIDENCY_REGION);
        assert_string_equal(s->requirement.trust.data_residency.data, "\"eu-west-1\"");
        assert_string_equal(s->image.expected_digest, DIGEST);
        assert_int_equal(s->filesystem.workspace.mode, NOOK_WS_LIVE_WRITABLE);
        assert_int_equal(s->filesystem.mounts.n, 2);
        const nook_mount_policy *m = s->filesystem.mounts.items;
        assert_string_equal(m[1].destination_path, "/cache/pip");
        assert_int_equal(m[1].mode, NOOK_MOUNT_WRITABLE);
        assert_string_equal(m[0].expansion_audit, "{\"audited\":true}");
        assert_null(m[1].expansion_audit);

        assert_int_equal(s->network.tag, NOOK_NET_ALLOWLIST);
        const nook_net_allowlist *al = s->network.data;
        assert_int_equal(al->hosts.n, 2);
        assert_string_equal(((char **)al->hosts.items)[1], "files.pythonhosted.org");

        const nook_env_secret *es = s->secrets.env_secrets.items;
        assert_string_equal(es[0].env_key, "API_KEY");
        assert_false(s->secrets.teardown_required);
        assert_true(s->ownership.detach_policy.allowed);
        assert_int_equal(s->io_policy.stderr_policy.max_bytes, 0);
        assert_string_equal(s->kind, "\"isolated_process\"");

        const nook_process_spec *p = &r->process;
        assert_int_equal(p->argv.n, 3);
        assert_int_equal(p->terminal_mode, NOOK_TERM_PTY);
        assert_true(p->has_timeout_ms);
        assert_int_equal(p->timeout_ms, 30000);
        assert_int_equal(p->stdin_spec.tag, NOOK_STDIN_CONTENT_REF);
        assert_string_equal(p->stdin_spec.data, "\"content-1\"");
        const nook_env_entry *env = p->env.items;
        assert_string_equal(env[0].value_ref, "envref-1");
        assert_false(env[0].raw_value_present);
        assert_int_equal(p->env_values.n, 2);
        assert_string_equal(p->env_values.keys[0], "LANG");
        assert_string_equal(p->env_values.values[0], "C.UTF-8");
        assert_true(r->has_wait_ms);
        assert_int_equal(r->wait_ms, 5000);
        assert_string_equal(r->effect_intent.idempotency_key, "idem-1");

        json_auto_t *sdoc = J("{'environment':" ENV_MIN ",'secret_values':{'sec-1':{'file':'/home/user/.token'},"
                              "'sec-2':{'env':'HOST_API_KEY'},'sec-3':{'fd':0},'sec-4':{'value':'hunter2'}}}");
        _cleanup_typed_ typed st = parse_ok(&nook_schema_prepare_secrets_req, sdoc);
        const nook_array *sv = &((nook_prepare_secrets_req *)st.obj)->secret_values;
        assert_int_equal(sv->n, 4);
        assert_string_equal(find_secret(sv, "sec-1")->source.file, "/home/user/.token");
        assert_string_equal(find_secret(sv, "sec-2")->source.env, "HOST_API_KEY");
        assert_true(find_secret(sv, "sec-3")->source.has_fd);
        assert_int_equal(find_secret(sv, "sec-3")->source.fd, 0);
        assert_false(find_secret(sv, "sec-4")->source.has_fd);
        assert_string_equal(find_secret(sv, "sec-4")->source.value, "hunter2");
}

/* ============================================================ 3. rejection paths */

typedef struct reject_case {
        const char *name;
        const nook_schema *schema;
        const char *base;
        const char *at;    /* pointer to replace in base; NULL: base as is */
        const char *value; /* replacement (test JSON); NULL: delete */
        nook_error_kind kind;
        const char *pointer;
        const char *msg; /* substring of the message, or NULL */
} reject_case;

#define ENVR &nook_schema_env_req, REQ_ENV
/* a requirement to vary (its minimum_class is required) */
#define ENVRQ                 \
        &nook_schema_env_req, \
                "{'environment':{'environment_id':'env-1','spec':{'requirement':{'minimum_class':'sandbox'}}}}"
#define MOUNTR &nook_schema_env_req, REQ_ENV_MOUNT
#define STARTR &nook_schema_start_process_req, REQ_START
#define SECRETR &nook_schema_prepare_secrets_req, REQ_SECRETS
#define STREAMR &nook_schema_stream_io_req, REQ_STREAM
#define SIGNALR &nook_schema_signal_req, REQ_SIGNAL
#define IMAGER &nook_schema_resolve_image_req, REQ_IMAGE
#define CAPSR &nook_schema_capability_report, RES_CAPS
#define FRAMER &nook_schema_io_frame, RES_FRAME
#define STATSR &nook_schema_stats_result, RES_STATS

#define MSG_IDENT "identifier must be 1 to 512 bytes without control characters"
#define MSG_HASH "expected \"sha256:\" followed by 64 lowercase hex digits"
#define MSG_PATH "expected an absolute, normalised path"
#define MSG_ENVNAME "expected an environment variable name"
#define NETWORK_TAGS "disabled, allowlist, egress_scoped, exposed_ports, socket_relay, adapter_defined_denied"

static const reject_case rejections[] = {
        /* ---- ext labels (--label): KEY=VALUE, no control character */
        { "label without =", ENVR, "/nook", "{'labels':['novalue']}", CV, "/nook/labels/0", "a label is KEY=VALUE" },
        { "label with an empty key", ENVR, "/nook", "{'labels':['a=b','=v']}", CV, "/nook/labels/1", "KEY=VALUE" },
        { "label with a newline", ENVR, "/nook", "{'labels':['k=a\\nb']}", CV, "/nook/labels/0", "control" },
        /* ---- missing required fields (absent or null) */
        { "environment_id absent", ENVR, "/environment/environment_id", NULL, MISS, "/environment/environment_id",
          NULL },
        { "environment_id null", ENVR, "/environment/environment_id", "null", MISS, "/environment/environment_id",
          NULL },
        { "environment absent", ENVR, "/environment", NULL, MISS, "/environment", NULL },
        { "environment null", ENVR, "/environment", "null", MISS, "/environment", NULL },
        { "spec absent", ENVR, SP, NULL, MISS, SP, NULL },
        { "argv absent", STARTR, "/process/argv", NULL, MISS, "/process/argv", NULL },
        { "argv null", STARTR, "/process/argv", "null", MISS, "/process/argv", NULL },
        { "process_id absent", STARTR, "/process/process_id", NULL, MISS, "/process/process_id", NULL },
        { "process absent", STARTR, "/process", NULL, MISS, "/process", NULL },
        { "effect_id absent", STARTR, "/effect_intent/effect_id", NULL, MISS, "/effect_intent/effect_id", NULL },
        { "effect_intent absent", STARTR, "/effect_intent", NULL, MISS, "/effect_intent", NULL },
        { "env entry name absent", STARTR, "/process/env", "[{'redacted_value':'x'}]", MISS, "/process/env/0/name",
          NULL },
        { "mount destination_path absent", ENVR, SP "/filesystem/mounts", "[{'mount_ref':'m-1','source_alias':'data'}]",
          MISS, SP "/filesystem/mounts/0/destination_path", NULL },
        { "second mount source_alias absent", ENVR, SP "/filesystem/mounts",
          "[{'mount_ref':'m-1','source_alias':'a','destination_path':'/a'},{'mount_ref':'m-2','destination_path':'/"
          "b'}]",
          MISS, SP "/filesystem/mounts/1/source_alias", NULL },
        { "secret mount destination absent", ENVR, SP "/secrets/secret_mounts", "[{'secret_ref':'s-1'}]", MISS,
          SP "/secrets/secret_mounts/0/destination", NULL },
        { "env secret env_key absent", ENVR, SP "/secrets/env_secrets", "[{'secret_ref':'s-1'}]", MISS,
          SP "/secrets/env_secrets/0/env_key", NULL },
        { "spec image without image_ref", ENVR, SP "/image", "{}", MISS, SP "/image/image_ref", NULL },
        { "spec rootfs without rootfs_ref", ENVR, SP "/rootfs", "{'read_only':true}", MISS, SP "/rootfs/rootfs_ref",
          NULL },
        { "image_ref absent", IMAGER, "/image/image_ref", NULL, MISS, "/image/image_ref", NULL },
        { "image absent", IMAGER, "/image", NULL, MISS, "/image", NULL },
        { "rootfs_ref absent", &nook_schema_prepare_rootfs_req, REQ_ROOTFS, "/rootfs/rootfs_ref", NULL, MISS,
          "/rootfs/rootfs_ref", NULL },
        { "stream absent", STREAMR, "/stream", NULL, MISS, "/stream", NULL },
        { "stream_io process_ref absent", STREAMR, "/process_ref", NULL, MISS, "/process_ref", NULL },
        { "signal absent", SIGNALR, "/signal", NULL, MISS, "/signal", NULL },
        { "cleanup_plan_ref absent", &nook_schema_cleanup_req, REQ_CLEANUP, "/cleanup_plan_ref", NULL, MISS,
          "/cleanup_plan_ref", NULL },
        { "ticket_ref absent", &nook_schema_reclaim_req, "{'ticket_ref':'t-1'}", "/ticket_ref", NULL, MISS,
          "/ticket_ref", NULL },
        { "content_ref absent", &nook_schema_read_content_req, "{'content_ref':'c-1'}", "/content_ref", NULL, MISS,
          "/content_ref", NULL },
        { "collect_stats process_ref null", &nook_schema_process_ref_req, "{'process_ref':'pr-1'}", "/process_ref",
          "null", MISS, "/process_ref", NULL },
        { "report platform os absent", CAPSR, "/platform/os", NULL, MISS, "/platform/os", NULL },
        { "report capabilities absent", CAPSR, "/capabilities", NULL, MISS, "/capabilities", NULL },
        { "frame stream_ref absent", FRAMER, "/stream_ref", NULL, MISS, "/stream_ref", NULL },
        { "stats snapshot_ref absent", STATSR, "/snapshot_ref", NULL, MISS, "/snapshot_ref", NULL },
        { "degraded without reason", CAPSR, "/health", "{'degraded':{}}", MISS, "/health/degraded/reason", NULL },
        { "unsupported_host without prerequisites", CAPSR, "/health", "{'unsupported_host':{}}", MISS,
          "/health/unsupported_host/missing_prerequisites", NULL },
        { "allowlist without hosts", ENVR, SP "/network", "{'allowlist':{}}", MISS, SP "/network/allowlist/hosts",
          NULL },
        { "allowlist hosts null", ENVR, SP "/network", "{'allowlist':{'hosts':null}}", MISS,
          SP "/network/allowlist/hosts", NULL },
        { "egress_scoped without rules", ENVR, SP "/network", "{'egress_scoped':{}}", MISS,
          SP "/network/egress_scoped/rules", NULL },
        { "exposed_ports without ports", ENVR, SP "/network", "{'exposed_ports':{}}", MISS,
          SP "/network/exposed_ports/ports", NULL },

        /* ---- wrong types */
        { "string for integer", ENVR, SP "/resources/memory_mb", "'1024'", CV, SP "/resources/memory_mb",
          "expected an integer, got a string" },
        { "boolean for integer", ENVR, SP "/resources/memory_mb", "true", CV, SP "/resources/memory_mb",
          "expected an integer, got a boolean" },
        { "integer for string", STARTR, "/process/process_id", "5", CV, "/process/process_id",
          "expected a string, got an integer" },
        { "object for array", STARTR, "/process/argv", "{}", CV, "/process/argv", "expected an array, got an object" },
        { "string for array", ENVR, SP "/accepted_adapters", "'nook.userns'", CV, SP "/accepted_adapters",
          "expected an array, got a string" },
        { "array for object", ENVR, SP, "[]", CV, SP, "expected an object, got an array" },
        { "array for nested object", ENVR, SP "/resources", "[1]", CV, SP "/resources",
          "expected an object, got an array" },
        { "string for environment", ENVR, "/environment", "'env-1'", CV, "/environment",
          "expected an object, got a string" },
        { "number for boolean", STARTR, "/process/env", "[{'name':'A','raw_value_present':1}]", CV,
          "/process/env/0/raw_value_present", "expected a boolean, got an integer" },
        { "string for boolean", ENVR, SP "/secrets/teardown_required", "'true'", CV, SP "/secrets/teardown_required",
          "expected a boolean, got a string" },
        { "string for number", ENVR, SP "/resources/cpus", "'2'", CV, SP "/resources/cpus",
          "expected a number, got a string" },
        { "integer for enum", ENVR, SP "/filesystem/root", "0", CV, SP "/filesystem/root",
          "expected a string, got an integer" },
        { "argv element not a string", STARTR, "/process/argv", "['/bin/true',7]", CV, "/process/argv/1",
          "expected a string, got an integer" },
        { "env_values value not a string", STARTR, "/process/env_values", "{'A':1}", CV, "/process/env_values/A",
          "expected a string, got an integer" },
        { "env_values as array", STARTR, "/process/env_values", "['A=1']", CV, "/process/env_values",
          "expected an object, got an array" },
        { "secret_values as array", SECRETR, "/secret_values", "[]", CV, "/secret_values",
          "expected an object, got an array" },
        { "secret source as string", SECRETR, "/secret_values/tok", "'x'", CV, "/secret_values/tok",
          "expected an object, got a string" },
        { "secret source null", SECRETR, "/secret_values/tok", "null", CV, "/secret_values/tok",
          "expected an object, got null" },
        { "secret fd as string", SECRETR, "/secret_values/tok", "{'fd':'3'}", CV, "/secret_values/tok/fd",
          "expected an integer, got a string" },
        { "network as number", ENVR, SP "/network", "5", CV, SP "/network", "exactly one key, got an integer" },
        { "network as array", ENVR, SP "/network", "['disabled']", CV, SP "/network", "got an array" },
        { "stdin as number", STARTR, "/process/stdin", "0", CV, "/process/stdin", "exactly one key" },
        { "allowlist host not a string", ENVR, SP "/network", "{'allowlist':{'hosts':[1]}}", CV,
          SP "/network/allowlist/hosts/0", "expected a string, got an integer" },
        { "io frame cursor as real", FRAMER, "/cursor", "1.0", CV, "/cursor", "expected an integer, got a number" },

        /* ---- out of range */
        { "memory_mb 0", ENVR, SP "/resources/memory_mb", "0", CV, SP "/resources/memory_mb",
          "0 is out of range [1, 16777216]" },
        { "memory_mb negative", ENVR, SP "/resources/memory_mb", "-1", CV, SP "/resources/memory_mb", "out of range" },
        { "memory_mb too large", ENVR, SP "/resources/memory_mb", "16777217", CV, SP "/resources/memory_mb",
          "out of range" },
        { "memory_mb int64 max", ENVR, SP "/resources/memory_mb", "9223372036854775807", CV, SP "/resources/memory_mb",
          "out of range" },
        { "memory_mb real", ENVR, SP "/resources/memory_mb", "1.5", CV, SP "/resources/memory_mb",
          "expected an integer, got a number" },
        { "memory_mb integral real", ENVR, SP "/resources/memory_mb", "1024.0", CV, SP "/resources/memory_mb",
          "expected an integer, got a number" },
        { "timeout_ms 0", ENVR, SP "/resources/timeout_ms", "0", CV, SP "/resources/timeout_ms", "out of range" },
        { "process_count 0", ENVR, SP "/resources/process_count", "0", CV, SP "/resources/process_count",
          "out of range" },
        { "process_count too large", ENVR, SP "/resources/process_count", "4194305", CV, SP "/resources/process_count",
          "out of range" },
        { "cpus 0", ENVR, SP "/resources/cpus", "0", CV, SP "/resources/cpus", "out of range" },
        { "cpus 2000", ENVR, SP "/resources/cpus", "2000", CV, SP "/resources/cpus", "out of range" },
        { "cpus negative", ENVR, SP "/resources/cpus", "-1.5", CV, SP "/resources/cpus", "out of range" },
        { "cpus below 0.01", ENVR, SP "/resources/cpus", "0.001", CV, SP "/resources/cpus", "out of range" },
        { "io max_bytes above 1 TiB", ENVR, SP "/io_policy/stdout/max_bytes", "1099511627777", CV,
          SP "/io_policy/stdout/max_bytes", "out of range" },
        { "process timeout_ms 0", STARTR, "/process/timeout_ms", "0", CV, "/process/timeout_ms", "out of range" },
        { "wait_ms above a day", STARTR, "/wait_ms", "86400001", CV, "/wait_ms", "out of range" },
        { "stream max_bytes 0", STREAMR, "/max_bytes", "0", CV, "/max_bytes", "out of range" },
        { "stream max_bytes above 16 MiB", STREAMR, "/max_bytes", "16777217", CV, "/max_bytes", "out of range" },
        { "stream cursor negative", STREAMR, "/cursor", "-5", CV, "/cursor", "out of range" },
        { "stream wait_ms above an hour", STREAMR, "/wait_ms", "3600001", CV, "/wait_ms", "out of range" },
        { "grace_ms above an hour", SIGNALR, "/grace_ms", "3600001", CV, "/grace_ms", "out of range" },
        { "secret fd negative", SECRETR, "/secret_values/tok", "{'fd':-1}", CV, "/secret_values/tok/fd",
          "out of range" },
        { "secret fd too large", SECRETR, "/secret_values/tok", "{'fd':1048577}", CV, "/secret_values/tok/fd",
          "out of range" },
        { "frame exit_code 256", FRAMER, "/exit_code", "256", CV, "/exit_code", "256 is out of range [0, 255]" },
        { "frame exit_code -1", FRAMER, "/exit_code", "-1", CV, "/exit_code", "out of range" },
        { "stats exit_code 256", STATSR, "/exit_code", "256", CV, "/exit_code", "out of range" },
        { "stats exit_code real", STATSR, "/exit_code", "1.5", CV, "/exit_code", "expected an integer" },
        { "read_content max_bytes 0", &nook_schema_read_content_req, "{'content_ref':'c-1'}", "/max_bytes", "0", CV,
          "/max_bytes", "out of range" },

        /* ---- enums not in the list (the message lists the allowed values) */
        { "root unknown", ENVR, SP "/filesystem/root", "'readonly'", CV, SP "/filesystem/root",
          "must be one of read_only, writable_layer" },
        { "root wrong case", ENVR, SP "/filesystem/root", "'READ_ONLY'", CV, SP "/filesystem/root",
          "must be one of read_only, writable_layer" },
        { "workspace mode", ENVR, SP "/filesystem/workspace/mode", "'rw'", CV, SP "/filesystem/workspace/mode",
          "must be one of none, snapshot, live_read_only, live_writable, scratch" },
        { "mount mode", MOUNTR, SP "/filesystem/mounts/0/mode", "'rw'", CV, SP "/filesystem/mounts/0/mode",
          "must be one of read_only, writable" },
        { "symlink policy", ENVR, SP "/filesystem/symlink_policy", "'follow'", CV, SP "/filesystem/symlink_policy",
          "must be one of deny_escapes, follow_within_alias" },
        { "minimum_class", ENVR, SP "/requirement/minimum_class", "'vm'", CV, SP "/requirement/minimum_class",
          "must be one of host_process, sandbox, container, lightweight_vm, remote_sandbox" },
        { "ambient", ENVR, SP "/secrets/ambient", "'allowed'", CV, SP "/secrets/ambient",
          "must be one of denied, explicit_refs_only" },
        { "ownership_class", ENVR, SP "/ownership/ownership_class", "'mine'", CV, SP "/ownership/ownership_class",
          "must be one of agent_owned, host_managed, detached_by_intent" },
        { "default_capture", ENVR, SP "/io_policy/stderr/default_capture", "'all'", CV,
          SP "/io_policy/stderr/default_capture",
          "must be one of off, metadata_only, redacted_summary, content_ref, raw_content_if_policy_allows" },
        { "truncation_policy", ENVR, SP "/io_policy/stdout/truncation_policy", "'drop'", CV,
          SP "/io_policy/stdout/truncation_policy", "must be one of truncate_with_marker, fail_if_exceeded" },
        { "terminal_mode", STARTR, "/process/terminal_mode", "'tty'", CV, "/process/terminal_mode",
          "must be one of pipe, pty" },
        { "stream", STREAMR, "/stream", "'stdio'", CV, "/stream", "must be one of stdin, stdout, stderr" },
        { "encoding", STREAMR, "/encoding", "'hex'", CV, "/encoding", "must be one of utf8, base64" },
        { "signal", SIGNALR, "/signal", "'hup'", CV, "/signal", "must be one of interrupt, terminate, kill" },
        { "supported class", CAPSR, "/supported_classes", "['sandbox','vm']", CV, "/supported_classes/1",
          "must be one of host_process" },
        { "cleanup status", &nook_schema_cleanup_result, RES_CLEANUP, "/status", "'done'", CV, "/status",
          "must be one of completed, repair_needed" },
        { "terminal_status", &nook_schema_start_result, RES_START, "/terminal_status", "'ok'", CV, "/terminal_status",
          "must be one of completed, failed, timed_out, cancelled, denied_before_execution, unknown" },

        /* ---- identifiers */
        { "id empty", ENVR, "/environment/environment_id", "''", CV, "/environment/environment_id", MSG_IDENT },
        { "id with U+0001", ENVR, "/environment/environment_id", "'a\\u0001b'", CV, "/environment/environment_id",
          MSG_IDENT },
        { "id with tab", ENVR, "/environment/environment_id", "'a\\tb'", CV, "/environment/environment_id", MSG_IDENT },
        { "id with newline", ENVR, "/environment/environment_id", "'env\\n'", CV, "/environment/environment_id",
          MSG_IDENT },
        { "id with DEL", ENVR, "/environment/environment_id", "'a\\u007fb'", CV, "/environment/environment_id",
          MSG_IDENT },
        { "id with C1 U+0085", ENVR, "/environment/environment_id", "'a\\u0085b'", CV, "/environment/environment_id",
          MSG_IDENT },
        { "id with C1 U+0080", ENVR, "/environment/environment_id", "'\\u0080'", CV, "/environment/environment_id",
          MSG_IDENT },
        { "id with C1 U+009F", ENVR, "/environment/environment_id", "'a\\u009f'", CV, "/environment/environment_id",
          MSG_IDENT },
        { "process_ref empty", STREAMR, "/process_ref", "''", CV, "/process_ref", MSG_IDENT },
        { "accepted adapter as a string", ENVR, SP "/accepted_adapters", "['nook.userns']", CV,
          SP "/accepted_adapters/0", "expected an object, got a string" },
        { "accepted adapter class unknown", ENVR, SP "/accepted_adapters", "[{'required_class':'vm'}]", CV,
          SP "/accepted_adapters/0/required_class", NULL },
        { "mount_ref with control", MOUNTR, SP "/filesystem/mounts/0/mount_ref", "'m\\u001b[31m'", CV,
          SP "/filesystem/mounts/0/mount_ref", MSG_IDENT },
        { "effect idempotency_key empty", STARTR, "/effect_intent/idempotency_key", "''", CV,
          "/effect_intent/idempotency_key", MSG_IDENT },
        { "top-level idempotency_key with C1", ENVR, "/idempotency_key", "'k\\u0085'", CV, "/idempotency_key",
          MSG_IDENT },
        { "secret_values key empty", SECRETR, "/secret_values", "{'':{'value':'x'}}", CV, "/secret_values/",
          "key must be 1 to 512 bytes" },
        { "secret_values key with control", SECRETR, "/secret_values", "{'a\\u0001':{'value':'x'}}", CV,
          "/secret_values/a\x01", "key must be" },
        { "env_values key empty", STARTR, "/process/env_values", "{'':'v'}", CV, "/process/env_values/",
          "key must be" },

        /* ---- hashes */
        { "digest with 63 hex", IMAGER, "/image/expected_digest", "'sha256:" HEX63 "'", CV, "/image/expected_digest",
          MSG_HASH },
        { "digest with 65 hex", IMAGER, "/image/expected_digest", "'" DIGEST "0'", CV, "/image/expected_digest",
          MSG_HASH },
        { "digest uppercase", IMAGER, "/image/expected_digest", "'sha256:" HEX64_UPPER "'", CV,
          "/image/expected_digest", MSG_HASH },
        { "digest md5", IMAGER, "/image/expected_digest", "'md5:0123456789abcdef0123456789abcdef'", CV,
          "/image/expected_digest", MSG_HASH },
        { "digest non-hex", IMAGER, "/image/expected_digest", "'sha256:" HEX63 "g'", CV, "/image/expected_digest",
          MSG_HASH },
        { "digest upper prefix", IMAGER, "/image/expected_digest", "'SHA256:" HEX64 "'", CV, "/image/expected_digest",
          MSG_HASH },
        { "digest bare hex", IMAGER, "/image/expected_digest", "'" HEX64 "'", CV, "/image/expected_digest", MSG_HASH },
        { "digest empty", IMAGER, "/image/expected_digest", "''", CV, "/image/expected_digest", MSG_HASH },
        { "frame content_hash prefix only", FRAMER, "/content_hash", "'sha256:'", CV, "/content_hash", MSG_HASH },
        { "resolve result digest", &nook_schema_resolve_image_result, "{'image_ref':'i','digest':'" DIGEST "'}",
          "/digest", "'sha256:" HEX63 "'", CV, "/digest", MSG_HASH },

        /* ---- paths */
        { "relative path", MOUNTR, SP "/filesystem/mounts/0/destination_path", "'relative'", CV,
          SP "/filesystem/mounts/0/destination_path", MSG_PATH },
        { "path with ..", MOUNTR, SP "/filesystem/mounts/0/destination_path", "'/a/../b'", CV,
          SP "/filesystem/mounts/0/destination_path", MSG_PATH },
        { "path with .", MOUNTR, SP "/filesystem/mounts/0/destination_path", "'/a/./b'", CV,
          SP "/filesystem/mounts/0/destination_path", MSG_PATH },
        { "path with //", MOUNTR, SP "/filesystem/mounts/0/destination_path", "'/a//b'", CV,
          SP "/filesystem/mounts/0/destination_path", MSG_PATH },
        { "path with trailing /", MOUNTR, SP "/filesystem/mounts/0/destination_path", "'/a/'", CV,
          SP "/filesystem/mounts/0/destination_path", MSG_PATH },
        { "path with control", MOUNTR, SP "/filesystem/mounts/0/destination_path", "'/a\\u0001b'", CV,
          SP "/filesystem/mounts/0/destination_path", MSG_PATH },
        { "path with C1", MOUNTR, SP "/filesystem/mounts/0/destination_path", "'/a\\u0085'", CV,
          SP "/filesystem/mounts/0/destination_path", MSG_PATH },
        { "path empty", MOUNTR, SP "/filesystem/mounts/0/destination_path", "''", CV,
          SP "/filesystem/mounts/0/destination_path", MSG_PATH },
        { "path /.", MOUNTR, SP "/filesystem/mounts/0/destination_path", "'/.'", CV,
          SP "/filesystem/mounts/0/destination_path", MSG_PATH },
        { "path /..", MOUNTR, SP "/filesystem/mounts/0/destination_path", "'/..'", CV,
          SP "/filesystem/mounts/0/destination_path", MSG_PATH },
        { "path /../etc", MOUNTR, SP "/filesystem/mounts/0/destination_path", "'/../etc'", CV,
          SP "/filesystem/mounts/0/destination_path", MSG_PATH },
        { "path //", MOUNTR, SP "/filesystem/mounts/0/destination_path", "'//'", CV,
          SP "/filesystem/mounts/0/destination_path", MSG_PATH },
        { "path ./a", MOUNTR, SP "/filesystem/mounts/0/destination_path", "'./a'", CV,
          SP "/filesystem/mounts/0/destination_path", MSG_PATH },
        { "cwd relative", STARTR, "/process/cwd", "'work'", CV, "/process/cwd", MSG_PATH },
        { "workspace destination trailing /", ENVR, SP "/filesystem/workspace/destination_path", "'/ws/'", CV,
          SP "/filesystem/workspace/destination_path", MSG_PATH },

        /* ---- environment variable names */
        { "env name leading digit", STARTR, "/process/env", "[{'name':'1ABC'}]", CV, "/process/env/0/name",
          MSG_ENVNAME },
        { "env name with dash", STARTR, "/process/env", "[{'name':'A-B'}]", CV, "/process/env/0/name", MSG_ENVNAME },
        { "env name empty", STARTR, "/process/env", "[{'name':''}]", CV, "/process/env/0/name", MSG_ENVNAME },
        { "env name with space", STARTR, "/process/env", "[{'name':'A B'}]", CV, "/process/env/0/name", MSG_ENVNAME },
        { "env name with =", STARTR, "/process/env", "[{'name':'A=B'}]", CV, "/process/env/0/name", MSG_ENVNAME },
        { "env name non-ASCII", STARTR, "/process/env", "[{'name':'caf\\u00e9'}]", CV, "/process/env/0/name",
          MSG_ENVNAME },
        { "env secret env_key with dash", ENVR, SP "/secrets/env_secrets", "[{'secret_ref':'s','env_key':'API-KEY'}]",
          CV, SP "/secrets/env_secrets/0/env_key", MSG_ENVNAME },
        { "env_values key leading digit", STARTR, "/process/env_values", "{'1ABC':'v'}", CV, "/process/env_values/1ABC",
          MSG_ENVNAME },
        { "env_values key with dash", STARTR, "/process/env_values", "{'A-B':'v'}", CV, "/process/env_values/A-B",
          MSG_ENVNAME },
        { "env_values key with / is escaped", STARTR, "/process/env_values", "{'a/b':'v'}", CV,
          "/process/env_values/a~1b", MSG_ENVNAME },
        { "secret source env name", SECRETR, "/secret_values/tok", "{'env':'1X'}", CV, "/secret_values/tok/env",
          MSG_ENVNAME },

        /* ---- arrays */
        { "argv empty", STARTR, "/process/argv", "[]", CV, "/process/argv", "must not be empty" },

        /* ---- variants */
        { "network unknown tag", ENVR, SP "/network", "'open'", CV, SP "/network",
          "unknown variant; expected one of " NETWORK_TAGS },
        { "network unknown tag object", ENVR, SP "/network", "{'open':{}}", CV, SP "/network",
          "unknown variant; expected one of " NETWORK_TAGS },
        { "network tag wrong case", ENVR, SP "/network", "'Disabled'", CV, SP "/network", "unknown variant" },
        { "network object with two keys", ENVR, SP "/network", "{'disabled':{},'allowlist':{'hosts':[]}}", CV,
          SP "/network", "exactly one key" },
        { "network empty object", ENVR, SP "/network", "{}", CV, SP "/network", "exactly one key" },
        { "unit variant with payload", ENVR, SP "/network", "{'disabled':{'reason':'x'}}", CV, SP "/network/disabled",
          "variant 'disabled' takes no payload" },
        { "unit variant with true", ENVR, SP "/network", "{'adapter_defined_denied':true}", CV,
          SP "/network/adapter_defined_denied", "takes no payload" },
        { "unit variant with string", ENVR, SP "/network", "{'disabled':'yes'}", CV, SP "/network/disabled",
          "takes no payload" },
        { "unit variant with array", ENVR, SP "/network", "{'disabled':[]}", CV, SP "/network/disabled",
          "takes no payload" },
        { "data variant as bare string", ENVR, SP "/network", "'allowlist'", CV, SP "/network",
          "variant 'allowlist' needs a payload" },
        { "raw variant as bare string", ENVR, SP "/network", "'socket_relay'", CV, SP "/network", "needs a payload" },
        { "allowlist payload array", ENVR, SP "/network", "{'allowlist':['pypi.org']}", CV, SP "/network/allowlist",
          "expected an object, got an array" },
        { "allowlist hosts string", ENVR, SP "/network", "{'allowlist':{'hosts':'pypi.org'}}", CV,
          SP "/network/allowlist/hosts", "expected an array, got a string" },
        { "allowlist host empty", ENVR, SP "/network", "{'allowlist':{'hosts':['']}}", CV,
          SP "/network/allowlist/hosts/0", MSG_IDENT },
        { "fallback unknown", ENVRQ, SP "/requirement/fallback", "'allow'", CV, SP "/requirement/fallback",
          "expected one of deny, allow_if_package_and_policy_approve, test_only_host_process" },
        { "fallback data variant bare", ENVRQ, SP "/requirement/fallback", "'allow_if_package_and_policy_approve'", CV,
          SP "/requirement/fallback", "needs a payload" },
        { "fallback unit with payload", ENVRQ, SP "/requirement/fallback", "{'deny':{'x':1}}", CV,
          SP "/requirement/fallback/deny", "takes no payload" },
        { "stdin unknown", STARTR, "/process/stdin", "'open'", CV, "/process/stdin",
          "expected one of closed, content_ref" },
        { "stdin content_ref bare", STARTR, "/process/stdin", "'content_ref'", CV, "/process/stdin",
          "needs a payload" },
        { "stdin closed with payload", STARTR, "/process/stdin", "{'closed':{'now':true}}", CV, "/process/stdin/closed",
          "takes no payload" },
        { "health unknown", CAPSR, "/health", "'fine'", CV, "/health",
          "expected one of healthy, degraded, unsupported_host" },
        { "health degraded bare", CAPSR, "/health", "'degraded'", CV, "/health", "needs a payload" },
        { "health prerequisites not an array", CAPSR, "/health",
          "{'unsupported_host':{'missing_prerequisites':'userns'}}", CV,
          "/health/unsupported_host/missing_prerequisites", "expected an array" },

        /* ---- cross-field checks */
        { "spec.environment_id differs", ENVR, SP "/environment_id", "'env-2'", CV, SP "/environment_id",
          "differs from /environment/environment_id" },
        { "spec.environment_id differs (start_process)", STARTR, SP "/environment_id", "'env-2'", CV,
          SP "/environment_id", "differs" },
        { "spec.environment_id differs (cleanup)", &nook_schema_cleanup_req, REQ_CLEANUP, SP "/environment_id",
          "'other'", CV, SP "/environment_id", "differs" },
        { "raw_value_present true", STARTR, "/process/env", "[{'name':'A','raw_value_present':true}]", CV,
          "/process/env/0/raw_value_present", "raw values are not accepted" },
        { "raw_value_present true on the second entry", STARTR, "/process/env",
          "[{'name':'A'},{'name':'B','raw_value_present':true}]", CV, "/process/env/1/raw_value_present",
          "raw values are not accepted" },
        { "secret source with no kind", SECRETR, "/secret_values/tok", "{}", CV, "/secret_values/tok",
          "exactly one of file, env, fd or value is required (got 0)" },
        { "secret source with only unknown fields", SECRETR, "/secret_values/tok", "{'path':'/x'}", CV,
          "/secret_values/tok", "(got 0)" },
        { "secret source with null value", SECRETR, "/secret_values/tok", "{'value':null}", CV, "/secret_values/tok",
          "(got 0)" },
        { "secret source file and env", SECRETR, "/secret_values/tok", "{'file':'/x','env':'X'}", CV,
          "/secret_values/tok", "(got 2)" },
        { "secret source fd and value", SECRETR, "/secret_values/tok", "{'fd':0,'value':'v'}", CV, "/secret_values/tok",
          "(got 2)" },
        { "secret source all four", SECRETR, "/secret_values/tok", "{'file':'/x','env':'X','fd':1,'value':'v'}", CV,
          "/secret_values/tok", "(got 4)" },
        { "map key escaped in pointer", SECRETR, "/secret_values", "{'a/b~c':{}}", CV, "/secret_values/a~1b~0c",
          "exactly one of" },
        { "map key escaped in nested pointer", SECRETR, "/secret_values", "{'ok':{'value':'v'},'a/b~c':{'fd':'x'}}", CV,
          "/secret_values/a~1b~0c/fd", "expected an integer" },
        { "stdout with data", &nook_schema_stream_io_req, "{'process_ref':'pr-1','stream':'stdout','data':'hi'}", NULL,
          NULL, CV, "/data", "only the stdin stream takes data or close" },
        { "stderr with close", &nook_schema_stream_io_req, "{'process_ref':'pr-1','stream':'stderr','close':true}",
          NULL, NULL, CV, "/close", "only the stdin stream" },
        { "stdout with data and close", &nook_schema_stream_io_req,
          "{'process_ref':'pr-1','stream':'stdout','data':'','close':true}", NULL, NULL, CV, "/data", NULL },
};

static void test_every_rejection_names_its_pointer_and_kind(void **state) {
        for (size_t i = 0; i < ELEMENTSOF(rejections); i++) {
                const reject_case *c = &rejections[i];
                json_auto_t *doc = variant_of(c->base, c->at, c->value);
                expect_reject(c->schema, doc, c->kind, c->pointer, c->msg, c->name);
        }
}

/* The same table, accepted: the boundary values next to the rejections above. */
typedef struct accept_case {
        const nook_schema *schema;
        const char *base;
        const char *at;
        const char *value;
} accept_case;

static const accept_case acceptances[] = {
        { ENVR, "/environment/environment_id", "'a\\u00a0b'" }, /* NBSP is not a control character */
        { ENVR, "/environment/environment_id", "'caf\\u00e9 \\u2603'" },
        { ENVR, "/environment/environment_id", "'a b/c:d@e'" },
        { ENVR, SP "/environment_id", "'env-1'" },
        { ENVR, SP "/environment_id", "null" },
        { ENVR, SP "/filesystem/workspace/destination_path", "'/'" },
        { MOUNTR, SP "/filesystem/mounts/0/destination_path", "'/'" },
        { MOUNTR, SP "/filesystem/mounts/0/destination_path", "'/...'" },
        { MOUNTR, SP "/filesystem/mounts/0/destination_path", "'/a/.b/c..'" },
        { MOUNTR, SP "/filesystem/mounts/0/destination_path", "'/a b/\\u00e9'" },
        { STARTR, "/process/env", "[{'name':'_X1'},{'name':'a'},{'name':'A_1','raw_value_present':false}]" },
        { STARTR, "/process/env_values", "{'_X1':'','PATH':'/bin','A':'line\\nbreak \\u0001 ok in values'}" },
        { STARTR, "/process/cwd", "'/'" },
        { STARTR, "/process/timeout_ms", "1" },
        { STARTR, "/wait_ms", "86400000" },
        { STARTR, "/wait_ms", "0" },
        { ENVR, SP "/resources/cpus", "0.01" },
        { ENVR, SP "/resources/cpus", "1024" },
        { ENVR, SP "/resources/cpus", "0.5" },
        { ENVR, SP "/resources/memory_mb", "1" },
        { ENVR, SP "/resources/memory_mb", "16777216" },
        { ENVR, SP "/resources/process_count", "4194304" },
        { ENVR, SP "/io_policy/stdout/max_bytes", "0" },
        { ENVR, SP "/io_policy/stdout/max_bytes", "1099511627776" },
        { ENVR, SP "/network", "{'disabled':{}}" },
        { ENVR, SP "/network", "{'disabled':null}" },
        { ENVR, SP "/network", "{'allowlist':{'hosts':[],'comment':'x'}}" },
        { ENVR, SP "/kind", "[1,{'a':null}]" },
        { FRAMER, "/exit_code", "0" },
        { FRAMER, "/exit_code", "255" },
        { STATSR, "/exit_code", "255" },
        { SECRETR, "/secret_values/tok", "{'fd':0}" },
        { SECRETR, "/secret_values/tok", "{'fd':1048576}" },
        { SECRETR, "/secret_values/tok", "{'env':'_X1'}" },
        { SECRETR, "/secret_values/tok", "{'value':'x','fd':null}" },
        { SECRETR, "/secret_values", "{}" },
        { STREAMR, "/data", "'hi'" },
        { STREAMR, "/close", "true" },
        { STREAMR, "/max_bytes", "16777216" },
        { &nook_schema_stream_io_req, "{'process_ref':'pr-1','stream':'stdout','close':false,'data':null}", NULL,
          NULL },
        { SIGNALR, "/grace_ms", "3600000" },
        { IMAGER, "/image/expected_digest", "'" DIGEST "'" },
        { ENVR, "/nook", "{'labels':['k=v','team=a b=c \\u00e9','k=']}" },
        { STARTR, "/process/nook", "{'capabilities':'CHOWN,KILL'}" },
};

static void test_boundary_values_next_to_each_rejection_are_accepted(void **state) {
        for (size_t i = 0; i < ELEMENTSOF(acceptances); i++) {
                const accept_case *c = &acceptances[i];
                json_auto_t *doc = variant_of(c->base, c->at, c->value);
                _cleanup_typed_ typed t = parse_ok(c->schema, doc);
                json_auto_t *enc = nook_schema_encode(c->schema, t.obj);
                assert_non_null(enc);
        }
}

static void test_identifier_limit_is_512_bytes(void **state) {
        _cleanup_free_ char *a512 = repeat("a", 512), *a513 = repeat("a", 513);
        _cleanup_free_ char *e256 = repeat("\xc3\xa9", 256), *e257 = repeat("\xc3\xa9", 257);
        const char *ok[] = { a512, e256 };
        const char *bad[] = { a513, e257 };
        for (size_t i = 0; i < 2; i++) {
                json_auto_t *doc = J(REQ_ENV);
                jset(doc, "/environment/environment_id", json_string(ok[i]));
                _cleanup_typed_ typed t = parse_ok(&nook_schema_env_req, doc);
                assert_string_equal(((nook_env_req *)t.obj)->environment.environment_id, ok[i]);
        }
        for (size_t i = 0; i < 2; i++) {
                json_auto_t *doc = J(REQ_ENV);
                jset(doc, "/environment/environment_id", json_string(bad[i]));
                expect_reject(&nook_schema_env_req, doc, CV, "/environment/environment_id", MSG_IDENT, "long id");
        }
        /* map keys follow the same rule */
        json_auto_t *doc = J(REQ_SECRETS);
        json_object_set_new(json_object_get(doc, "secret_values"), a513, J("{'value':'x'}"));
        _cleanup_free_ char *ptr = NULL;
        assert_true(asprintf(&ptr, "/secret_values/%s", a513) > 0);
        expect_reject(&nook_schema_prepare_secrets_req, doc, CV, ptr, "key must be", "long map key");
}

static void test_path_limit_is_4096_bytes(void **state) {
        _cleanup_free_ char *tail = repeat("a", 4095);
        _cleanup_free_ char *ok = NULL, *bad = NULL;
        assert_true(asprintf(&ok, "/%s", tail) > 0);
        assert_true(asprintf(&bad, "/%sbb", tail) > 0);
        json_auto_t *good = J(REQ_ENV_MOUNT);
        jset(good, SP "/filesystem/mounts/0/destination_path", json_string(ok));
        _cleanup_typed_ typed t = parse_ok(&nook_schema_env_req, good);
        assert_non_null(t.obj);
        json_auto_t *doc = J(REQ_ENV_MOUNT);
        jset(doc, SP "/filesystem/mounts/0/destination_path", json_string(bad));
        expect_reject(&nook_schema_env_req, doc, CV, SP "/filesystem/mounts/0/destination_path", MSG_PATH,
                      "4097-byte path");
}

static void test_arrays_and_maps_are_limited_to_4096_items(void **state) {
        json_auto_t *argv_ok = json_array(), *argv_bad = json_array();
        json_auto_t *vals = json_object(), *secrets = json_object();
        for (int i = 0; i < 4097; i++) {
                if (i < 4096)
                        json_array_append_new(argv_ok, json_string("x"));
                json_array_append_new(argv_bad, json_string("x"));
                char k[32];
                snprintf(k, sizeof k, "V%d", i);
                json_object_set_new(vals, k, json_string("v"));
                json_object_set_new(secrets, k, J("{'value':'v'}"));
        }
        json_auto_t *d1 = J(REQ_START);
        jset(d1, "/process/argv", json_incref(argv_ok));
        _cleanup_typed_ typed t = parse_ok(&nook_schema_start_process_req, d1);
        assert_int_equal(((nook_start_process_req *)t.obj)->process.argv.n, 4096);

        json_auto_t *d2 = J(REQ_START);
        jset(d2, "/process/argv", json_incref(argv_bad));
        expect_reject(&nook_schema_start_process_req, d2, CV, "/process/argv", "4097 elements exceed the limit of 4096",
                      "argv of 4097");

        json_auto_t *d3 = J(REQ_START);
        jset(d3, "/process/env_values", json_incref(vals));
        expect_reject(&nook_schema_start_process_req, d3, CV, "/process/env_values", "exceed the limit",
                      "env_values of 4097");

        json_auto_t *d4 = J(REQ_SECRETS);
        jset(d4, "/secret_values", json_incref(secrets));
        expect_reject(&nook_schema_prepare_secrets_req, d4, CV, "/secret_values", "exceed the limit",
                      "secret_values of 4097");
}

static void test_strings_are_limited_in_length(void **state) {
        _cleanup_free_ char *big = repeat("x", 256 * 1024 + 1);
        json_auto_t *d1 = J(REQ_START);
        jset(d1, "/effect_intent/redacted_summary", json_string(big));
        expect_reject(&nook_schema_start_process_req, d1, CV, "/effect_intent/redacted_summary",
                      "string of 262145 bytes exceeds the limit of 262144", "long summary");

        _cleanup_free_ char *secret = repeat("s", (1u << 20) + 1);
        json_auto_t *d2 = J(REQ_SECRETS);
        jset(d2, "/secret_values/tok/value", json_string(secret));
        expect_reject(&nook_schema_prepare_secrets_req, d2, CV, "/secret_values/tok/value", "exceeds the limit",
                      "secret value over 1 MiB");
}

static void test_non_object_at_the_root_is_rejected_at_the_empty_pointer(void **state) {
        const char *values[] = { "[]", "'x'", "1", "null", "true" };
        for (size_t i = 0; i < ELEMENTSOF(values); i++) {
                json_auto_t *v = J(values[i]);
                expect_reject(&nook_schema_env_req, v, CV, "", "expected an object", values[i]);
        }
}

static void test_single_value_checks(void **state) {
        assert_true(nook_id_valid("a"));
        assert_false(nook_id_valid(""));
        assert_false(nook_id_valid(NULL));
        assert_false(nook_id_valid("a\x7f"));
        assert_false(nook_id_valid("a\xc2\x85"));
        assert_true(nook_id_valid("a\xc2\xa0"));
        assert_true(nook_path_valid("/"));
        assert_true(nook_path_valid("/a/b"));
        assert_false(nook_path_valid(NULL));
        assert_false(nook_path_valid("a/b"));
        assert_false(nook_path_valid("/a/"));
        assert_true(nook_envname_valid("_X1"));
        assert_false(nook_envname_valid("1ABC"));
        assert_false(nook_envname_valid(""));
        assert_false(nook_envname_valid(NULL));

        _cleanup_free_ char *p1 = nook_pointer_join("/secret_values", "a/b~c");
        assert_string_equal(p1, "/secret_values/a~1b~0c");
        _cleanup_free_ char *p2 = nook_pointer_join("", "~/");
        assert_string_equal(p2, "/~0~1");
        _cleanup_free_ char *p3 = nook_pointer_index("/process/argv", 12);
        assert_string_equal(p3, "/process/argv/12");
}

/* ============================================ 4. whole requests through the codec */

static void test_request_malformed_json_is_contract_violation_at_root(void **state) {
        const char *bad[] = {
                "{\"environment\":",    /* truncated */
                "{\"a\":1",             /* truncated */
                "{} trailing",          /* trailing garbage */
                "{}{}",                 /* two documents */
                "{'a':1}",              /* single quotes */
                "{\"a\":1,}",           /* trailing comma */
                "{\"a\":01}",           /* leading zero */
                "{\"a\":NaN}",          /* not JSON */
                "{\"a\":\"x\" /*c*/ }", /* comment */
                "42",                   /* scalar document */
                "\"str\"",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                call_reject_raw("capability_report", bad[i], strlen(bad[i]), MAX_REQ, CV, "", "malformed JSON", bad[i]);
}

static void test_request_duplicate_keys_are_rejected_and_named(void **state) {
        const char *top = "{\"dupkey\":1,\"dupkey\":2}";
        call_reject_raw("capability_report", top, strlen(top), MAX_REQ, CV, "", "dupkey", "top-level duplicate");

        _cleanup_free_ char *nested = jq("{'environment':{'environment_id':'env-1','spec':{'resources':"
                                         "{'cpus':1,'dupcpu':2,'dupcpu':3}}}}");
        call_reject_raw("prepare_session", nested, strlen(nested), MAX_REQ, CV, "", "dupcpu", "nested duplicate");

        _cleanup_free_ char *map = jq("{'environment':" ENV_MIN ",'secret_values':{'tok':{'value':'a'},"
                                      "'tok':{'value':'b'}}}");
        call_reject_raw("prepare_secrets", map, strlen(map), MAX_REQ, CV, "", "duplicate", "duplicate map key");
}

static void test_request_invalid_utf8_and_lone_surrogates_are_rejected(void **state) {
        const char *bad[] = {
                "{\"process_ref\":\"\xff\"}",             /* invalid byte */
                "{\"process_ref\":\"\xc0\xaf\"}",         /* overlong '/' */
                "{\"process_ref\":\"\x80\"}",             /* lone continuation */
                "{\"process_ref\":\"\xe2\x82\"}",         /* truncated sequence */
                "{\"process_ref\":\"\xed\xa0\x80\"}",     /* UTF-8 encoded surrogate */
                "{\"process_ref\":\"\xf4\x90\x80\x80\"}", /* above U+10FFFF */
                "{\"process_ref\":\"\\ud800\"}",          /* lone high surrogate escape */
                "{\"process_ref\":\"\\udc00\"}",          /* lone low surrogate escape */
                "{\"process_ref\":\"\\ud800x\"}",
                "{\"\xff\":1,\"process_ref\":\"p\"}", /* invalid UTF-8 in a key */
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                call_reject_raw("collect_stats", bad[i], strlen(bad[i]), MAX_REQ, CV, "", NULL, bad[i]);
        /* a valid surrogate pair is fine */
        _cleanup_call_ call c = { 0 };
        call_ok(&c, "collect_stats", "{'process_ref':'p-\\ud83d\\ude00'}");
        assert_string_equal(((nook_process_ref_req *)c.req)->process_ref, "p-\xf0\x9f\x98\x80");
}

static void test_request_nul_bytes_are_rejected(void **state) {
        static const char in_string[] = "{\"process_ref\":\"p\0q\"}";
        call_reject_raw("collect_stats", in_string, sizeof in_string - 1, MAX_REQ, CV, "", NULL, "NUL in a string");
        static const char after[] = "{\"process_ref\":\"p\"}\0";
        call_reject_raw("collect_stats", after, sizeof after - 1, MAX_REQ, CV, "", NULL, "NUL after the document");
        static const char before[] = "\0{\"process_ref\":\"p\"}";
        call_reject_raw("collect_stats", before, sizeof before - 1, MAX_REQ, CV, "", NULL, "NUL before the document");
        static const char escaped[] = "{\"process_ref\":\"p\\u0000q\"}";
        call_reject_raw("collect_stats", escaped, sizeof escaped - 1, MAX_REQ, CV, "", NULL, "escaped NUL");
}

static void test_request_over_max_bytes_is_rejected_before_parsing(void **state) {
        /* 37 bytes of malformed JSON: the size error comes first, naming both sizes */
        const char *text = "{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{";
        assert_int_equal(strlen(text), 37);
        _cleanup_call_ call c = { 0 };
        _cleanup_(nook_error_freep) nook_error *err = NULL;
        assert_int_equal(call_parse_n(&c, "capability_report", text, 37, 16, &err), -EINVAL);
        check_error(err, CV, "", "37", "oversized request");
        assert_non_null(strstr(nook_error_get_message(err), "16"));
        assert_null(strstr(nook_error_get_message(err), "malformed"));

        /* exactly at the limit is fine */
        const char *fits = "{\"process_ref\":\"p\"}";
        _cleanup_call_ call ok = { 0 };
        _cleanup_(nook_error_freep) nook_error *err2 = NULL;
        assert_int_equal(call_parse_n(&ok, "collect_stats", fits, strlen(fits), strlen(fits), &err2), 0);
        call_reject_raw("collect_stats", fits, strlen(fits), strlen(fits) - 1, CV, "", "exceeds the limit",
                        "one byte over");
}

static void test_request_blank_over_max_bytes_is_rejected(void **state) {
        /* a request of 64 blank bytes is still 64 bytes: over a 16-byte limit */
        static const char blank[] = "                                                                ";
        assert_int_equal(sizeof blank - 1, 64);
        call_reject_raw("capability_report", blank, 64, 16, CV, "", "64", "blank request over the limit");
}

static void test_request_empty_or_blank_is_an_empty_object(void **state) {
        struct {
                const char *text;
                size_t len;
        } blanks[] = { { NULL, 0 }, { "", 0 }, { " \n\t\r ", 5 }, { "{}", 2 }, { " { } ", 5 } };
        for (size_t i = 0; i < ELEMENTSOF(blanks); i++) {
                _cleanup_call_ call c = { 0 };
                _cleanup_(nook_error_freep) nook_error *err = NULL;
                assert_int_equal(call_parse_n(&c, "capability_report", blanks[i].text, blanks[i].len, MAX_REQ, &err),
                                 0);
                assert_true(json_is_object(c.doc));
                assert_int_equal(json_object_size(c.doc), 0);
                assert_null(((nook_empty_req *)c.req)->idempotency_key);
        }
        call_reject_raw("prepare_session", "", 0, MAX_REQ, MISS, "/environment", NULL, "empty prepare_session");
        call_reject_raw("prepare_session", "  \n", 3, MAX_REQ, MISS, "/environment", NULL, "blank prepare_session");
        call_reject_raw("start_process", NULL, 0, MAX_REQ, MISS, "/environment", NULL, "NULL start_process");
}

static void test_request_blank_prefix_of_a_larger_buffer_is_an_empty_object(void **state) {
        /* only len bytes are the request: what follows in memory (here more blanks, then
         * the start of another document) is not part of it */
        const char *buf = "   \n  {\"process_ref\":";
        _cleanup_call_ call c = { 0 };
        nook_error *err = NULL;
        int r = call_parse_n(&c, "capability_report", buf, 3, MAX_REQ, &err);
        if (r < 0) {
                char msg[256];
                snprintf(msg, sizeof msg, "%s", nook_error_get_message(err));
                nook_error_free(err);
                fail_msg("3 blank bytes of a larger buffer rejected: %s", msg);
        }
        assert_null(err);
        assert_int_equal(json_object_size(c.doc), 0);
}

static void test_request_top_level_array_is_rejected(void **state) {
        call_reject_raw("capability_report", "[]", 2, MAX_REQ, CV, "", "expected an object, got an array", "[]");
        call_reject_raw("prepare_session", "[{}]", 4, MAX_REQ, CV, "", "expected an object, got an array", "[{}]");
}

static void test_request_deep_nesting_fails_cleanly(void **state) {
        const size_t n = 100000;
        _cleanup_free_ char *arrays = repeat("[", n);
        call_reject_raw("capability_report", arrays, n, MAX_REQ, CV, "", NULL, "100000 '['");
        _cleanup_free_ char *objects = repeat("{\"a\":", n);
        call_reject_raw("capability_report", objects, strlen(objects), MAX_REQ, CV, "", NULL, "100000 '{\"a\":'");
        _cleanup_free_ char *closed_open = repeat("[", n), *closed_close = repeat("]", n);
        _cleanup_free_ char *balanced = NULL;
        assert_true(asprintf(&balanced, "{\"x\":%s%s}", closed_open, closed_close) > 0);
        call_reject_raw("capability_report", balanced, strlen(balanced), MAX_REQ, CV, "", NULL, "balanced, deep");

        /* moderate nesting inside a field nook keeps as JSON is accepted and kept */
        _cleanup_free_ char *open = repeat("[", 500), *close = repeat("]", 500);
        _cleanup_free_ char *text = NULL;
        assert_true(asprintf(&text, "{\"environment\":{\"environment_id\":\"env-1\",\"source\":%s%s,\"spec\":{}}}",
                             open, close) > 0);
        _cleanup_call_ call c = { 0 };
        _cleanup_(nook_error_freep) nook_error *err = NULL;
        assert_int_equal(call_parse_n(&c, "prepare_session", text, strlen(text), MAX_REQ, &err), 0);
        _cleanup_free_ char *want = NULL;
        assert_true(asprintf(&want, "%s%s", open, close) > 0);
        assert_string_equal(((nook_env_req *)c.req)->environment.source, want);
}

static void test_request_unknown_fields_anywhere_are_tolerated_and_kept_in_the_document(void **state) {
        _cleanup_call_ call c = { 0 };
        call_ok(&c, "start_process",
                "{'x_top':{'deep':[1,2]},'environment':{'environment_id':'env-1','x_env':true,'spec':{'x_spec':null,"
                "'resources':{'x_res':1},'filesystem':{'x_fs':1,'mounts':[{'mount_ref':'m','source_alias':'a',"
                "'destination_path':'/m','x_mount':2}]},'network':{'allowlist':{'hosts':['h'],'x_net':3}},"
                "'secrets':{'x_sec':[],'env_secrets':[{'secret_ref':'s','env_key':'K','x_es':1}]},"
                "'requirement':{'minimum_class':'sandbox','x_req':1,'fallback':{'allow_if_package_and_policy_approve':{"
                "'x':1}}}}},"
                "'process':{'process_id':'p-1','argv':['a'],'x_proc':'y','env':[{'name':'A','x_e':1}],"
                "'stdout_policy':{'x_pol':1}},'effect_intent':{'effect_id':'e-1','x_eff':{}}}");
        /* the document keeps them for the journal's redacted request */
        assert_non_null(json_object_get(c.doc, "x_top"));
        assert_non_null(json_object_get(json_object_get(c.doc, "process"), "x_proc"));
}

/* ========================================================= 5. AgentError shapes */

static json_t *error_json(const nook_error *err) {
        _cleanup_free_ char *s = nook_error_to_json(err);
        assert_non_null(s);
        assert_null(strchr(s, '\n'));
        json_error_t e;
        json_t *v = json_loads(s, JSON_REJECT_DUPLICATES, &e);
        if (!v)
                fail_msg("AgentError is not valid JSON (%s): %s", e.text, s);
        return v;
}

static void test_error_json_missing_required_field(void **state) {
        json_auto_t *doc = J(REQ_START);
        jset(doc, "/process/argv", NULL);
        _cleanup_free_ char *t2 = json_dumps(doc, JSON_COMPACT);
        _cleanup_call_ call c = { 0 };
        _cleanup_(nook_error_freep) nook_error *err = NULL;
        assert_true(call_parse_n(&c, "start_process", t2, strlen(t2), MAX_REQ, &err) < 0);
        json_auto_t *got = error_json(err);
        json_auto_t *want = J("{'MissingRequiredField':{'field':'/process/argv'}}");
        check_json_equal(got, want, "MissingRequiredField");
}

static void test_error_json_contract_violation_prefixes_the_pointer(void **state) {
        json_auto_t *doc = variant_of(REQ_ENV, SP "/resources/memory_mb", "0");
        _cleanup_free_ char *text = json_dumps(doc, JSON_COMPACT);
        _cleanup_call_ call c = { 0 };
        _cleanup_(nook_error_freep) nook_error *err = NULL;
        assert_true(call_parse_n(&c, "prepare_session", text, strlen(text), MAX_REQ, &err) < 0);
        json_auto_t *got = error_json(err);
        json_auto_t *want = json_pack("{s{ss}}", "ContractViolation", "message",
                                      SP "/resources/memory_mb: 0 is out of range [1, 16777216]");
        check_json_equal(got, want, "ContractViolation");

        /* the whole request: pointer "" */
        _cleanup_call_ call c2 = { 0 };
        _cleanup_(nook_error_freep) nook_error *err2 = NULL;
        assert_true(call_parse_n(&c2, "capability_report", "[", 1, MAX_REQ, &err2) < 0);
        json_auto_t *got2 = error_json(err2);
        const char *msg = json_string_value(json_object_get(json_object_get(got2, "ContractViolation"), "message"));
        assert_non_null(msg);
        assert_true(strncmp(msg, "(request): malformed JSON", 25) == 0);
        assert_int_equal(json_object_size(got2), 1);
}

static void test_error_json_classified_and_host_configuration(void **state) {
        _cleanup_(nook_error_freep) nook_error *err = NULL;
        assert_int_equal(nook_error_set(&err, NOOK_ERROR_POLICY_DENIAL, NOOK_RETRY_NOT_RETRYABLE, EPERM, "x"), -EPERM);
        json_auto_t *got = error_json(err);
        /* every ErrorContext and CausalIds field, as the crate writes them (enums.md) */
        json_auto_t *want = J("{'Classified':{'kind':'PolicyDenial','retry':'NotRetryable',"
                              "'context':{'message':'x','policy_refs':[],'source':null,'destination':null,"
                              "'subject':null,'privacy':null,'redacted_summary':'x'},"
                              "'causal_ids':{'run_id':null,'turn_id':null,'attempt_id':null,'event_id':null,"
                              "'tool_call_id':null,'span_id':null,'related':[]}}}");
        check_json_equal(got, want, "Classified PolicyDenial");

        _cleanup_(nook_error_freep) nook_error *h = NULL;
        nook_error_set(&h, NOOK_ERROR_HOST_CONFIGURATION_NEEDED, NOOK_RETRY_HOST_CONFIGURATION_NEEDED, 0,
                       "no subuid range");
        json_auto_t *got_h = error_json(h);
        json_auto_t *want_h = J("{'HostConfigurationNeeded':{'message':'no subuid range'}}");
        check_json_equal(got_h, want_h, "HostConfigurationNeeded");

        _cleanup_(nook_error_freep) nook_error *ch = NULL;
        nook_error_set(&ch, NOOK_ERROR_CLASSIFIED_HOST_CONFIGURATION_NEEDED, NOOK_RETRY_USER_ACTION_NEEDED, 0, "y");
        json_auto_t *got_ch = error_json(ch);
        json_auto_t *want_ch = J("{'Classified':{'kind':'HostConfigurationNeeded','retry':'UserActionNeeded',"
                                 "'context':{'message':'y','policy_refs':[],'source':null,'destination':null,"
                                 "'subject':null,'privacy':null,'redacted_summary':'y'},"
                                 "'causal_ids':{'run_id':null,'turn_id':null,'attempt_id':null,'event_id':null,"
                                 "'tool_call_id':null,'span_id':null,'related':[]}}}");
        check_json_equal(got_ch, want_ch, "Classified HostConfigurationNeeded");

        _cleanup_(nook_error_freep) nook_error *t = NULL;
        nook_error_set(&t, NOOK_ERROR_TIMEOUT, NOOK_RETRY_RETRYABLE, ETIMEDOUT, "z");
        json_auto_t *got_t = error_json(t);
        assert_string_equal(json_string_value(json_object_get(json_object_get(got_t, "Classified"), "kind")),
                            "Timeout");
        assert_string_equal(json_string_value(json_object_get(json_object_get(got_t, "Classified"), "retry")),
                            "Retryable");
}

static void test_error_json_escapes_quotes_newlines_and_controls(void **state) {
        static const char nasty[] = "say \"hi\"\nnext\tline\r\\ back \x01\x1f\x7f {\"json\":[]} caf\xc3\xa9 end";
        _cleanup_(nook_error_freep) nook_error *c = NULL;
        nook_error_set(&c, NOOK_ERROR_ISOLATION_FAILURE, NOOK_RETRY_RETRYABLE, EIO, "%s", nasty);
        json_auto_t *jc = error_json(c);
        json_t *ctx = json_object_get(json_object_get(jc, "Classified"), "context");
        assert_string_equal(json_string_value(json_object_get(ctx, "message")), nasty);
        assert_string_equal(json_string_value(json_object_get(ctx, "redacted_summary")), nasty);

        _cleanup_(nook_error_freep) nook_error *v = NULL;
        nook_error_field(&v, CV, "/a\"b\\c", "%s", nasty);
        json_auto_t *jv = error_json(v);
        _cleanup_free_ char *want = NULL;
        assert_true(asprintf(&want, "/a\"b\\c: %s", nasty) > 0);
        assert_string_equal(json_string_value(json_object_get(json_object_get(jv, "ContractViolation"), "message")),
                            want);

        _cleanup_(nook_error_freep) nook_error *m = NULL;
        nook_error_field(&m, MISS, "/q\"k\\\n", "missing");
        json_auto_t *jm = error_json(m);
        assert_string_equal(json_string_value(json_object_get(json_object_get(jm, "MissingRequiredField"), "field")),
                            "/q\"k\\\n");

        /* a real rejection whose pointer carries a quote from a map key */
        _cleanup_free_ char *text = jq("{'environment':" ENV_MIN ",'secret_values':{'q\\\"k\\\\':{}}}");
        _cleanup_call_ call cc = { 0 };
        _cleanup_(nook_error_freep) nook_error *err = NULL;
        assert_true(call_parse_n(&cc, "prepare_secrets", text, strlen(text), MAX_REQ, &err) < 0);
        assert_string_equal(nook_error_get_pointer(err), "/secret_values/q\"k\\");
        json_auto_t *jr = error_json(err);
        const char *msg = json_string_value(json_object_get(json_object_get(jr, "ContractViolation"), "message"));
        assert_non_null(msg);
        assert_true(strncmp(msg, "/secret_values/q\"k\\: ", 21) == 0);
}

/* ======================================== 6. idempotency keys and journaling */

/* The idempotency key of a request (test JSON) of method, or NULL (free()). */
static char *key_of(const char *method, const char *test_json) {
        _cleanup_call_ call c = { 0 };
        call_ok(&c, method, test_json);
        return nook_codec_idempotency_key(c.m, c.req);
}

static bool journaled(const char *method, const char *test_json) {
        _cleanup_call_ call c = { 0 };
        call_ok(&c, method, test_json);
        return nook_codec_is_journaled(c.m, c.req);
}

static void assert_key(const char *method, const char *test_json, const char *want) {
        _cleanup_free_ char *k = key_of(method, test_json);
        if (!want && k)
                fail_msg("%s: expected no idempotency key, got \"%s\"", method, k);
        if (want && (!k || strcmp(k, want) != 0))
                fail_msg("%s: expected idempotency key \"%s\", got \"%s\"", method, want, k ? k : "(none)");
}

#define WITH_KEY(req) "{'idempotency_key':'client-key'," req "}"
#define ENV_BODY "'environment':" ENV_MIN

static void test_explicit_top_level_idempotency_key_wins(void **state) {
        assert_key("prepare_session", WITH_KEY(ENV_BODY), "client-key");
        assert_key("configure_network", WITH_KEY(ENV_BODY), "client-key");
        assert_key("stream_io", WITH_KEY("'process_ref':'pr-1','stream':'stdout'"), "client-key");
        assert_key("signal_process", WITH_KEY("'process_ref':'pr-1','signal':'kill'"), "client-key");
        assert_key("cleanup", WITH_KEY(ENV_BODY ",'cleanup_plan_ref':'plan-1'"), "client-key");
        assert_key("prepare_rootfs", WITH_KEY("'rootfs':{'rootfs_ref':'r'},'environment_id':'env-1'"), "client-key");
        assert_key("resolve_image", WITH_KEY("'image':{'image_ref':'alpine'}"), "client-key");
        assert_key("reclaim", WITH_KEY("'ticket_ref':'t-1'"), "client-key");
        assert_key("capability_report", "{'idempotency_key':'client-key'}", "client-key");
        assert_key("start_process",
                   WITH_KEY(ENV_BODY ",'process':" PROCESS_MIN ",'effect_intent':{'effect_id':'e-1',"
                                     "'idempotency_key':'effect-key'}"),
                   "client-key");
}

static void test_environment_calls_derive_their_key_from_the_environment_id(void **state) {
        static const char *methods[] = { "prepare_session", "configure_network", "prepare_environment", "detach" };
        for (size_t i = 0; i < ELEMENTSOF(methods); i++)
                assert_key(methods[i], "{" ENV_BODY "}", "env:env-1");
        assert_key("prepare_secrets", REQ_SECRETS, "env:env-1");
}

static void test_start_process_key_is_the_effect_key_else_environment_and_process(void **state) {
        assert_key("start_process",
                   "{" ENV_BODY ",'process':" PROCESS_MIN
                   ",'effect_intent':{'effect_id':'e-1','idempotency_key':'ik'}}",
                   "ik");
        assert_key("start_process", REQ_START, "env:env-1/process:p-1");
}

static void test_calls_without_a_derivable_key_have_none(void **state) {
        assert_key("stream_io", "{'process_ref':'pr-1','stream':'stdin','data':'x'}", NULL);
        assert_key("signal_process", REQ_SIGNAL, NULL);
        assert_key("cleanup", REQ_CLEANUP, NULL);
        assert_key("collect_stats", "{'process_ref':'pr-1'}", NULL);
        assert_key("reclaim", "{'ticket_ref':'t-1'}", NULL);
        assert_key("resolve_image", REQ_IMAGE, NULL);
        assert_key("resolve_mounts", REQ_ENV, NULL);
        assert_key("read_content", "{'content_ref':'c-1'}", NULL);
        assert_key("capability_report", "{}", NULL);
        assert_key("runtime_ref", "{}", NULL);
}

static void test_prepare_rootfs_key_comes_from_the_ext_environment_id(void **state) {
        assert_key("prepare_rootfs", "{'rootfs':{'rootfs_ref':'r-1'},'environment_id':'env-7'}", "env:env-7");
        assert_key("prepare_rootfs", REQ_ROOTFS, NULL);

        _cleanup_call_ call c = { 0 };
        call_ok(&c, "prepare_rootfs", "{'rootfs':{'rootfs_ref':'r-1'},'environment_id':'env-7'}");
        assert_string_equal(nook_codec_environment_id(c.m, c.req), "env-7");
        assert_null(nook_codec_environment(c.m, c.req));
        _cleanup_call_ call d = { 0 };
        call_ok(&d, "prepare_rootfs", REQ_ROOTFS);
        assert_null(nook_codec_environment_id(d.m, d.req));
}

static void test_environment_of_each_call(void **state) {
        static const char *env_methods[] = { "prepare_session", "resolve_mounts", "configure_network",
                                             "prepare_environment", "detach" };
        for (size_t i = 0; i < ELEMENTSOF(env_methods); i++) {
                _cleanup_call_ call c = { 0 };
                call_ok(&c, env_methods[i], REQ_ENV);
                assert_string_equal(nook_codec_environment_id(c.m, c.req), "env-1");
                assert_ptr_equal(nook_codec_environment(c.m, c.req), &((nook_env_req *)c.req)->environment);
        }
        _cleanup_call_ call s = { 0 }, p = { 0 }, k = { 0 }, io = { 0 };
        call_ok(&s, "prepare_secrets", REQ_SECRETS);
        assert_string_equal(nook_codec_environment_id(s.m, s.req), "env-1");
        call_ok(&p, "start_process", REQ_START);
        assert_string_equal(nook_codec_environment(p.m, p.req)->environment_id, "env-1");
        call_ok(&k, "cleanup", REQ_CLEANUP);
        assert_string_equal(nook_codec_environment_id(k.m, k.req), "env-1");
        call_ok(&io, "stream_io", REQ_STREAM);
        assert_null(nook_codec_environment_id(io.m, io.req));
        assert_null(nook_codec_environment(io.m, io.req));
}

static void test_stream_io_is_journaled_only_for_stdin_writes_and_close(void **state) {
        assert_true(journaled("stream_io", "{'process_ref':'pr-1','stream':'stdin','data':'x'}"));
        assert_true(journaled("stream_io", "{'process_ref':'pr-1','stream':'stdin','close':true}"));
        assert_true(journaled("stream_io", "{'process_ref':'pr-1','stream':'stdin','data':'eA==','encoding':'base64',"
                                           "'close':true}"));
        assert_false(journaled("stream_io", "{'process_ref':'pr-1','stream':'stdin'}"));
        assert_false(journaled("stream_io", "{'process_ref':'pr-1','stream':'stdin','close':false}"));
        assert_false(journaled("stream_io", "{'process_ref':'pr-1','stream':'stdout','cursor':0,'max_bytes':10}"));
        assert_false(journaled("stream_io", "{'process_ref':'pr-1','stream':'stderr','wait_ms':100}"));
}

static void test_read_only_calls_are_never_journaled_and_effects_always_are(void **state) {
        assert_false(journaled("collect_stats", "{'process_ref':'pr-1'}"));
        assert_false(journaled("collect_stats", "{'process_ref':'pr-1','idempotency_key':'k'}"));
        assert_false(journaled("capability_report", "{}"));
        assert_false(journaled("runtime_ref", "{}"));
        assert_false(journaled("read_content", "{'content_ref':'c-1'}"));

        assert_true(journaled("prepare_session", REQ_ENV));
        assert_true(journaled("resolve_image", REQ_IMAGE));
        assert_true(journaled("prepare_rootfs", REQ_ROOTFS));
        assert_true(journaled("resolve_mounts", REQ_ENV));
        assert_true(journaled("configure_network", REQ_ENV));
        assert_true(journaled("prepare_secrets", REQ_SECRETS));
        assert_true(journaled("prepare_environment", REQ_ENV));
        assert_true(journaled("start_process", REQ_START));
        assert_true(journaled("signal_process", REQ_SIGNAL));
        assert_true(journaled("cleanup", REQ_CLEANUP));
        assert_true(journaled("detach", REQ_ENV));
        assert_true(journaled("reclaim", "{'ticket_ref':'t-1'}"));
}

/* ==================================== method table, result encoding, canonical */

static void test_method_table_names_every_call(void **state) {
        static const char *names[NOOK_M_COUNT] = {
                "runtime_ref",       "capability_report", "prepare_session",
                "resolve_image",     "prepare_rootfs",    "resolve_mounts",
                "configure_network", "prepare_secrets",   "prepare_environment",
                "start_process",     "stream_io",         "signal_process",
                "collect_stats",     "cleanup",           "detach",
                "reclaim",           "read_content",
        };
        for (int i = 0; i < NOOK_M_COUNT; i++) {
                const nook_method_info *m = nook_method_lookup(names[i]);
                assert_non_null(m);
                assert_int_equal(m->id, i);
                assert_ptr_equal(nook_method_get((nook_method)i), m);
                assert_string_equal(m->name, names[i]);
                assert_non_null(m->request);
        }
        assert_null(nook_method_lookup("nope"));
        assert_null(nook_method_lookup("Prepare_Session"));
        assert_null(nook_method_lookup(""));
        assert_null(nook_method_lookup(NULL));
        assert_null(nook_method_get(NOOK_M_COUNT));

        /* bare-string results */
        static const char *bare[] = { "runtime_ref", "prepare_session", "prepare_rootfs", "configure_network",
                                      "prepare_environment" };
        for (size_t i = 0; i < ELEMENTSOF(bare); i++)
                assert_null(nook_method_lookup(bare[i])->result);
        assert_ptr_equal(nook_method_lookup("start_process")->result, &nook_schema_start_result);
        assert_ptr_equal(nook_method_lookup("collect_stats")->result, &nook_schema_stats_result);
}

static void test_results_encode_through_the_method_table(void **state) {
        const nook_method_info *rr = nook_method_lookup("runtime_ref");
        nook_ref_result *ref = nook_codec_new_result(rr);
        assert_non_null(ref);
        ref->ref = strdup("nook.userns");
        json_auto_t *s = nook_codec_encode_result(rr, ref);
        assert_true(json_is_string(s));
        assert_string_equal(json_string_value(s), "nook.userns");
        nook_codec_free_result(rr, ref);

        const nook_method_info *cs = nook_method_lookup("collect_stats");
        nook_stats_result *st = nook_codec_new_result(cs);
        st->snapshot_ref = strdup("snap-1");
        st->process_ref = strdup("pr-1");
        st->memory_bytes = 0;
        st->has_memory_bytes = true;
        json_auto_t *enc = nook_codec_encode_result(cs, st);
        json_auto_t *want = J("{'snapshot_ref':'snap-1','process_ref':'pr-1','memory_bytes':0,'cpu_millis':null,"
                              "'process_count':null,'filesystem_bytes':null,'network_bytes':null,'exit_code':null}");
        check_json_equal(enc, want, "stats via the codec: what is not measured is null, never 0");
        nook_codec_free_result(cs, st);

        const nook_method_info *cr = nook_method_lookup("capability_report");
        nook_capability_report *rep = nook_codec_new_result(cr);
        assert_int_equal(rep->health.tag, -1);
        rep->health.tag = NOOK_HEALTH_TAG_DEGRADED;
        nook_health_degraded *d = calloc(1, sizeof(*d));
        d->reason = strdup("no cgroup v2");
        rep->health.data = d;
        json_auto_t *enc_rep = nook_codec_encode_result(cr, rep);
        json_auto_t *want_h = J("{'degraded':{'reason':'no cgroup v2'}}");
        check_json_equal(json_object_get(enc_rep, "health"), want_h, "health variant set by code");
        nook_codec_free_result(cr, rep);

        assert_null(nook_codec_free_result(cr, NULL));
        assert_null(nook_codec_free_request(cr, NULL));
}

static void test_canonical_json_sorts_keys_compactly(void **state) {
        json_auto_t *v = J("{'b':1,'a':{'d':[2,{'z':null,'y':true}],'c':'\\u00e9'}}");
        _cleanup_free_ char *s = nook_json_canonical(v);
        assert_string_equal(s, "{\"a\":{\"c\":\"\xc3\xa9\",\"d\":[2,{\"y\":true,\"z\":null}]},\"b\":1}");
        json_auto_t *str = json_string("x");
        _cleanup_free_ char *s2 = nook_json_canonical(str);
        assert_string_equal(s2, "\"x\"");

        /* equal requests written differently canonicalise equally after a round trip */
        json_auto_t *a = J("{'process_ref':'pr-1','stream':'stdout'}");
        json_auto_t *b = J("{'wait_ms':0,'stream':'stdout','close':false,'process_ref':'pr-1','x':1}");
        _cleanup_typed_ typed ta = parse_ok(&nook_schema_stream_io_req, a);
        _cleanup_typed_ typed tb = parse_ok(&nook_schema_stream_io_req, b);
        json_auto_t *ea = nook_schema_encode(&nook_schema_stream_io_req, ta.obj);
        json_auto_t *eb = nook_schema_encode(&nook_schema_stream_io_req, tb.obj);
        _cleanup_free_ char *ca = nook_json_canonical(ea), *cb = nook_json_canonical(eb);
        assert_string_equal(ca, cb);
}

static void test_clear_is_idempotent_and_leaves_variants_absent(void **state) {
        json_auto_t *doc = J("{'environment':" FULL_ENV ",'process':" FULL_PROCESS ",'effect_intent':" FULL_EFFECT "}");
        _cleanup_typed_ typed t = parse_ok(&nook_schema_start_process_req, doc);
        nook_start_process_req *r = t.obj;
        nook_schema_clear(&nook_schema_start_process_req, r);
        assert_null(r->environment.environment_id);
        assert_null(r->process.argv.items);
        assert_int_equal(r->process.argv.n, 0);
        nook_schema_clear(&nook_schema_start_process_req, r);
        nook_schema_clear(&nook_schema_start_process_req, NULL);

        typed c = { .s = &nook_schema_capability_report, .obj = calloc(1, nook_schema_capability_report.size) };
        nook_schema_clear(c.s, c.obj);
        assert_int_equal(((nook_capability_report *)c.obj)->health.tag, -1);
        typed_done(&c);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                /* 1. round trips */
                cmocka_unit_test(test_every_contract_type_round_trips_to_canonical_json),
                cmocka_unit_test(test_every_variant_and_enum_value_round_trips),
                cmocka_unit_test(test_unknown_fields_are_tolerated_and_not_encoded),
                /* 2. defaults and typed values */
                cmocka_unit_test(test_minimal_environment_gets_contract_defaults),
                cmocka_unit_test(test_empty_requirement_defaults_to_fallback_deny_and_no_class),
                cmocka_unit_test(test_minimal_process_defaults_to_pipe_closed_stdin_and_no_timeout),
                cmocka_unit_test(test_other_request_and_result_defaults),
                cmocka_unit_test(test_full_requests_parse_into_the_expected_typed_values),
                /* 3. rejections */
                cmocka_unit_test(test_every_rejection_names_its_pointer_and_kind),
                cmocka_unit_test(test_boundary_values_next_to_each_rejection_are_accepted),
                cmocka_unit_test(test_identifier_limit_is_512_bytes),
                cmocka_unit_test(test_path_limit_is_4096_bytes),
                cmocka_unit_test(test_arrays_and_maps_are_limited_to_4096_items),
                cmocka_unit_test(test_strings_are_limited_in_length),
                cmocka_unit_test(test_non_object_at_the_root_is_rejected_at_the_empty_pointer),
                cmocka_unit_test(test_single_value_checks),
                /* 4. whole requests */
                cmocka_unit_test(test_request_malformed_json_is_contract_violation_at_root),
                cmocka_unit_test(test_request_duplicate_keys_are_rejected_and_named),
                cmocka_unit_test(test_request_invalid_utf8_and_lone_surrogates_are_rejected),
                cmocka_unit_test(test_request_nul_bytes_are_rejected),
                cmocka_unit_test(test_request_over_max_bytes_is_rejected_before_parsing),
                cmocka_unit_test(test_request_blank_over_max_bytes_is_rejected),
                cmocka_unit_test(test_request_empty_or_blank_is_an_empty_object),
                cmocka_unit_test(test_request_blank_prefix_of_a_larger_buffer_is_an_empty_object),
                cmocka_unit_test(test_request_top_level_array_is_rejected),
                cmocka_unit_test(test_request_deep_nesting_fails_cleanly),
                cmocka_unit_test(test_request_unknown_fields_anywhere_are_tolerated_and_kept_in_the_document),
                /* 5. AgentError JSON */
                cmocka_unit_test(test_error_json_missing_required_field),
                cmocka_unit_test(test_error_json_contract_violation_prefixes_the_pointer),
                cmocka_unit_test(test_error_json_classified_and_host_configuration),
                cmocka_unit_test(test_error_json_escapes_quotes_newlines_and_controls),
                /* 6. idempotency and journaling */
                cmocka_unit_test(test_explicit_top_level_idempotency_key_wins),
                cmocka_unit_test(test_environment_calls_derive_their_key_from_the_environment_id),
                cmocka_unit_test(test_start_process_key_is_the_effect_key_else_environment_and_process),
                cmocka_unit_test(test_calls_without_a_derivable_key_have_none),
                cmocka_unit_test(test_prepare_rootfs_key_comes_from_the_ext_environment_id),
                cmocka_unit_test(test_environment_of_each_call),
                cmocka_unit_test(test_stream_io_is_journaled_only_for_stdin_writes_and_close),
                cmocka_unit_test(test_read_only_calls_are_never_journaled_and_effects_always_are),
                /* method table, result encoding, canonical form, clear */
                cmocka_unit_test(test_method_table_names_every_call),
                cmocka_unit_test(test_results_encode_through_the_method_table),
                cmocka_unit_test(test_canonical_json_sorts_keys_compactly),
                cmocka_unit_test(test_clear_is_idempotent_and_leaves_variants_absent),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_api_config.c: api/config.c, the strict JSON config of CONTRACT section 5. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <jansson.h>

#include "../../api/internal.h"
#include "testfs.h"

static char dir[64];
static char cfg_path[128];
static struct api_config cfg;
static struct api_error err;

static const char base_config[] =
    "{\"trust_domain\": \"example.org\","
    " \"listen\": {\"https\": \"127.0.0.1:8443\", \"http\": \"127.0.0.1:8080\"},"
    " \"public_url\": \"http://127.0.0.1:8080\","
    " \"pki\": {\"roots\": \"pki/root.crt\", \"intermediate_cert\": \"pki/intermediate.crt\","
    "         \"intermediate_key\": \"pki/intermediate.key\", \"root_crl\": \"pki/root.crl\"},"
    " \"tls\": {\"dns_names\": [\"localhost\", \"signet.example.org\"],"
    "         \"ip_addresses\": [\"127.0.0.1\", \"::1\"]},"
    " \"store\": {\"path\": \"db\", \"map_size_mb\": 64},"
    " \"leaf\": {\"default_ttl\": \"30m\", \"max_ttl\": \"12h\"},"
    " \"auth\": {"
    "   \"kubernetes\": {\"issuer\": \"https://kubernetes.default.svc.cluster.local\","
    "                  \"audiences\": [\"signet\", \"other\"], \"jwks_file\": "
    "\"pki/k8s-jwks.json\"},"
    "   \"provisioners\": [{\"name\": \"bootstrap\", \"public_key\": \"pki/provisioner.pub\","
    "                      \"max_ttl\": \"2h\"},"
    "                     {\"name\": \"ci\", \"public_key\": \"pki/provisioner.pub\"}],"
    "   \"admins\": [\"spiffe://example.org/admin/ops\"]},"
    " \"crl\": {\"validity\": \"2d\", \"refresh\": \"30m\"},"
    " \"ocsp\": {\"validity\": \"90m\"}}";

static void touch(const char *rel)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", dir, rel);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs("placeholder\n", f);
    fclose(f);
}

static void setup(void)
{
    snprintf(dir, sizeof(dir), "/tmp/signet-cfg-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    char pki[128];
    snprintf(pki, sizeof(pki), "%s/pki", dir);
    cr_assert_eq(mkdir(pki, 0700), 0);
    touch("pki/root.crt");
    touch("pki/intermediate.crt");
    touch("pki/intermediate.key");
    touch("pki/root.crl");
    touch("pki/k8s-jwks.json");
    touch("pki/provisioner.pub");
    snprintf(cfg_path, sizeof(cfg_path), "%s/signet.json", dir);
    memset(&cfg, 0, sizeof(cfg));
    memset(&err, 0, sizeof(err));
}

static void teardown(void)
{
    testfs_rmtree(dir);
}

TestSuite(api_config, .init = setup, .fini = teardown);

static void write_text(const char *text)
{
    FILE *f = fopen(cfg_path, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
}

/* navigate returns the object holding the last part of |path| and that part. */
static json_t *navigate(json_t *root, const char *path, char *last, size_t last_size)
{
    char buf[128];
    snprintf(buf, sizeof(buf), "%s", path);
    json_t *obj = root;
    char *part = buf;
    char *dot;
    while ((dot = strchr(part, '.')) != NULL) {
        *dot = '\0';
        obj = json_object_get(obj, part);
        cr_assert_not_null(obj, "no %s in the base config", part);
        part = dot + 1;
    }
    snprintf(last, last_size, "%s", part);
    return obj;
}

/* write_modified writes the base config with |path| set to |value_json|, or
 * removed when |value_json| is NULL. */
static void write_modified(const char *path, const char *value_json)
{
    json_error_t jerr;
    json_t *root = json_loads(base_config, 0, &jerr);
    cr_assert_not_null(root, "base config: %s", jerr.text);
    char last[128];
    json_t *obj = navigate(root, path, last, sizeof(last));
    if (value_json == NULL) {
        cr_assert_eq(json_object_del(obj, last), 0);
    } else {
        json_t *v = json_loads(value_json, JSON_DECODE_ANY, &jerr);
        cr_assert_not_null(v, "value: %s", jerr.text);
        cr_assert_eq(json_object_set_new(obj, last, v), 0);
    }
    cr_assert_eq(json_dump_file(root, cfg_path, 0), 0);
    json_decref(root);
}

static void expect_refused(const char *needle)
{
    enum api_err rc = api_config_load(cfg_path, &cfg, &err);
    cr_assert_eq(rc, API_ERR_BAD_REQUEST, "rc %d", rc);
    cr_assert_eq(err.code, API_ERR_BAD_REQUEST);
    cr_assert_not_null(strstr(err.msg, needle), "message '%s' lacks '%s'", err.msg, needle);
}

static void expect_loaded(void)
{
    enum api_err rc = api_config_load(cfg_path, &cfg, &err);
    cr_assert_eq(rc, API_OK, "refused: %s", err.msg);
}

static void assert_in_dir(const char *got, const char *rel)
{
    char want[256];
    snprintf(want, sizeof(want), "%s/%s", dir, rel);
    cr_assert_str_eq(got, want);
}

Test(api_config, full_valid_config_parses_with_every_field_right)
{
    write_text(base_config);
    expect_loaded();
    cr_assert_str_eq(cfg.trust_domain, "example.org");
    cr_assert_str_eq(cfg.listen_https, "127.0.0.1:8443");
    cr_assert_str_eq(cfg.listen_http, "127.0.0.1:8080");
    cr_assert_str_eq(cfg.public_url, "http://127.0.0.1:8080");
    assert_in_dir(cfg.pki_roots, "pki/root.crt");
    assert_in_dir(cfg.pki_intermediate_cert, "pki/intermediate.crt");
    assert_in_dir(cfg.pki_intermediate_key, "pki/intermediate.key");
    assert_in_dir(cfg.pki_root_crl, "pki/root.crl");
    cr_assert_eq(cfg.num_tls_dns_names, 2);
    cr_assert_str_eq(cfg.tls_dns_names[1], "signet.example.org");
    cr_assert_eq(cfg.num_tls_ip_addresses, 2);
    cr_assert_str_eq(cfg.tls_ip_addresses[1], "::1");
    cr_assert_str_eq(cfg.tls_cert, "");
    assert_in_dir(cfg.store_path, "db");
    cr_assert_eq(cfg.store_map_size_mb, 64);
    cr_assert_eq(cfg.leaf_default_ttl_s, 1800);
    cr_assert_eq(cfg.leaf_max_ttl_s, 12 * 3600);
    cr_assert_eq(cfg.k8s_enabled, 1);
    cr_assert_str_eq(cfg.k8s_issuer, "https://kubernetes.default.svc.cluster.local");
    cr_assert_eq(cfg.num_k8s_audiences, 2);
    cr_assert_str_eq(cfg.k8s_audiences[1], "other");
    assert_in_dir(cfg.k8s_jwks_file, "pki/k8s-jwks.json");
    cr_assert_eq(cfg.num_provisioners, 2);
    cr_assert_str_eq(cfg.provisioners[0].name, "bootstrap");
    assert_in_dir(cfg.provisioners[0].public_key, "pki/provisioner.pub");
    cr_assert_eq(cfg.provisioners[0].max_ttl_s, 7200);
    cr_assert_eq(cfg.provisioners[1].max_ttl_s, 12 * 3600, "defaults to leaf.max_ttl");
    cr_assert_eq(cfg.num_admins, 1);
    cr_assert_str_eq(cfg.admins[0], "spiffe://example.org/admin/ops");
    cr_assert_eq(cfg.crl_validity_s, 2 * 86400);
    cr_assert_eq(cfg.crl_refresh_s, 1800);
    cr_assert_eq(cfg.ocsp_validity_s, 5400);
}

Test(api_config, minimal_config_gets_the_documented_defaults)
{
    char text[1024];
    snprintf(text, sizeof(text),
             "{\"trust_domain\": \"example.org\", \"listen\": {\"https\": \"[::1]:8443\"},"
             " \"public_url\": \"https://ca.example.org\","
             " \"pki\": {\"roots\": \"%s/pki/root.crt\", \"intermediate_cert\": "
             "\"pki/intermediate.crt\", \"intermediate_key\": \"pki/intermediate.key\"},"
             " \"store\": {\"path\": \"/var/lib/signet\"}}",
             dir);
    write_text(text);
    expect_loaded();
    cr_assert_str_eq(cfg.listen_https, "[::1]:8443");
    cr_assert_str_eq(cfg.listen_http, "");
    assert_in_dir(cfg.pki_roots, "pki/root.crt"); /* absolute: unchanged */
    cr_assert_str_eq(cfg.store_path, "/var/lib/signet");
    cr_assert_str_eq(cfg.pki_root_crl, "");
    cr_assert_eq(cfg.store_map_size_mb, 1024);
    cr_assert_eq(cfg.leaf_default_ttl_s, 3600);
    cr_assert_eq(cfg.leaf_max_ttl_s, 86400);
    cr_assert_eq(cfg.k8s_enabled, 0);
    cr_assert_eq(cfg.num_provisioners, 0);
    cr_assert_eq(cfg.crl_validity_s, 86400);
    cr_assert_eq(cfg.crl_refresh_s, 3600);
    cr_assert_eq(cfg.ocsp_validity_s, 4 * 3600);
}

struct key_case {
    char path[64];
};

ParameterizedTestParameters(api_config, each_required_key_missing_is_refused_naming_it)
{
    static struct key_case cases[] = {
        {"trust_domain"},
        {"listen"},
        {"listen.https"},
        {"public_url"},
        {"pki"},
        {"pki.roots"},
        {"pki.intermediate_cert"},
        {"pki.intermediate_key"},
        {"store"},
        {"store.path"},
        {"auth.kubernetes.issuer"},
        {"auth.kubernetes.audiences"},
        {"auth.kubernetes.jwks_file"},
    };
    return cr_make_param_array(struct key_case, cases, sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct key_case *c, api_config, each_required_key_missing_is_refused_naming_it)
{
    write_modified(c->path, NULL);
    char needle[96];
    snprintf(needle, sizeof(needle), "%s: required key missing", c->path);
    expect_refused(needle);
}

Test(api_config, unknown_key_at_top_level_is_refused)
{
    write_modified("listen_address", "\"0.0.0.0:1\"");
    expect_refused("listen_address: unknown key");
}

Test(api_config, unknown_nested_key_is_refused_with_its_path)
{
    write_modified("auth.kubernetes.audience", "\"signet\"");
    expect_refused("auth.kubernetes.audience: unknown key");
}

Test(api_config, unknown_key_in_a_provisioner_is_refused)
{
    write_modified("auth.provisioners",
                   "[{\"name\": \"a\", \"public_key\": \"pki/provisioner.pub\", \"ttl\": \"1h\"}]");
    expect_refused("auth.provisioners[0].ttl: unknown key");
}

Test(api_config, wrong_type_in_an_array_names_the_index)
{
    write_modified("auth.kubernetes.audiences", "[\"signet\", 7]");
    expect_refused("auth.kubernetes.audiences[1]: expected a string");
}

Test(api_config, object_given_as_string_is_refused)
{
    write_modified("listen", "\"127.0.0.1:8443\"");
    expect_refused("listen: expected an object");
}

Test(api_config, integer_given_as_string_is_refused)
{
    write_modified("store.map_size_mb", "\"64\"");
    expect_refused("store.map_size_mb: expected an integer");
}

Test(api_config, duration_given_as_number_is_refused)
{
    write_modified("leaf.max_ttl", "3600");
    expect_refused("leaf.max_ttl: expected a duration");
}

Test(api_config, empty_audiences_are_refused)
{
    write_modified("auth.kubernetes.audiences", "[]");
    expect_refused("auth.kubernetes.audiences: must not be empty");
}

Test(api_config, duplicate_keys_are_refused)
{
    char text[sizeof(base_config) + 64];
    snprintf(text, sizeof(text), "{\"trust_domain\": \"evil.org\",%s", base_config + 1);
    write_text(text);
    expect_refused("duplicate");
}

Test(api_config, text_that_is_not_json_is_refused)
{
    write_text("{\"trust_domain\": ");
    expect_refused("config: line");
}

Test(api_config, top_level_array_is_refused)
{
    write_text("[]");
    expect_refused("expected a JSON object");
}

Test(api_config, bad_duration_in_config_names_the_key)
{
    write_modified("crl.refresh", "\"1.5h\"");
    expect_refused("crl.refresh: ");
}

Test(api_config, crl_refresh_not_shorter_than_validity_is_refused)
{
    write_modified("crl.refresh", "\"2d\"");
    expect_refused("crl.refresh: must be shorter than crl.validity");
}

Test(api_config, default_ttl_above_max_ttl_is_refused)
{
    write_modified("leaf.default_ttl", "\"13h\"");
    expect_refused("leaf.default_ttl: must not exceed leaf.max_ttl");
}

Test(api_config, max_ttl_below_one_minute_is_refused)
{
    write_modified("leaf", "{\"default_ttl\": \"30s\", \"max_ttl\": \"30s\"}");
    expect_refused("leaf.max_ttl: at least 1m");
}

Test(api_config, provisioner_max_ttl_above_leaf_max_ttl_is_refused)
{
    write_modified("auth.provisioners",
                   "[{\"name\": \"a\", \"public_key\": \"pki/provisioner.pub\", \"max_ttl\": "
                   "\"13h\"}]");
    expect_refused("auth.provisioners[0].max_ttl: must not exceed leaf.max_ttl");
}

Test(api_config, duplicate_provisioner_names_are_refused)
{
    write_modified("auth.provisioners",
                   "[{\"name\": \"a\", \"public_key\": \"pki/provisioner.pub\"},"
                   " {\"name\": \"a\", \"public_key\": \"pki/provisioner.pub\"}]");
    expect_refused("auth.provisioners[1].name: duplicate");
}

Test(api_config, relative_paths_resolve_against_the_config_folder_not_the_cwd)
{
    write_text(base_config);
    char cwd[512];
    cr_assert_not_null(getcwd(cwd, sizeof(cwd)));
    cr_assert_eq(chdir(dir), 0);
    enum api_err rc = api_config_load("signet.json", &cfg, &err); /* config in the cwd */
    cr_assert_eq(chdir(cwd), 0);
    cr_assert_eq(rc, API_OK, "%s", err.msg);
    cr_assert_str_eq(cfg.pki_roots, "pki/root.crt");
    expect_loaded(); /* and from elsewhere, through the folder */
    assert_in_dir(cfg.pki_roots, "pki/root.crt");
}

Test(api_config, missing_file_is_refused_naming_the_key)
{
    write_modified("pki.intermediate_key", "\"pki/absent.key\"");
    expect_refused("pki.intermediate_key: file not found");
}

Test(api_config, missing_provisioner_key_file_is_refused_naming_the_key)
{
    write_modified("auth.provisioners", "[{\"name\": \"a\", \"public_key\": \"nope.pub\"}]");
    expect_refused("auth.provisioners[0].public_key: file not found");
}

Test(api_config, missing_config_file_is_refused)
{
    expect_refused("config: file not found");
}

Test(api_config, oversize_config_file_is_refused_before_parsing)
{
    FILE *f = fopen(cfg_path, "w");
    cr_assert_not_null(f);
    for (size_t i = 0; i <= API_MAX_CONFIG_BYTES; i++) {
        fputc(' ', f);
    }
    fclose(f);
    expect_refused("config: larger than");
}

Test(api_config, tls_cert_without_key_is_refused)
{
    write_modified("tls", "{\"cert\": \"pki/root.crt\"}");
    expect_refused("tls.cert and tls.key");
}

Test(api_config, tls_cert_and_key_together_are_accepted)
{
    write_modified("tls", "{\"cert\": \"pki/root.crt\", \"key\": \"pki/intermediate.key\"}");
    expect_loaded();
    assert_in_dir(cfg.tls_cert, "pki/root.crt");
    assert_in_dir(cfg.tls_key, "pki/intermediate.key");
}

Test(api_config, bad_tls_dns_name_is_refused)
{
    write_modified("tls.dns_names", "[\"ok.example\", \"bad name\"]");
    expect_refused("tls.dns_names[1]: not a valid DNS name");
}

Test(api_config, bad_tls_ip_address_is_refused)
{
    write_modified("tls.ip_addresses", "[\"300.1.1.1\"]");
    expect_refused("tls.ip_addresses[0]: not a valid IP address");
}

Test(api_config, admin_outside_the_trust_domain_is_refused)
{
    write_modified("auth.admins", "[\"spiffe://other.org/admin\"]");
    expect_refused("auth.admins[0]");
}

Test(api_config, invalid_trust_domain_is_refused)
{
    write_modified("trust_domain", "\"Example.org\"");
    expect_refused("trust_domain: ");
}

Test(api_config, string_longer_than_its_field_is_refused)
{
    char value[700];
    memset(value, 'a', sizeof(value));
    value[0] = '"';
    value[sizeof(value) - 2] = '"';
    value[sizeof(value) - 1] = '\0';
    write_modified("auth.kubernetes.issuer", value);
    expect_refused("auth.kubernetes.issuer: longer than 511 bytes");
}

Test(api_config, empty_string_is_refused)
{
    write_modified("store.path", "\"\"");
    expect_refused("store.path: must not be empty");
}

Test(api_config, public_url_with_trailing_slash_is_refused)
{
    write_modified("public_url", "\"http://127.0.0.1:8080/\"");
    expect_refused("public_url: ");
}

struct listen_case {
    char value[48];
    int ok;
};

ParameterizedTestParameters(api_config, listen_addresses_are_checked)
{
    static struct listen_case cases[] = {
        {"\"127.0.0.1:8443\"", 1}, {"\"[::1]:8443\"", 1},      {"\"localhost:1\"", 1},
        {"\"0.0.0.0:65535\"", 1},  {"\"127.0.0.1:0\"", 0},     {"\"127.0.0.1:65536\"", 0},
        {"\"127.0.0.1\"", 0},      {"\":8443\"", 0},           {"\"::1:8443\"", 0},
        {"\"[::1]\"", 0},          {"\"127.0.0.1:+80\"", 0},   {"\"[zz]:80\"", 0},
        {"\"a b:80\"", 0},         {"\"127.0.0.1:8443x\"", 0},
    };
    return cr_make_param_array(struct listen_case, cases, sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct listen_case *c, api_config, listen_addresses_are_checked)
{
    write_modified("listen.https", c->value);
    if (c->ok) {
        expect_loaded();
    } else {
        expect_refused("listen.https: expected \"host:port\"");
    }
}

Test(api_config, one_address_for_both_listeners_is_refused)
{
    write_modified("listen", "{\"https\": \"127.0.0.1:8080\", \"http\": \"127.0.0.1:8080\"}");
    expect_refused("listen.http: the same address as listen.https");
}

/* ---- api_duration_parse ---- */

struct duration_case {
    char text[40];
    long long seconds; /* 0: refused */
};

ParameterizedTestParameters(api_config, durations_parse_or_are_refused)
{
    static struct duration_case cases[] = {
        {"1s", 1},
        {"90s", 90},
        {"5m", 300},
        {"1h", 3600},
        {"24h", 86400},
        {"2d", 172800},
        {"3650d", 3650LL * 86400},
        {"315360000s", 315360000},
        {"", 0},
        {"5", 0},
        {"h", 0},
        {"5x", 0},
        {"-1h", 0},
        {"+1h", 0},
        {"1.5h", 0},
        {" 1h", 0},
        {"1h ", 0},
        {"1 h", 0},
        {"0s", 0},
        {"0h", 0},
        {"3651d", 0},
        {"315360001s", 0},
        {"99999999999999999999h", 0},
        {"18446744073709551616s", 0},
        {"9223372036854775807d", 0},
        {"0x10s", 0},
        {"1H", 0},
        {"1hh", 0},
    };
    return cr_make_param_array(struct duration_case, cases, sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct duration_case *c, api_config, durations_parse_or_are_refused)
{
    int64_t seconds = -1;
    enum api_err rc = api_duration_parse(c->text, strlen(c->text), &seconds, &err);
    if (c->seconds > 0) {
        cr_assert_eq(rc, API_OK, "'%s' refused: %s", c->text, err.msg);
        cr_assert_eq(seconds, c->seconds, "'%s'", c->text);
    } else {
        cr_assert_eq(rc, API_ERR_BAD_REQUEST, "'%s' accepted", c->text);
        cr_assert_eq(seconds, -1, "output untouched on failure");
    }
}

Test(api_config, duration_reads_only_the_given_length)
{
    int64_t seconds = 0;
    cr_assert_eq(api_duration_parse("5mjunk", 2, &seconds, &err), API_OK);
    cr_assert_eq(seconds, 300);
}

Test(api_config, dns_name_check_accepts_host_names_only)
{
    cr_assert(api_dns_name_check("a.b-c.example", 13));
    cr_assert(api_dns_name_check("x", 1));
    cr_assert_not(api_dns_name_check("", 0));
    cr_assert_not(api_dns_name_check("*.example.org", 13));
    cr_assert_not(api_dns_name_check("A.example", 9));
    cr_assert_not(api_dns_name_check("a..b", 4));
    cr_assert_not(api_dns_name_check("-a.b", 4));
    cr_assert_not(api_dns_name_check("a-.b", 4));
    cr_assert_not(api_dns_name_check("a.", 2));
    char label[70];
    memset(label, 'a', 64);
    cr_assert_not(api_dns_name_check(label, 64));
    cr_assert(api_dns_name_check(label, 63));
}

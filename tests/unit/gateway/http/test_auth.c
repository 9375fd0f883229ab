/* test_auth.c: the [client "NAME"] sections of the configuration and auth.c's lookups over
 * them: subjects in any of the usual spellings, tokens by their SHA-256, AE titles, role names,
 * and each kind of bad section reported with its file and line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h> /* after the headers it needs */
#include "../../unit_filter.h"
#include "huren_err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "http/auth.h"
#include "config.h"

/* SHA-256 of "secret-token-1" */
#define TOKEN1 "secret-token-1"
#define TOKEN1_SHA "d5ba78d16100079e567f1f7df974a9c9761ac7aaf871ba9c66bb5fa362374c47"

static const char good_conf[] = "[http]\n"
                                "tls_cert = s.crt\n"
                                "tls_key = s.key\n"
                                "tls_client_ca = ca.crt\n"
                                "[client \"gw-b\"]\n"
                                "subject = CN=gw.hospital-b, O=Hospital B, C=CN\n"
                                "ae_title = GW_B\n"
                                "institution = H37010002\n"
                                "role = peer\n"
                                "[client \"ws 3\"]\n"
                                "token_sha256 = " TOKEN1_SHA "\n"
                                "institution = H37010001\n"
                                "role = clinician\n"
                                "[client \"insurer\"]\n"
                                "subject = /C=CN/O=Insurer Z/CN=claims\n"
                                "institution = INS\n"
                                "role = insurer\n";

static char *write_conf(const char *text)
{
    static char path[64];
    snprintf(path, sizeof path, "/tmp/huren-test-access-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return path;
}

static void load(config *c, const char *text)
{
    char err[HUREN_ERRLEN];
    config_defaults(c);
    char *path = write_conf(text);
    if (config_load(c, path, err, sizeof err) != 0)
        fail_msg("load: %s", err);
    unlink(path);
}

static void test_clients_parsed(void **state)
{
    (void)state;
    config c;
    load(&c, good_conf);
    char err[HUREN_ERRLEN];
    assert_int_equal(config_validate(&c, err, sizeof err), 0);
    assert_int_equal(c.nclients, 3);
    assert_string_equal(c.clients[0].name, "gw-b");
    assert_string_equal(c.clients[0].ae_title, "GW_B");
    assert_string_equal(c.clients[1].name, "ws 3");
    assert_string_equal(c.clients[1].token_sha256, TOKEN1_SHA);
    assert_null(c.clients[1].subject);
    assert_int_equal(c.loopback_full_access, 1);
    assert_int_equal(c.audit_fsync, 1);
    assert_string_equal(c.audit_file, "");
    config_free(&c);
}

static void test_lookups(void **state)
{
    (void)state;
    config c;
    load(&c, good_conf);
    auth_table *t;
    char err[HUREN_ERRLEN];
    assert_int_equal(auth_table_build(&c, &t, err, sizeof err), 0);
    /* GnuTLS prints subjects in either order, without spaces */
    const config_client *k = auth_by_subject(t, "CN=gw.hospital-b,O=Hospital B,C=CN");
    assert_non_null(k);
    assert_string_equal(k->name, "gw-b");
    assert_ptr_equal(auth_by_subject(t, "C=CN,O=Hospital B,CN=gw.hospital-b"), k);
    assert_ptr_equal(auth_by_subject(t, "c = CN, o = hospital b, cn = GW.hospital-B"), k);
    assert_null(auth_by_subject(t, "CN=gw.hospital-b,O=Hospital B"));        /* one RDN short */
    assert_null(auth_by_subject(t, "CN=gw.hospital-b,O=Hospital C,C=CN"));   /* other org */
    assert_null(auth_by_subject(t, "O=Hospital B,CN=gw.hospital-b,C=CN"));   /* shuffled */
    assert_null(auth_by_subject(t, "CN=gw.hospital-b\\,O=Hospital B,C=CN")); /* escaped comma */
    assert_null(auth_by_subject(t, ""));
    k = auth_by_subject(t, "CN=claims,O=Insurer Z,C=CN");
    assert_non_null(k);
    assert_string_equal(k->role, "insurer");

    k = auth_by_token(t, TOKEN1, strlen(TOKEN1));
    assert_non_null(k);
    assert_string_equal(k->name, "ws 3");
    assert_null(auth_by_token(t, "secret-token-2", 14));
    assert_null(auth_by_token(t, TOKEN1, strlen(TOKEN1) - 1));
    assert_null(auth_by_token(t, TOKEN1_SHA, 64)); /* the hash is not the token */
    assert_null(auth_by_token(t, "", 0));

    assert_string_equal(auth_by_ae(t, "GW_B")->institution, "H37010002");
    assert_null(auth_by_ae(t, "GW_C"));
    assert_null(auth_by_ae(t, NULL));
    /* a client may call with several AE titles (DICOM TLS checks the one it calls with) */
    config_client multi = {.ae_title = "CT1 CT1_Q,  CT1_R"};
    assert_true(auth_client_has_ae(&multi, "CT1"));
    assert_true(auth_client_has_ae(&multi, "CT1_Q"));
    assert_true(auth_client_has_ae(&multi, "CT1_R"));
    assert_false(auth_client_has_ae(&multi, "CT"));
    assert_false(auth_client_has_ae(&multi, "CT1_"));
    assert_false(auth_client_has_ae(&multi, ""));
    assert_false(auth_client_has_ae(&multi, NULL));
    assert_false(auth_client_has_ae(NULL, "CT1"));
    auth_table_free(t);
    config_free(&c);
    auth_table_free(NULL);
}

static void test_roles(void **state)
{
    (void)state;
    assert_int_equal(auth_role_bit("clinician"), HTTP_ROLE_CLINICIAN);
    assert_int_equal(auth_role_bit("admin"), HTTP_ROLE_ADMIN);
    assert_int_equal(auth_role_bit("operator"), HTTP_ROLE_OPERATOR);
    assert_string_equal(auth_role_name(HTTP_ROLE_OPERATOR), "operator");
    assert_int_equal(auth_role_bit("nurse"), 0);
    assert_int_equal(auth_role_bit(NULL), 0);
    assert_string_equal(auth_role_name(HTTP_ROLE_INSURER), "insurer");
    assert_string_equal(auth_role_name(HTTP_ROLES_ALL), "all");
    assert_string_equal(auth_role_name(0), "");
    assert_true(auth_dn_equal("/C=CN/CN=a", "CN=a, C=CN"));
    assert_false(auth_dn_equal("CN=a", "CN=b"));
    assert_false(auth_dn_equal("not a dn", "not a dn"));
}

static void expect_error(const char *text, const char *needle, int at_load)
{
    config c;
    char err[HUREN_ERRLEN] = "";
    config_defaults(&c);
    char *path = write_conf(text);
    int rc = config_load(&c, path, err, sizeof err);
    unlink(path);
    if (at_load) {
        assert_int_equal(rc, -1);
    } else {
        assert_int_equal(rc, 0);
        assert_int_equal(config_validate(&c, err, sizeof err), -1);
    }
    if (!strstr(err, needle))
        fail_msg("expected \"%s\" in \"%s\"", needle, err);
    config_free(&c);
}

static void test_bad_clients(void **state)
{
    (void)state;
    expect_error("[client \"x\"]\nrole = nurse\n", ":2: [client \"x\"] role", 1);
    expect_error("[client \"x\"]\ntoken_sha256 = 12ab\n", "64 hex digits", 1);
    expect_error("[client \"x\"]\ntoken_sha256 = " TOKEN1_SHA "x\n", "64 hex digits", 1);
    expect_error("[client \"x\"]\nae_title = A\\B\n", "not an AE title", 1);
    expect_error("[client \"x\"]\nae_title = CT1 THIS_IS_SEVENTEEN\n", "not an AE title", 1);
    expect_error("[client x]\nrole = admin\n", "[client \"NAME\"]", 1);
    expect_error("[client \"\"]\nrole = admin\n", "[client \"NAME\"]", 1);
    expect_error("[clientele]\nrole = admin\n", "[clientele]: unknown section", 1);
    expect_error("[client \"x\"]\nfoo = 1\n", "unknown key", 1);
    expect_error("[client \"x\"]\nrole = admin\ninstitution = H\n", "needs subject", 0);
    expect_error("[client \"x\"]\nrole = admin\nae_title = CT\n", "needs institution", 0);
    expect_error("[client \"x\"]\ninstitution = H\nae_title = CT\n", "needs role", 0);
    expect_error("[client \"x\"]\nrole = admin\ninstitution = H\nsubject = CN=a\n", "tls_client_ca",
                 0);
    expect_error("[client \"a\"]\nrole = admin\ninstitution = H\ntoken_sha256 = " TOKEN1_SHA
                 "\n[client \"b\"]\nrole = peer\ninstitution = H\ntoken_sha256 = " TOKEN1_SHA "\n",
                 "one token", 0);
    /* an unparseable subject is refused when the table is built (at start) */
    config c;
    load(&c, "[http]\ntls_cert = a\ntls_key = b\ntls_client_ca = c\n"
             "[client \"x\"]\nrole = admin\ninstitution = H\nsubject = no equals sign\n");
    auth_table *t;
    char err[HUREN_ERRLEN];
    assert_int_equal(auth_table_build(&c, &t, err, sizeof err), -1);
    assert_null(t);
    assert_non_null(strstr(err, "not a distinguished name"));
    config_free(&c);
}

int main(int argc, char **argv)
{
    unit_filter(argc, argv);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_clients_parsed),
        cmocka_unit_test(test_lookups),
        cmocka_unit_test(test_roles),
        cmocka_unit_test(test_bad_clients),
    };
    return cmocka_run_group_tests_name("access", tests, NULL, NULL);
}

/* test_config.c: the configuration table: defaults, each kind of bad value reported with its
 * file and line, flag overrides through config_set, and the cross-key checks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include "../unit_filter.h"
#include "huren_err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"

static char *write_conf(const char *text)
{
    static char path[64];
    snprintf(path, sizeof path, "/tmp/huren-test-conf-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return path;
}

static void test_defaults(void **state)
{
    (void)state;
    config c;
    assert_int_equal(config_defaults(&c), 0);
    assert_int_equal(c.role, CONFIG_ROLE_HOSPITAL);
    assert_string_equal(config_choice_name("node", "role", (int)c.role), "hospital");
    assert_int_equal(c.duplicates, CONFIG_DUPLICATES_KEEP);
    assert_int_equal(c.tls_client_verify, CONFIG_VERIFY_NONE);
    assert_int_equal(c.dir_hr_scope, CONFIG_HR_NONE);
    assert_int_equal(c.log_level, LOG_LEVEL_INFO);
    assert_string_equal(c.data_dir, "./var");
    assert_string_equal(c.aet, "HUREN");
    assert_string_equal(c.bind_address, "127.0.0.1");
    assert_int_equal(c.dicom_port, 11112);
    assert_int_equal(c.http_port, 8080);
    assert_int_equal(c.hl7_port, 2575);
    assert_int_equal(c.fsync, 1);
    assert_null(c.path);
    char err[HUREN_ERRLEN];
    assert_int_equal(config_validate(&c, err, sizeof err), 0);
    config_free(&c);
}

static void expect_load_error(const char *text, const char *needle)
{
    config c;
    config_defaults(&c);
    char *path = write_conf(text);
    char err[HUREN_ERRLEN];
    assert_int_equal(config_load(&c, path, err, sizeof err), -1);
    if (!strstr(err, needle))
        fail_msg("expected \"%s\" in \"%s\"", needle, err);
    unlink(path);
    config_free(&c);
}

static void test_bad_values_name_file_line_key(void **state)
{
    (void)state;
    expect_load_error("[dicom]\nport = 70000\n", ":2: [dicom] port");
    expect_load_error("\n\n[dicom]\nport = 12ab\n", ":4: [dicom] port");
    expect_load_error("[node]\nrole = pharmacy\n", "[node] role: \"pharmacy\" is not one of");
    expect_load_error("[dicom]\naet = A\\B\n", "[dicom] aet");
    expect_load_error("[dicom]\naet = THIS_IS_SEVENTEEN\n", "[dicom] aet");
    expect_load_error("[archive]\nfsync = maybe\n", "[archive] fsync");
    expect_load_error("[node]\nbind_address = localhost\n", "numeric");
    expect_load_error("[nodes]\nrole = hospital\n",
                      "[nodes]: unknown section (did you mean [node]?)");
    expect_load_error("[dicom_aes]\nPACS = 10.0.0.1\n", "host:port");
    expect_load_error("[dicom_aes]\nPACS = 10.0.0.1:0\n", "host:port");
    expect_load_error("this is not ini\n", ":1:");
    /* the first mistake is the one reported */
    expect_load_error("[dicom]\nport = x\nmax_pdu = 1\n", ":2: [dicom] port");
}

static void test_file_then_flags(void **state)
{
    (void)state;
    config c;
    config_defaults(&c);
    char *path = write_conf("; comment\n[dicom]\naet = PACSGW\nport = 104\n"
                            "[dicom_aes]\nSTORESCP = 127.0.0.1:11113\nPACS = ::1:104\n");
    char err[HUREN_ERRLEN];
    assert_int_equal(config_load(&c, path, err, sizeof err), 0);
    assert_string_equal(c.aet, "PACSGW");
    assert_int_equal(c.dicom_port, 104);
    assert_int_equal(config_set(&c, "dicom", "port", "4242", err, sizeof err), 0);
    assert_int_equal(c.dicom_port, 4242);
    const config_ae *ae = config_find_ae(&c, "STORESCP");
    assert_non_null(ae);
    assert_string_equal(ae->host, "127.0.0.1");
    assert_int_equal(ae->port, 11113);
    ae = config_find_ae(&c, "PACS");
    assert_non_null(ae);
    assert_string_equal(ae->host, "::1");
    assert_null(config_find_ae(&c, "NOPE"));
    unlink(path);
    config_free(&c);
}

static void test_validate(void **state)
{
    (void)state;
    config c;
    char err[HUREN_ERRLEN];
    config_defaults(&c);
    assert_int_equal(config_set(&c, "node", "bind_address", "0.0.0.0", err, sizeof err), 0);
    assert_int_equal(config_validate(&c, err, sizeof err), -1);
    assert_non_null(strstr(err, "requires TLS"));
    config_set(&c, "http", "tls_cert", "/etc/cert.pem", err, sizeof err);
    assert_int_equal(config_validate(&c, err, sizeof err), -1); /* key missing */
    config_set(&c, "http", "tls_key", "/etc/key.pem", err, sizeof err);
    assert_int_equal(config_validate(&c, err, sizeof err), 0);
    config_set(&c, "http", "tls_client_verify", "require", err, sizeof err);
    assert_int_equal(c.tls_client_verify, CONFIG_VERIFY_REQUIRE);
    assert_int_equal(config_validate(&c, err, sizeof err), -1);
    assert_non_null(strstr(err, "tls_client_verify = require needs tls_client_ca"));
    config_free(&c);

    /* every listed key stores its position, and its name reads back as written */
    config_defaults(&c);
    const char *listed[][3] = {{"node", "role", "directory"},
                               {"node", "log_level", "debug"},
                               {"dicom", "duplicates", "replace"},
                               {"http", "tls_client_verify", "optional"},
                               {"directory", "hr_scope", "province"}};
    for (size_t i = 0; i < sizeof listed / sizeof listed[0]; i++)
        assert_int_equal(config_set(&c, listed[i][0], listed[i][1], listed[i][2], err, sizeof err),
                         0);
    assert_int_equal(c.role, CONFIG_ROLE_DIRECTORY);
    assert_int_equal(c.log_level, LOG_LEVEL_DEBUG);
    assert_int_equal(c.duplicates, CONFIG_DUPLICATES_REPLACE);
    assert_int_equal(c.tls_client_verify, CONFIG_VERIFY_OPTIONAL);
    assert_int_equal(c.dir_hr_scope, CONFIG_HR_PROVINCE);
    assert_string_equal(config_choice_name("directory", "hr_scope", (int)c.dir_hr_scope),
                        "province");
    assert_string_equal(config_choice_name("dicom", "port", 0), "?");
    assert_string_equal(config_choice_name("node", "role", 7), "?");
    assert_int_equal(config_set(&c, "dicom", "duplicates", "merge", err, sizeof err), -1);
    assert_non_null(strstr(err, "is not one of keep|replace"));
    assert_int_equal(c.duplicates, CONFIG_DUPLICATES_REPLACE); /* a refused value changes nothing */
    config_free(&c);

    config_defaults(&c);
    config_set(&c, "http", "port", "11112", err, sizeof err);
    assert_int_equal(config_validate(&c, err, sizeof err), -1);
    assert_non_null(strstr(err, "two services"));
    config_free(&c);

    assert_true(config_is_loopback("127.0.0.1"));
    assert_true(config_is_loopback("127.1.2.3"));
    assert_true(config_is_loopback("::1"));
    assert_false(config_is_loopback("10.0.0.1"));
    assert_false(config_is_loopback("::"));
}

/* [directory] store and the PostgreSQL keys: defaults, choices, a DSN that must parse and
 * must not carry a password (never echoed). */
static void test_directory_store(void **state)
{
    (void)state;
    config c;
    char err[HUREN_ERRLEN];
    config_defaults(&c);
    assert_int_equal(c.dir_store, CONFIG_DIR_STORE_SQLITE);
    assert_string_equal(config_choice_name("directory", "store", (int)c.dir_store), "sqlite");
    assert_int_equal(c.dir_pool, 8);
    assert_int_equal(c.dir_statement_timeout, 5000);
    assert_int_equal(config_set(&c, "directory", "store", "postgresql", err, sizeof err), 0);
    assert_int_equal(config_validate(&c, err, sizeof err), -1);
    assert_non_null(strstr(err, "store = postgresql needs dsn"));
    config_set(&c, "directory", "dsn", "host=db1,db2 dbname=huren user=huren password=hunter2", err,
               sizeof err);
    assert_int_equal(config_validate(&c, err, sizeof err), -1);
    assert_non_null(strstr(err, "[directory] dsn: a password is not allowed"));
    assert_null(strstr(err, "hunter2"));
    config_set(&c, "directory", "dsn", "host=db1,db2 dbname=huren target_session_attrs=read-write",
               err, sizeof err);
    assert_int_equal(config_validate(&c, err, sizeof err), 0);
    config_set(&c, "directory", "read_dsn", "host='db2", err, sizeof err);
    assert_int_equal(config_validate(&c, err, sizeof err), -1);
    assert_non_null(strstr(err, "[directory] read_dsn: not a PostgreSQL connection string"));
    assert_int_equal(config_set(&c, "directory", "pool", "0", err, sizeof err), -1);
    assert_int_equal(config_set(&c, "directory", "store", "mysql", err, sizeof err), -1);
    assert_non_null(strstr(err, "sqlite|postgresql"));
    config_free(&c);
}

static void collect_problem(void *ctx, int warning, const char *line)
{
    char *buf = ctx;
    if (!warning)
        snprintf(buf + strlen(buf), HUREN_ERRLEN * 4 - strlen(buf), "%s\n", line);
}

/* [dicom] tls_*: the keys checked together by config_validate(), the files with every other
 * certificate by config_check_files() (test PKI of conf/). */
static void expect_tls_error(config *c, const char *needle)
{
    char err[HUREN_ERRLEN * 4] = "";
    if (config_validate(c, err, HUREN_ERRLEN) == 0)
        assert_true(config_check_files(c, time(NULL), collect_problem, err) > 0);
    if (!strstr(err, needle))
        fail_msg("expected \"%s\" in \"%s\"", needle, err);
}

static void test_dicom_tls(void **state)
{
    (void)state;
    config c;
    char err[HUREN_ERRLEN], dir[] = "/tmp/huren-test-pki-XXXXXX", cmd[600], v[600];
    assert_non_null(mkdtemp(dir));
    snprintf(cmd, sizeof cmd, "bash '%s/conf/make-test-pki.sh' '%s/pki' >/dev/null",
             HUREN_SOURCE_DIR, dir);
    assert_int_equal(system(cmd), 0);
    config_defaults(&c);
    assert_int_equal(c.dicom_tls_port, 0); /* no TLS port by default */
    assert_int_equal(c.dicom_tls_require_client_cert, 1);
    snprintf(v, sizeof v, "%s/pki/server.crt", dir);
    config_set(&c, "dicom", "tls_cert", v, err, sizeof err);
    expect_tls_error(&c, "[dicom] tls_cert: set, but tls_port is not");
    config_set(&c, "dicom", "tls_port", "11112", err, sizeof err);
    expect_tls_error(&c, "[dicom] tls_port: port 11112 is used by another service");
    config_set(&c, "dicom", "tls_port", "2762", err, sizeof err);
    expect_tls_error(&c, "[dicom] tls_key: tls_port 2762 needs tls_cert and tls_key");
    snprintf(v, sizeof v, "%s/pki/server.key", dir);
    config_set(&c, "dicom", "tls_key", v, err, sizeof err);
    expect_tls_error(&c, "[dicom] tls_client_ca: client certificates are required");
    config_set(&c, "dicom", "tls_require_client_cert", "no", err, sizeof err);
    assert_int_equal(config_validate(&c, err, sizeof err), 0);
    snprintf(v, sizeof v, "%s/pki/missing.crt", dir);
    config_set(&c, "dicom", "tls_client_ca", v, err, sizeof err);
    expect_tls_error(&c, "missing.crt: No such file or directory");
    snprintf(v, sizeof v, "%s/pki/ca.crt", dir);
    config_set(&c, "dicom", "tls_client_ca", v, err, sizeof err);
    config_set(&c, "dicom", "tls_require_client_cert", "yes", err, sizeof err);
    assert_int_equal(config_validate(&c, err, sizeof err), 0);
    snprintf(v, sizeof v, "%s/pki/admin.key", dir);
    config_set(&c, "dicom", "tls_key", v, err, sizeof err);
    expect_tls_error(&c, "[dicom] tls_key: ");
    expect_tls_error(&c, "admin.key is not the key of ");
    config_free(&c);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

int main(int argc, char **argv)
{
    unit_filter(argc, argv);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_bad_values_name_file_line_key),
        cmocka_unit_test(test_file_then_flags),
        cmocka_unit_test(test_validate),
        cmocka_unit_test(test_directory_store),
        cmocka_unit_test(test_dicom_tls),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

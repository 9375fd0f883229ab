/* test_identity.c: resident ID numbers: valid ones (with full-width digits, lowercase x,
 * spaces), the 15-to-18 upgrade, foreign permanent-residence IDs, each kind of error with its
 * reason, and the pseudonym checked against an HMAC computed independently (Python's hmac). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include "../unit_filter.h"

#include <string.h>

#include "identity.h"

static void expect_ok(const char *in, const char *want, identity_type want_type)
{
    char out[IDENTITY_ID_LEN + 1], err[128] = "";
    identity_type t;
    if (identity_normalise(in, out, &t, err, sizeof err) != 0)
        fail_msg("%s: %s", in ? in : "(NULL)", err);
    assert_string_equal(out, want);
    assert_int_equal(t, want_type);
}

static void expect_err(const char *in, const char *needle)
{
    char out[IDENTITY_ID_LEN + 1], err[128] = "";
    identity_type t;
    assert_int_equal(identity_normalise(in, out, &t, err, sizeof err), -1);
    if (!strstr(err, needle))
        fail_msg("%s: expected \"%s\" in \"%s\"", in ? in : "(NULL)", needle, err);
}

static void test_valid_and_normalised(void **state)
{
    (void)state;
    expect_ok("11010519491231002X", "11010519491231002X", IDENTITY_RESIDENT);
    expect_ok("11010519491231002x", "11010519491231002X", IDENTITY_RESIDENT);
    expect_ok("370102 19800101 1237", "370102198001011237", IDENTITY_RESIDENT);
    /* full-width digits and a full-width x, as typed with a Chinese input method */
    expect_ok("\xef\xbc\x93\xef\xbc\x97\xef\xbc\x90\xef\xbc\x92\xef\xbc\x90\xef\xbc\x92"
              "198512314569",
              "370202198512314569", IDENTITY_RESIDENT);
    expect_ok("11010519491231002\xef\xbd\x98", "11010519491231002X", IDENTITY_RESIDENT);
    /* legacy 15 digits: 19 inserted, check character added */
    expect_ok("110105491231002", "11010519491231002X", IDENTITY_RESIDENT);
    expect_ok("931100199001010012", "931100199001010012", IDENTITY_FOREIGN);
}

/* The HL7 feed had its own check (digits and the MOD 11-2 character only) and took ids the
 * publisher then refused; it now uses identity_normalise. Ids on both sides of every place the
 * two rules differed: */
static void test_one_rule_for_the_hl7_feed(void **state)
{
    (void)state;
    /* right check character, but what the old HL7 check never looked at is wrong: refused */
    expect_err("110105194913310021", "birth date 19491331"); /* month 13 */
    expect_err("110105194902290029", "birth date 19490229"); /* no leap day in 1949 */
    expect_err("110105300001010022", "birth date");          /* born in the future */
    expect_err("110105189912310023", "birth date");          /* before 1900 */
    expect_err("010105194912310026", "region code");         /* no region starts with 0 */
    /* legacy 15 digits: the old check took any 15 digits; now the upgraded id must be real */
    expect_err("110105491331002", "birth date 19491331");
    expect_err("010105491231002", "region code");
    expect_ok("110105491231002", "11010519491231002X", IDENTITY_RESIDENT);
    expect_err("11010549123100X", "15-character ID number must be all digits");
    /* the same ids just inside the rule: accepted */
    expect_ok("110105200002290021", "110105200002290021", IDENTITY_RESIDENT); /* 2000: leap */
    expect_ok("11010519491231002x", "11010519491231002X", IDENTITY_RESIDENT); /* x as X */
    /* separators the old check refused (strlen != 18), as senders type them: accepted */
    expect_ok(" 11010519491231002X ", "11010519491231002X", IDENTITY_RESIDENT);
    expect_ok("110105-19491231-002X", "11010519491231002X", IDENTITY_RESIDENT);
    expect_ok("110105\t19491231002X", "11010519491231002X", IDENTITY_RESIDENT);
    /* lengths on both sides of 15 and 18 */
    expect_err("11010549123100", "14 characters");
    expect_err("1101054912310021", "16 characters");
    expect_err("11010519491231002", "17 characters");
    expect_err("11010519491231002X0", "19 characters");
    /* the check character itself, both rules: wrong is refused */
    expect_err("11010519491231002Y", "check character must be a digit or X");
    expect_err("110105194912310020", "check character is 0, expected X");
}

static void test_errors_name_the_problem(void **state)
{
    (void)state;
    expect_err("110105194912310021", "check character is 1, expected X");
    expect_err("1101051949123100", "16 characters");
    expect_err("11010519491331002X", "birth date 19491331");
    expect_err("11010519490229002X", "birth date 19490229"); /* 1949 is no leap year */
    expect_err("11010530000101002X", "birth date");          /* the future */
    expect_err("A1010519491231002X", "first 17");
    expect_err("11010519491231002Y", "check character must be a digit or X");
    expect_err("01010519491231002X", "region code");
    expect_err("11010519491231002\xe7\x8e\x8b", "digits and X");
    expect_err("", "0 characters");
    expect_err(NULL, "no ID number");
    expect_err("11010549123100X", "all digits");
}

static void test_check_char(void **state)
{
    (void)state;
    assert_int_equal(identity_check_char("11010519491231002"), 'X');
    assert_int_equal(identity_check_char("37010219800101123"), '7');
    assert_int_equal(identity_check_char("93110019900101001"), '2');
}

static void test_pseudonym(void **state)
{
    (void)state;
    char p[IDENTITY_PSEUDONYM_HEX + 1], q[IDENTITY_PSEUDONYM_HEX + 1];
    const unsigned char key[] = "region-key";
    assert_int_equal(identity_pseudonym(key, 10, IDENTITY_RESIDENT, "11010519491231002X", p), 0);
    /* python3 -c "import hmac,hashlib; print(hmac.new(b'region-key',
     *   b'CN-ID|11010519491231002X', hashlib.sha256).hexdigest())" */
    assert_string_equal(p, "fd5136998fcf44196d1078143c09e806828fd404fd29983f562c0ccebc473c10");
    assert_int_equal(identity_pseudonym(key, 10, IDENTITY_FOREIGN, "11010519491231002X", q), 0);
    assert_string_not_equal(p, q); /* the type is part of the input */
    const unsigned char other[] = "other-key";
    assert_int_equal(identity_pseudonym(other, 9, IDENTITY_RESIDENT, "11010519491231002X", q), 0);
    assert_string_not_equal(p, q);
    assert_int_equal(identity_pseudonym(key, 0, IDENTITY_RESIDENT, "11010519491231002X", q), -1);
}

int main(int argc, char **argv)
{
    unit_filter(argc, argv);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_and_normalised),
        cmocka_unit_test(test_errors_name_the_problem),
        cmocka_unit_test(test_one_rule_for_the_hl7_feed),
        cmocka_unit_test(test_check_char),
        cmocka_unit_test(test_pseudonym),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

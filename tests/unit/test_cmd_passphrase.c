/* test_cmd_passphrase.c: cmd/passphrase.c reading a --passphrase-file: which
 * line end is stripped (one "\r\n", "\n" or "\r", so that a file gives the
 * key the same passphrase typed at the prompt gives), what is refused (a
 * second line, a CR or NUL inside, an empty passphrase, more than
 * CMD_PASSPHRASE_MAX bytes), and that the file wins over the environment. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include "cmd.h"
#include "testfs.h"

static char dir[64];

static void setup(void)
{
    snprintf(dir, sizeof(dir), "/tmp/test_cmd_passphrase.XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    unsetenv("SIGNET_ROOT_PASSPHRASE");
}

static void teardown(void)
{
    testfs_rmtree(dir);
}

TestSuite(cmd_passphrase, .init = setup, .fini = teardown);

/* write_file writes |len| bytes of |data| to a file in |dir| and returns its path. */
static const char *write_file(const char *data, size_t len)
{
    static char path[128];

    cr_assert(snprintf(path, sizeof(path), "%s/pass", dir) < (int)sizeof(path));
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(data, 1, len, f), len);
    cr_assert_eq(fclose(f), 0);
    return path;
}

/* read_back runs cmd_passphrase_get on a file holding |len| bytes of |data|.
 * It returns its result; on success |*out| holds the passphrase. */
static int read_back(const char *data, size_t len, char **out, size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    return cmd_passphrase_get("test", write_file(data, len), 0, out, out_len);
}

/* Fixed-size arrays: ParameterizedTest copies the parameters into the test's
 * process (STYLE.md 12). */
struct content {
    char data[16];
    size_t len;
};

static struct content accepted[] = {
    {"secret", 6},          /* no line end */
    {"secret\n", 7},        /* echo, Unix editors */
    {"secret\r\n", 8},      /* Windows editors */
    {"secret\r", 7},        /* a bare CR: old Mac line end, a CRLF file cut short */
    {"pass word\t!\n", 12}, /* blanks inside are kept */
};

ParameterizedTestParameters(cmd_passphrase, strips_one_line_end)
{
    return cr_make_param_array(struct content, accepted, sizeof(accepted) / sizeof(accepted[0]));
}

/* The passphrase is the first line: the same as typed at the prompt, where
 * Return ends the line and is never part of it. */
ParameterizedTest(struct content *c, cmd_passphrase, strips_one_line_end)
{
    char *pass = NULL;
    size_t len = 0;
    size_t want = strcspn(c->data, "\r\n");

    cr_assert_eq(read_back(c->data, c->len, &pass, &len), 0);
    cr_assert_eq(len, want);
    cr_assert_eq(memcmp(pass, c->data, want), 0);
    cr_assert_eq(pass[len], '\0');
    cmd_passphrase_free(pass);
}

static struct content refused[] = {
    {"secret\n\n", 8},      /* a second, empty line */
    {"secret\r\n\r\n", 10}, /* the same, from Windows */
    {"secret\r\r", 8},      /* a CR left after stripping one */
    {"secret\n\r", 8},      /* LF then CR: two line ends */
    {"sec\nret", 7},        /* two lines */
    {"sec\rret", 7},        /* two lines, old Mac style */
    {"sec\0ret", 7},        /* a NUL inside */
    {"", 0},                /* empty */
    {"\n", 1},              /* empty after the line end */
    {"\r\n", 2},            /* empty after the line end */
    {"\r", 1},              /* empty after the line end */
};

ParameterizedTestParameters(cmd_passphrase, refuses_anything_but_one_nonempty_line)
{
    return cr_make_param_array(struct content, refused, sizeof(refused) / sizeof(refused[0]));
}

ParameterizedTest(struct content *c, cmd_passphrase, refuses_anything_but_one_nonempty_line)
{
    char *pass = NULL;
    size_t len = 0;

    cr_assert_eq(read_back(c->data, c->len, &pass, &len), -1);
    cr_assert_null(pass);
}

/* The longest passphrase fits with either line end. */
Test(cmd_passphrase, takes_the_longest_passphrase_with_any_line_end)
{
    static const char *const ends[] = {"", "\n", "\r\n", "\r"};
    char data[CMD_PASSPHRASE_MAX + 2];

    memset(data, 'x', CMD_PASSPHRASE_MAX);
    for (size_t i = 0; i < sizeof(ends) / sizeof(ends[0]); i++) {
        char *pass = NULL;
        size_t len = 0;
        size_t end_len = strlen(ends[i]);
        memcpy(data + CMD_PASSPHRASE_MAX, ends[i], end_len);
        cr_assert_eq(read_back(data, CMD_PASSPHRASE_MAX + end_len, &pass, &len), 0, "end %zu", i);
        cr_assert_eq(len, CMD_PASSPHRASE_MAX);
        cmd_passphrase_free(pass);
    }
}

Test(cmd_passphrase, refuses_a_passphrase_one_byte_too_long)
{
    static const char *const ends[] = {"", "\n", "\r\n", "\r"};
    char data[CMD_PASSPHRASE_MAX + 3];

    memset(data, 'x', CMD_PASSPHRASE_MAX + 1);
    for (size_t i = 0; i < sizeof(ends) / sizeof(ends[0]); i++) {
        char *pass = NULL;
        size_t len = 0;
        size_t end_len = strlen(ends[i]);
        memcpy(data + CMD_PASSPHRASE_MAX + 1, ends[i], end_len);
        cr_assert_eq(read_back(data, CMD_PASSPHRASE_MAX + 1 + end_len, &pass, &len), -1, "end %zu",
                     i);
        cr_assert_null(pass);
    }
}

Test(cmd_passphrase, refuses_a_missing_file)
{
    char *pass = NULL;
    size_t len = 0;
    char path[128];

    cr_assert(snprintf(path, sizeof(path), "%s/absent", dir) < (int)sizeof(path));
    cr_assert_eq(cmd_passphrase_get("test", path, 0, &pass, &len), -1);
    cr_assert_null(pass);
}

/* The environment's passphrase is taken as it is; the file, when given, wins. */
Test(cmd_passphrase, prefers_the_file_to_the_environment)
{
    char *pass = NULL;
    size_t len = 0;

    cr_assert_eq(setenv("SIGNET_ROOT_PASSPHRASE", "from env", 1), 0);
    cr_assert_eq(read_back("from file\r", 10, &pass, &len), 0);
    cr_assert_eq(len, 9);
    cr_assert_str_eq(pass, "from file");
    cmd_passphrase_free(pass);
    cr_assert_eq(cmd_passphrase_get("test", NULL, 0, &pass, &len), 0);
    cr_assert_str_eq(pass, "from env");
    cmd_passphrase_free(pass);
}

/* passphrase.c: the root key's passphrase, from a file, the environment or
 * the terminal, never from the command line (where ps and shell history would
 * show it). Buffers are fixed-size and cleansed when freed. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "cmd.h"

#define ENV_NAME "SIGNET_ROOT_PASSPHRASE"
/* A passphrase file holds the longest passphrase and a line end ("\r\n" at
 * most); the buffer adds a terminating NUL. */
#define FILE_MAX (CMD_PASSPHRASE_MAX + 2)
#define BUF_LEN  (FILE_MAX + 1)

/* The one mutable static: a signal handler can only talk through such a flag.
 * It lets a prompt interrupted by ^C restore the terminal's echo first. */
static volatile sig_atomic_t caught_signal;

static void on_signal(int sig)
{
    caught_signal = sig;
}

static const int prompt_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGTSTP};
#define NUM_PROMPT_SIGNALS (sizeof(prompt_signals) / sizeof(prompt_signals[0]))

void cmd_passphrase_free(char *passphrase)
{
    OPENSSL_clear_free(passphrase, BUF_LEN);
}

/* read_all reads up to |cap| bytes from |fd| into |buf|; it returns the count,
 * cap + 1 when there was more, or -1. */
static ssize_t read_all(int fd, char *buf, size_t cap)
{
    size_t len = 0;
    char extra = 0;

    while (len < cap) {
        ssize_t n = read(fd, buf + len, cap - len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            return -1;
        }
        if (n == 0) {
            return (ssize_t)len;
        }
        len += (size_t)n;
    }
    ssize_t n;
    do {
        n = read(fd, &extra, 1);
    } while (n < 0 && errno == EINTR);
    OPENSSL_cleanse(&extra, 1);
    return n == 0 ? (ssize_t)len : (ssize_t)cap + 1;
}

/* line_length is the length of the |len| bytes at |buf| without one line
 * end: "\r\n", "\n" or a lone "\r". `echo` and Unix editors end the line with
 * "\n", Windows ones with "\r\n", and a file can end in a bare "\r" (old Mac
 * line ends, or a CRLF file cut short). None of them can be part of a
 * passphrase typed at the prompt, where the terminal turns Return (CR) into
 * the end of the line: stripping only "\n" and "\r\n" made such a file give
 * another key than the same passphrase typed. */
static size_t line_length(const char *buf, size_t len)
{
    if (len > 0 && buf[len - 1] == '\n') {
        len--;
    }
    if (len > 0 && buf[len - 1] == '\r') {
        len--;
    }
    return len;
}

static int from_file(const char *cmd, const char *path, char *buf, size_t *out_len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

    if (fd < 0) {
        cmd_fail(cmd, "cannot open passphrase file %s: %s", path, strerror(errno));
        return -1;
    }
    ssize_t n = read_all(fd, buf, FILE_MAX);
    close(fd);
    if (n < 0) {
        cmd_fail(cmd, "cannot read passphrase file %s", path);
        return -1;
    }
    size_t len = (size_t)n > FILE_MAX ? (size_t)n : line_length(buf, (size_t)n);
    if (len > CMD_PASSPHRASE_MAX) {
        cmd_fail(cmd, "passphrase file %s holds more than %d bytes", path, CMD_PASSPHRASE_MAX);
        return -1;
    }
    /* What is left must be one line that could be typed: a second line end
     * (CR included) or a NUL means the file is not what the holder thinks. */
    if (memchr(buf, '\n', len) != NULL || memchr(buf, '\r', len) != NULL ||
        memchr(buf, '\0', len) != NULL) {
        cmd_fail(cmd, "passphrase file %s must hold a single line", path);
        return -1;
    }
    buf[len] = '\0';
    *out_len = len;
    return 0;
}

/* read_hidden prompts on the terminal |fd| and reads one line with echo off.
 * Returns the length, -1 on error, -2 when too long, or -3 when a signal came
 * (re-raised by the caller once the terminal is restored). */
static ssize_t read_hidden(int fd, const char *prompt, char *buf)
{
    struct termios saved;
    struct termios quiet;
    struct sigaction act;
    struct sigaction old[NUM_PROMPT_SIGNALS];
    size_t len = 0;
    int too_long = 0;
    ssize_t ret = -1;

    if (tcgetattr(fd, &saved) != 0) {
        return -1;
    }
    memset(&act, 0, sizeof(act));
    act.sa_handler = on_signal; /* no SA_RESTART: read() returns EINTR */
    sigemptyset(&act.sa_mask);
    caught_signal = 0;
    for (size_t i = 0; i < NUM_PROMPT_SIGNALS; i++) {
        sigaction(prompt_signals[i], &act, &old[i]);
    }
    quiet = saved;
    quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHOE | ECHOK | ECHONL);
    if (tcsetattr(fd, TCSANOW, &quiet) != 0) {
        goto restore;
    }
    if (write(fd, prompt, strlen(prompt)) < 0) {
        goto restore;
    }
    for (;;) {
        char c = 0;
        ssize_t n = read(fd, &c, 1);
        if (n < 0 && errno == EINTR && caught_signal == 0) {
            continue;
        }
        if (n < 0 || caught_signal != 0) {
            goto restore;
        }
        if (n == 0 || c == '\n') {
            break;
        }
        if (len < CMD_PASSPHRASE_MAX) {
            buf[len++] = c;
        } else {
            too_long = 1;
        }
        OPENSSL_cleanse(&c, 1);
    }
    buf[len] = '\0';
    ret = too_long ? -2 : (ssize_t)len;
restore:
    tcsetattr(fd, TCSANOW, &saved);
    if (write(fd, "\n", 1) < 0) {
        ret = -1;
    }
    for (size_t i = 0; i < NUM_PROMPT_SIGNALS; i++) {
        sigaction(prompt_signals[i], &old[i], NULL);
    }
    if (caught_signal != 0) {
        ret = -3;
    }
    return ret;
}

static int from_tty(const char *cmd, int confirm, char *buf, size_t *out_len)
{
    int rc = -1;
    char *again = NULL;
    int fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);

    if (fd < 0) {
        cmd_fail(cmd, "no passphrase: use --passphrase-file or set %s (no terminal to ask on)",
                 ENV_NAME);
        return -1;
    }
    ssize_t n = read_hidden(fd, "Root key passphrase: ", buf);
    if (n >= 0 && confirm) {
        again = OPENSSL_zalloc(BUF_LEN);
        ssize_t m = again == NULL ? -1 : read_hidden(fd, "Root key passphrase (again): ", again);
        if (m < 0) {
            n = m;
        } else if (m != n || CRYPTO_memcmp(buf, again, (size_t)n) != 0) {
            cmd_fail(cmd, "the two passphrases differ");
            goto out;
        }
    }
    if (n == -3) {
        int sig = caught_signal;
        OPENSSL_cleanse(buf, BUF_LEN);
        cmd_passphrase_free(again);
        close(fd);
        raise(sig); /* with the terminal back as it was */
        return -1;
    }
    if (n == -2) {
        cmd_fail(cmd, "passphrase longer than %d bytes", CMD_PASSPHRASE_MAX);
        goto out;
    }
    if (n < 0) {
        cmd_fail(cmd, "cannot read the passphrase from the terminal");
        goto out;
    }
    *out_len = (size_t)n;
    rc = 0;
out:
    cmd_passphrase_free(again);
    close(fd);
    return rc;
}

int cmd_passphrase_get(const char *cmd, const char *file, int confirm, char **out, size_t *out_len)
{
    char *buf = OPENSSL_zalloc(BUF_LEN);
    size_t len = 0;
    int rc = -1;

    if (buf == NULL) {
        cmd_fail(cmd, "out of memory");
        return -1;
    }
    const char *env = getenv(ENV_NAME);
    if (file != NULL) {
        rc = from_file(cmd, file, buf, &len);
    } else if (env != NULL) {
        len = strlen(env);
        if (len > CMD_PASSPHRASE_MAX) {
            cmd_fail(cmd, "%s holds more than %d bytes", ENV_NAME, CMD_PASSPHRASE_MAX);
        } else {
            memcpy(buf, env, len);
            rc = 0;
        }
    } else {
        rc = from_tty(cmd, confirm, buf, &len);
    }
    if (rc == 0 && len == 0) {
        cmd_fail(cmd, "an empty passphrase is not allowed");
        rc = -1;
    }
    if (rc != 0) {
        cmd_passphrase_free(buf);
        return -1;
    }
    *out = buf;
    *out_len = len;
    return 0;
}

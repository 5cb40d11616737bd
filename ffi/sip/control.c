/*
 * control.c — the Unix control socket (see control.h). Each connection is
 * read without blocking the main loop; a command runs when its line is
 * complete, and the connection closes after the reply.
 */
#define _POSIX_C_SOURCE 200809L

#include "sip/control.h"

#define HAVE_INTTYPES_H 1
#define HAVE_STDBOOL_H 1
#define HAVE_INET6 1
#include <re.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "sip/call.h"
#include "sip/host.h"

enum { CMD_MAX = 4096, CONN_MAX = 16 };

typedef struct conn {
    int fd;
    char buf[CMD_MAX + 2];
    size_t len;
    struct tmr idle;
} conn;

static int g_listen_fd = -1;
static char g_path[108];
static conn *g_conns[CONN_MAX];

static void conn_close(conn *k)
{
    for (size_t i = 0; i < CONN_MAX; i++)
        if (g_conns[i] == k)
            g_conns[i] = NULL;
    tmr_cancel(&k->idle);
    fd_close(k->fd);
    close(k->fd);
    free(k);
}

static void write_all(int fd, const char *s, size_t n)
{
    /* Replies are small; a client that stops reading gets a cut reply,
     * never a stuck main loop. */
    while (n) {
        ssize_t w = write(fd, s, n);
        if (w <= 0)
            return;
        s += w;
        n -= (size_t)w;
    }
}

/* The URI of a `cascade` command (`[conference] [json] cascade ROOM URI`,
 * or ROOM first), copied into `uri`; false for any other command. */
static bool cascade_uri(const char *line, char *uri, size_t cap)
{
    char tok[4][256];
    size_t n = 0;
    const char *p = line;
    while (*p) {
        p += strspn(p, " \t");
        size_t len = strcspn(p, " \t");
        if (!len)
            break;
        if ((n == 0 && len == 10 && strncmp(p, "conference", len) == 0) ||
            (n == 0 && len == 4 && strncmp(p, "json", len) == 0)) {
            p += len;
            continue;
        }
        if (n == 4 || len >= sizeof tok[0])
            return false;
        snprintf(tok[n++], sizeof tok[0], "%.*s", (int)len, p);
        p += len;
    }
    if (n != 3 || (strcmp(tok[0], "cascade") != 0 && strcmp(tok[1], "cascade") != 0))
        return false;
    snprintf(uri, cap, "%s", tok[2]);
    return true;
}

static void run(conn *k)
{
    char *line = k->buf;
    line[strcspn(line, "\r\n")] = '\0';
    /* Only this host knows its own address: a cascade to it is refused
     * here, before huddle would dial it again and again. */
    char uri[256];
    if (cascade_uri(line, uri, sizeof uri) && strncmp(uri, "sip:", 4) == 0 &&
        calls_is_self(uri)) {
        char err[512];
        int n = snprintf(err, sizeof err,
                         "-ERR %s is this node (listen %s): a room cannot cascade to itself\n",
                         uri, g_host.cfg.listen);
        write_all(k->fd, err, (size_t)n);
        conn_close(k);
        return;
    }
    char *reply = NULL;
    huddle_status st = g_host.hi->api(g_host.mod, line, &reply);
    if (st == HUDDLE_STATUS_OK && reply) {
        write_all(k->fd, reply, strlen(reply));
        if (reply[0] && reply[strlen(reply) - 1] != '\n')
            write_all(k->fd, "\n", 1);
        g_host.hi->str_free(reply);
    } else {
        char err[256];
        int n = snprintf(err, sizeof err, "-ERR %s\n", g_host.hi->strerror(st));
        write_all(k->fd, err, (size_t)n);
    }
    conn_close(k);
}

static void on_idle(void *arg)
{
    conn_close(arg);
}

static void on_read(int flags, void *arg)
{
    conn *k = arg;
    (void)flags;
    ssize_t r = read(k->fd, k->buf + k->len, CMD_MAX + 1 - k->len);
    if (r < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (r <= 0) {
        if (k->len) {
            k->buf[k->len] = '\0';
            run(k);
        } else
            conn_close(k);
        return;
    }
    k->len += (size_t)r;
    k->buf[k->len] = '\0';
    if (memchr(k->buf, '\n', k->len)) {
        run(k);
        return;
    }
    if (k->len > CMD_MAX) {
        static const char msg[] = "-ERR command longer than 4096 bytes\n";
        write_all(k->fd, msg, sizeof msg - 1);
        conn_close(k);
    }
}

static void on_accept(int flags, void *arg)
{
    (void)flags;
    (void)arg;
    int fd = accept(g_listen_fd, NULL, NULL);
    if (fd < 0)
        return;
    size_t i;
    for (i = 0; i < CONN_MAX && g_conns[i]; i++)
        ;
    conn *k = i < CONN_MAX ? calloc(1, sizeof *k) : NULL;
    if (!k) {
        static const char busy[] = "-ERR too many control connections\n";
        write_all(fd, busy, sizeof busy - 1);
        close(fd);
        return;
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    k->fd = fd;
    g_conns[i] = k;
    tmr_init(&k->idle);
    tmr_start(&k->idle, 10000, on_idle, k);
    if (fd_listen(fd, FD_READ, on_read, k) != 0)
        conn_close(k);
}

int control_open(const char *path)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof sun.sun_path) {
        host_log(HUDDLE_LOG_ERROR, "control_socket '%s': path longer than %zu bytes", path,
                 sizeof sun.sun_path - 1);
        return -1;
    }
    memcpy(sun.sun_path, path, strlen(path) + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    unlink(path); /* a socket left by a previous run */
    mode_t old = umask(0117); /* owner and group only: the API can end calls */
    int rc = bind(fd, (struct sockaddr *)&sun, sizeof sun);
    umask(old);
    if (rc != 0 || listen(fd, 16) != 0) {
        host_log(HUDDLE_LOG_ERROR, "control_socket '%s': %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    g_listen_fd = fd;
    snprintf(g_path, sizeof g_path, "%s", path);
    return fd_listen(fd, FD_READ, on_accept, NULL);
}

void control_close(void)
{
    for (size_t i = 0; i < CONN_MAX; i++)
        if (g_conns[i])
            conn_close(g_conns[i]);
    if (g_listen_fd >= 0) {
        fd_close(g_listen_fd);
        close(g_listen_fd);
        unlink(g_path);
        g_listen_fd = -1;
    }
}

int control_client(const char *path, int argc, char **argv)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof sun.sun_path) {
        fprintf(stderr, "huddle-sip: socket path too long: %s\n", path);
        return 2;
    }
    memcpy(sun.sun_path, path, strlen(path) + 1);
    char cmd[CMD_MAX + 2];
    size_t n = 0;
    for (int i = 0; i < argc; i++) {
        size_t l = strlen(argv[i]);
        if (n + l + 2 > CMD_MAX) {
            fprintf(stderr, "huddle-sip: command longer than %d bytes\n", CMD_MAX);
            return 2;
        }
        if (i)
            cmd[n++] = ' ';
        memcpy(cmd + n, argv[i], l);
        n += l;
    }
    cmd[n++] = '\n';
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof sun) != 0) {
        fprintf(stderr, "huddle-sip: cannot connect to %s: %s\n", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return 2;
    }
    write_all(fd, cmd, n);
    char buf[4096];
    ssize_t r;
    int first = 1, ok = 0;
    while ((r = read(fd, buf, sizeof buf)) > 0) {
        if (first) /* "+OK ..." or, for `conference json ...`, {"ok":true,...} */
            ok = (r >= 3 && memcmp(buf, "+OK", 3) == 0) ||
                 (r >= 10 && memcmp(buf, "{\"ok\":true", 10) == 0);
        first = 0;
        fwrite(buf, 1, (size_t)r, stdout);
    }
    close(fd);
    return ok ? 0 : 1;
}

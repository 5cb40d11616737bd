/*
 * control.h — the operator's `conference` API on a local Unix socket.
 *
 * Line protocol in the spirit of fs_cli: a client connects, writes one
 * command line ("conference list", "kick 3000 5"), reads the reply until
 * the server closes. The reply is huddle's API reply verbatim.
 */
#ifndef HUDDLE_SIP_CONTROL_H
#define HUDDLE_SIP_CONTROL_H

/* Listens on `path` (replacing a stale socket). Main thread. */
int control_open(const char *path);
void control_close(void);

/* `huddle-sip --cli <sock> <command...>`: prints the reply; exit status
 * 0 for "+OK", 1 for an error reply, 2 when the server is unreachable. */
int control_client(const char *path, int argc, char **argv);

#endif /* HUDDLE_SIP_CONTROL_H */

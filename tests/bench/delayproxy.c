/* delayproxy: a TCP proxy that adds latency, for bench.py's slow-link section.
 *
 *   delayproxy [-q MAXQUEUE] DELAY_MS TARGET_PORT
 *
 * Listens on 127.0.0.1 on a free port, prints that port and a newline on
 * stdout, and forwards every accepted connection to 127.0.0.1:TARGET_PORT.
 * Every chunk read from one side is stamped with its arrival time and written
 * to the other side at arrival + DELAY_MS (a fraction is allowed), in order.
 * A half-close (EOF) is forwarded the same way, D ms after it arrived and
 * after the data before it.  It is latency, not a bandwidth cap: nothing is
 * paced beyond what the machine does.
 *
 * Memory: each direction of a connection queues at most MAXQUEUE bytes (plus
 * one read; default 16 MiB).  Past that it stops reading, and TCP flow control
 * slows the sender: like a real window, one connection then carries at most
 * MAXQUEUE per DELAY_MS (16 MiB / 20 ms = 800 MiB/s).
 *
 * Threads: the main thread accepts; each connection gets two threads, one per
 * direction, each with non-blocking sockets and ppoll() with a timeout up to
 * the next due chunk (no busy waiting).  If a write fails (peer reset), both
 * sockets are shut down and both threads end; the last one closes the fds.
 * SIGTERM or SIGINT ends the process with status 0 (and so does the death of
 * the parent, via PR_SET_PDEATHSIG).  Linux only.  Build: cc -O2 -pthread.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define READ_SIZE (256 * 1024)
#define MAX_IOV 64
#define READS_PER_WAKE 16

static int64_t delay_ns;
static size_t max_queue = 16u << 20;
static struct sockaddr_in target;
static volatile sig_atomic_t stop;

struct conn {
    int fd[2]; /* 0: client (accepted), 1: server (target) */
    atomic_int refs;
    atomic_int aborted;
};

struct chunk {
    struct chunk* next;
    int64_t due;
    size_t len, off;
    char data[];
};

struct dir {
    struct conn* c;
    int src, dst;
};

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void conn_release(struct conn* c) {
    if (atomic_fetch_sub(&c->refs, 1) == 1) {
        close(c->fd[0]);
        close(c->fd[1]);
        free(c);
    }
}

static void conn_abort(struct conn* c) {
    atomic_store(&c->aborted, 1);
    shutdown(c->fd[0], SHUT_RDWR); /* wakes the other direction's ppoll */
    shutdown(c->fd[1], SHUT_RDWR);
}

/* One direction: read src, hold each chunk until its due time, write dst. */
static void pump(struct conn* c, int src, int dst) {
    struct chunk *head = NULL, **tail = &head;
    size_t queued = 0;
    int eof = 0, dst_blocked = 0;
    int64_t eof_due = 0;
    char* buf = malloc(READ_SIZE);
    if (!buf) {
        conn_abort(c);
        return;
    }
    for (;;) {
        if (atomic_load(&c->aborted)) break;
        int64_t now = now_ns();
        /* write every due chunk, as many at a time as the socket takes */
        while (head && !dst_blocked && head->due <= now) {
            struct iovec iov[MAX_IOV];
            int n = 0;
            for (struct chunk* k = head; k && n < MAX_IOV && k->due <= now; k = k->next) {
                iov[n].iov_base = k->data + k->off;
                iov[n].iov_len = k->len - k->off;
                n++;
            }
            struct msghdr mh = {.msg_iov = iov, .msg_iovlen = n};
            ssize_t w = sendmsg(dst, &mh, MSG_NOSIGNAL);
            if (w < 0) {
                if (errno == EINTR) continue;
                if (errno == EAGAIN || errno == EWOULDBLOCK) {
                    dst_blocked = 1;
                    break;
                }
                conn_abort(c);
                goto out;
            }
            queued -= (size_t)w;
            while (w > 0) {
                size_t left = head->len - head->off;
                if ((size_t)w < left) {
                    head->off += (size_t)w;
                    break;
                }
                w -= (ssize_t)left;
                struct chunk* k = head;
                head = k->next;
                free(k);
            }
            if (!head) tail = &head;
        }
        if (eof && !head && eof_due <= now) {
            shutdown(dst, SHUT_WR); /* the half-close, after its data */
            break;
        }
        /* wait: for input (unless at EOF or the queue is full), for room in
         * dst (if a due write blocked), or until the next due time */
        struct pollfd pfd[2];
        int n = 0, isrc = -1, idst = -1;
        if (!eof && queued < max_queue) {
            pfd[n] = (struct pollfd){.fd = src, .events = POLLIN};
            isrc = n++;
        }
        if (dst_blocked) {
            pfd[n] = (struct pollfd){.fd = dst, .events = POLLOUT};
            idst = n++;
        }
        struct timespec ts, *tsp = NULL;
        int64_t wake = -1;
        if (head && !dst_blocked)
            wake = head->due;
        else if (!head && eof)
            wake = eof_due;
        if (wake >= 0) {
            int64_t d = wake - now;
            if (d < 0) d = 0;
            ts.tv_sec = d / 1000000000;
            ts.tv_nsec = d % 1000000000;
            tsp = &ts;
        }
        if (ppoll(pfd, n, tsp, NULL) < 0) {
            if (errno == EINTR) continue;
            conn_abort(c);
            break;
        }
        if (idst >= 0 && pfd[idst].revents)
            dst_blocked = 0; /* writable or failed: sendmsg will tell */
        if (isrc >= 0 && pfd[isrc].revents) {
            for (int i = 0; i < READS_PER_WAKE && !eof && queued < max_queue; i++) {
                ssize_t r = recv(src, buf, READ_SIZE, 0);
                if (r < 0 && errno == EINTR) continue;
                if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
                int64_t due = now_ns() + delay_ns;
                if (r <= 0) { /* EOF, or a reset: forward as EOF */
                    eof = 1;
                    eof_due = due;
                    break;
                }
                struct chunk* k = malloc(sizeof *k + (size_t)r);
                if (!k) {
                    conn_abort(c);
                    goto out;
                }
                k->next = NULL;
                k->due = due;
                k->len = (size_t)r;
                k->off = 0;
                memcpy(k->data, buf, (size_t)r);
                *tail = k;
                tail = &k->next;
                queued += (size_t)r;
            }
        }
    }
out:
    while (head) {
        struct chunk* k = head;
        head = k->next;
        free(k);
    }
    free(buf);
}

static void* server_to_client(void* arg) {
    struct conn* c = arg;
    pump(c, c->fd[1], c->fd[0]);
    conn_release(c);
    return NULL;
}

static void set_nodelay(int fd) {
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

static pthread_attr_t attr;

/* A connection's first thread: connect to the target, start the other
 * direction's thread, then pump client -> server. */
static void* client_to_server(void* arg) {
    struct conn* c = arg;
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0 || connect(s, (struct sockaddr*)&target, sizeof target) < 0) {
        if (s >= 0) close(s);
        close(c->fd[0]);
        free(c);
        return NULL;
    }
    fcntl(s, F_SETFL, fcntl(s, F_GETFL) | O_NONBLOCK);
    set_nodelay(s);
    c->fd[1] = s;
    pthread_t t;
    atomic_store(&c->refs, 2);
    if (pthread_create(&t, &attr, server_to_client, c) != 0) {
        close(c->fd[0]);
        close(c->fd[1]);
        free(c);
        return NULL;
    }
    pump(c, c->fd[0], c->fd[1]);
    conn_release(c);
    return NULL;
}

static void on_signal(int sig) {
    (void)sig;
    stop = 1;
}

static void usage(void) {
    fprintf(stderr, "usage: delayproxy [-q MAXQUEUE_BYTES] DELAY_MS TARGET_PORT\n");
    exit(2);
}

int main(int argc, char** argv) {
    pid_t parent = getppid();
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) /* the parent died before prctl */
        return 0;
    int opt;
    while ((opt = getopt(argc, argv, "q:")) != -1) {
        if (opt != 'q') usage();
        char* end;
        unsigned long long q = strtoull(optarg, &end, 10);
        if (*end || q < 1) usage();
        max_queue = (size_t)q;
    }
    if (argc - optind != 2) usage();
    char* end;
    double ms = strtod(argv[optind], &end);
    if (*end || !(ms >= 0) || ms > 3600e3) usage();
    delay_ns = (int64_t)(ms * 1e6 + 0.5);
    long port = strtol(argv[optind + 1], &end, 10);
    if (*end || port < 1 || port > 65535) usage();
    target = (struct sockaddr_in){.sin_family = AF_INET,
                                  .sin_port = htons((uint16_t)port),
                                  .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};

    /* SIGTERM/SIGINT stay blocked except inside the accept loop's ppoll, so
     * the connection threads never see them (they inherit this mask). */
    sigset_t block, during;
    sigemptyset(&block);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGINT);
    pthread_sigmask(SIG_BLOCK, &block, &during);
    sigdelset(&during, SIGTERM);
    sigdelset(&during, SIGINT);
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 256 * 1024);

    int ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    struct sockaddr_in a = {
        .sin_family = AF_INET, .sin_port = 0, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof a;
    if (ls < 0 || bind(ls, (struct sockaddr*)&a, sizeof a) < 0 || listen(ls, 512) < 0 ||
        getsockname(ls, (struct sockaddr*)&a, &alen) < 0) {
        perror("delayproxy: listen");
        return 1;
    }
    printf("%d\n", ntohs(a.sin_port));
    fflush(stdout);

    while (!stop) {
        struct pollfd p = {.fd = ls, .events = POLLIN};
        if (ppoll(&p, 1, NULL, &during) < 0) {
            if (errno == EINTR) continue; /* a signal: the loop checks stop */
            perror("delayproxy: ppoll");
            return 1;
        }
        int fd = accept4(ls, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                struct timespec ts = {0, 100 * 1000000}; /* out of fds: retry later */
                ppoll(NULL, 0, &ts, &during);
            }
            continue; /* EAGAIN, ECONNABORTED, ... */
        }
        set_nodelay(fd);
        struct conn* c = calloc(1, sizeof *c);
        pthread_t t;
        if (!c) {
            close(fd);
            continue;
        }
        c->fd[0] = fd;
        c->fd[1] = -1;
        if (pthread_create(&t, &attr, client_to_server, c) != 0) {
            close(fd);
            free(c);
        }
    }
    return 0; /* exit() ends the connection threads */
}

/* delayproxy: a TCP proxy that adds latency, for bench.py's slow-link section.
 *
 *   delayproxy [-q MAXQUEUE] [-r BITS_PER_S] [-l CONNLOG] DELAY_MS TARGET_PORT
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
 * With -r, each direction is also a link of that many bits per second,
 * shared by all connections as a real uplink is: a token bucket (burst
 * 64 KiB, which also absorbs late wake-ups on a busy machine) paces every
 * write, and a connection that finds it empty waits for the next tokens in
 * ppoll, so pacing costs no busy waiting.  Use a small -q with -r (a
 * bandwidth-delay product, say), or the queue adds seconds of delay like a
 * bloated router buffer.
 *
 * On SIGUSR1, and on exit (SIGTERM/SIGINT), it prints one line on stderr:
 *   delayproxy: c2s BYTES s2c BYTES turns N cpu USER_S SYS_S
 * the bytes each way so far (the wire bytes client and server exchanged),
 * the turns (a client's bytes after the server's on a connection: each is a
 * round trip the client may have waited for, so an upper bound on them),
 * and the proxy's own CPU time, which shows that the link, not the proxy,
 * was the limit.
 *
 * With -l, each connection, when it ends, appends one line to CONNLOG:
 *   conn START_MS END_MS C2S S2C TURNS
 * (milliseconds since the proxy started).  Connections run side by side,
 * so the turns one client waited for in a row are at most the largest
 * TURNS of one connection, not the sum; and the lines show whether the
 * link was busy to the end or one connection finished alone.
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
#include <sys/resource.h>
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
static atomic_ullong wire_bytes[2]; /* 0: client to server, 1: server to client */
static atomic_ullong turns;
static volatile sig_atomic_t report;

/* A direction's link (-r): tokens are bytes that may be written now. */
struct bucket {
    pthread_mutex_t lock;
    double tokens, rate; /* rate: bytes per ns; 0: no limit */
    int64_t last;
};
#define BURST (64.0 * 1024)
static struct bucket link_of[2] = {{.lock = PTHREAD_MUTEX_INITIALIZER},
                                   {.lock = PTHREAD_MUTEX_INITIALIZER}};

/* How many of `want` bytes may go now (0 if none; then *wait_ns says how
 * long until some may). */
static size_t bucket_take(struct bucket* b, size_t want, int64_t now, int64_t* wait_ns) {
    if (b->rate <= 0) return want;
    pthread_mutex_lock(&b->lock);
    b->tokens += (double)(now - b->last) * b->rate;
    if (b->tokens > BURST) b->tokens = BURST;
    b->last = now;
    size_t got = b->tokens >= 1 ? (size_t)b->tokens : 0;
    if (got > want) got = want;
    b->tokens -= (double)got;
    if (got == 0) *wait_ns = (int64_t)((1500.0 - b->tokens) / b->rate) + 1;
    pthread_mutex_unlock(&b->lock);
    return got;
}

/* Tokens taken for bytes the socket did not accept go back. */
static void bucket_return(struct bucket* b, size_t n) {
    if (b->rate <= 0 || n == 0) return;
    pthread_mutex_lock(&b->lock);
    b->tokens += (double)n;
    pthread_mutex_unlock(&b->lock);
}

struct conn {
    int fd[2]; /* 0: client (accepted), 1: server (target) */
    atomic_int refs;
    atomic_int aborted;
    atomic_int server_spoke; /* s2c bytes written since the client's last */
    atomic_ullong bytes[2];  /* this connection's wire_bytes */
    atomic_ullong turns;
    int64_t start;
};

static FILE* conn_log;
static pthread_mutex_t conn_log_lock = PTHREAD_MUTEX_INITIALIZER;
static int64_t started;

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

static void log_conn(struct conn* c) {
    if (!conn_log) return;
    pthread_mutex_lock(&conn_log_lock);
    fprintf(
        conn_log, "conn %lld %lld %llu %llu %llu\n", (long long)((c->start - started) / 1000000),
        (long long)((now_ns() - started) / 1000000), (unsigned long long)atomic_load(&c->bytes[0]),
        (unsigned long long)atomic_load(&c->bytes[1]), (unsigned long long)atomic_load(&c->turns));
    fflush(conn_log);
    pthread_mutex_unlock(&conn_log_lock);
}

static void conn_release(struct conn* c) {
    if (atomic_fetch_sub(&c->refs, 1) == 1) {
        log_conn(c);
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

/* One direction: read src, hold each chunk until its due time, write dst
 * as fast as the direction's link allows. */
static void pump(struct conn* c, int src, int dst, int way) {
    struct bucket* link = &link_of[way];
    int64_t paced_until = 0;
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
        paced_until = 0;
        while (head && !dst_blocked && head->due <= now) {
            struct iovec iov[MAX_IOV];
            int n = 0;
            size_t total = 0;
            for (struct chunk* k = head; k && n < MAX_IOV && k->due <= now; k = k->next) {
                iov[n].iov_base = k->data + k->off;
                iov[n].iov_len = k->len - k->off;
                total += iov[n].iov_len;
                n++;
            }
            int64_t wait_ns = 0;
            size_t allowed = bucket_take(link, total, now, &wait_ns);
            if (allowed == 0) {
                paced_until = now + wait_ns;
                break;
            }
            /* cut the iovec down to what the link allows */
            size_t room = allowed;
            for (int i = 0; i < n; i++) {
                if (iov[i].iov_len >= room) {
                    iov[i].iov_len = room;
                    n = i + 1;
                    break;
                }
                room -= iov[i].iov_len;
            }
            struct msghdr mh = {.msg_iov = iov, .msg_iovlen = n};
            ssize_t w = sendmsg(dst, &mh, MSG_NOSIGNAL);
            if (w < 0) {
                bucket_return(link, allowed);
                if (errno == EINTR) continue;
                if (errno == EAGAIN || errno == EWOULDBLOCK) {
                    dst_blocked = 1;
                    break;
                }
                conn_abort(c);
                goto out;
            }
            bucket_return(link, allowed - (size_t)w);
            atomic_fetch_add(&wire_bytes[way], (unsigned long long)w);
            atomic_fetch_add(&c->bytes[way], (unsigned long long)w);
            if (way == 1)
                atomic_store(&c->server_spoke, 1);
            else if (atomic_exchange(&c->server_spoke, 0)) {
                atomic_fetch_add(&turns, 1);
                atomic_fetch_add(&c->turns, 1);
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
        if (paced_until > 0)
            wake = paced_until;
        else if (head && !dst_blocked)
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
    pump(c, c->fd[1], c->fd[0], 1);
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
    pump(c, c->fd[0], c->fd[1], 0);
    conn_release(c);
    return NULL;
}

static void on_signal(int sig) {
    if (sig == SIGUSR1)
        report = 1;
    else
        stop = 1;
}

static void print_stats(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    fprintf(stderr, "delayproxy: c2s %llu s2c %llu turns %llu cpu %.3f %.3f\n",
            (unsigned long long)atomic_load(&wire_bytes[0]),
            (unsigned long long)atomic_load(&wire_bytes[1]),
            (unsigned long long)atomic_load(&turns),
            (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6,
            (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6);
    fflush(stderr);
}

static void usage(void) {
    fprintf(stderr, "usage: delayproxy [-q MAXQUEUE_BYTES] [-r BITS_PER_S] [-l CONNLOG] DELAY_MS "
                    "TARGET_PORT\n");
    exit(2);
}

int main(int argc, char** argv) {
    pid_t parent = getppid();
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) /* the parent died before prctl */
        return 0;
    started = now_ns();
    int opt;
    while ((opt = getopt(argc, argv, "q:r:l:")) != -1) {
        if (opt == 'l') {
            conn_log = fopen(optarg, "a");
            if (!conn_log) {
                perror("delayproxy: -l");
                return 1;
            }
            continue;
        }
        if (opt != 'q' && opt != 'r') usage();
        char* end;
        unsigned long long q = strtoull(optarg, &end, 10);
        if (*end || q < 1) usage();
        if (opt == 'q') max_queue = (size_t)q;
        for (int way = 0; opt == 'r' && way < 2; way++) {
            link_of[way].rate = (double)q / 8 / 1e9;
            link_of[way].tokens = BURST;
            link_of[way].last = now_ns();
        }
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
    sigaddset(&block, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &block, &during);
    sigdelset(&during, SIGTERM);
    sigdelset(&during, SIGINT);
    sigdelset(&during, SIGUSR1);
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGUSR1, &sa, NULL);
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
            if (errno == EINTR) { /* a signal: the loop checks stop */
                if (report) {
                    report = 0;
                    print_stats();
                }
                continue;
            }
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
        c->start = now_ns();
        if (pthread_create(&t, &attr, client_to_server, c) != 0) {
            close(fd);
            free(c);
        }
    }
    print_stats();
    return 0; /* exit() ends the connection threads */
}

/*
 * libaudit_loop: the C anchor for benchmarks/throughput.py.
 *
 * Writes N AUDIT_USYS_CONFIG records the way a C program using libaudit
 * directly would (audit_open + audit_log_user_comm_message), with a message
 * shaped like the one our Python binding builds, and prints the rate. This is
 * the ceiling the binding is compared against: same library, same kernel
 * round trip per record (libaudit waits for the netlink ACK), no Python.
 *
 * Usage: libaudit_loop N RUN_ID WRITER
 * Output (stdout, one line, parsed by throughput.py):
 *   records=N seconds=S rate=R
 *
 * Built on the fly by throughput.py: gcc -O2 -Wall -o out/libaudit_loop c/libaudit_loop.c -laudit
 */
#include <errno.h>
#include <libaudit.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	char msg[512];
	long n, seq;
	int fd, rc;
	double start, elapsed;

	if (argc != 4) {
		fprintf(stderr, "usage: %s N RUN_ID WRITER\n", argv[0]);
		return 2;
	}
	n = strtol(argv[1], NULL, 10);
	if (n <= 0) {
		fprintf(stderr, "N must be a positive integer\n");
		return 2;
	}

	/* The timed region includes audit_open(), as the Python loop's first
	 * send() opens its connection too: both sides pay the same setup. */
	start = now();
	fd = audit_open();
	if (fd < 0) {
		fprintf(stderr, "audit_open failed: %s\n", strerror(errno));
		return 1;
	}
	for (seq = 0; seq < n; seq++) {
		/* Same fields, order and quoting as encoding.build_message() gives
		 * for op=bench-c run=... writer=... seq=... target=... change=... */
		snprintf(msg, sizeof(msg),
			 "op=bench-c run=\"%s\" writer=\"%s\" seq=\"%ld\" "
			 "target=\"/etc/changeaudit/bench.conf\" change=\"throughput\"",
			 argv[2], argv[3], seq);
		/* hostname NULL, addr and tty "?" so libaudit neither resolves a
		 * name nor probes the tty: the binding passes the same values. */
		rc = audit_log_user_comm_message(fd, AUDIT_USYS_CONFIG, msg, "ansible",
						 NULL, "?", "?", 1);
		/* > 0 is the netlink sequence number; 0 means libaudit swallowed
		 * ECONNREFUSED/EPERM, which is a lost record for us, not success. */
		if (rc <= 0) {
			fprintf(stderr, "audit_log_user_comm_message failed at seq %ld: rc=%d errno=%s\n",
				seq, rc, strerror(rc < 0 ? -rc : errno));
			audit_close(fd);
			return 1;
		}
	}
	elapsed = now() - start;
	audit_close(fd);

	printf("records=%ld seconds=%.6f rate=%.1f\n", n, elapsed, n / elapsed);
	return 0;
}

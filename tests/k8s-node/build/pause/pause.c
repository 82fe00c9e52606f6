/*
 * pause: the sandbox ("infra") process of a Kubernetes pod, written for this project.
 * It holds the pod's namespaces open and does nothing else: it sleeps until a signal arrives, reaps any
 * child that ends (it is PID 1 of the pod when the PID namespace is shared) and exits cleanly on SIGINT
 * or SIGTERM. Build: gcc -static -O2 -o pause pause.c
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t stop_signal;

static void on_stop(int sig) { stop_signal = sig; }

static void on_child(int sig)
{
	int saved = errno;
	(void)sig;
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
	errno = saved;
}

static void handle(int sig, void (*fn)(int))
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = fn;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = (sig == SIGCHLD) ? (SA_RESTART | SA_NOCLDSTOP) : 0;
	if (sigaction(sig, &sa, NULL) != 0) {
		perror("pause: sigaction");
		exit(1);
	}
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "-v") == 0) {
		puts("pause (mss.platform) " PAUSE_VERSION);
		return 0;
	}
	if (getpid() != 1)
		fprintf(stderr, "pause: warning: not PID 1, orphans of the pod will not be reaped here\n");
	/* The signals stay blocked except inside sigsuspend(), so a stop cannot slip in between the test
	 * of stop_signal and the wait. */
	sigset_t blocked, waiting;
	sigemptyset(&blocked);
	sigaddset(&blocked, SIGINT);
	sigaddset(&blocked, SIGTERM);
	sigaddset(&blocked, SIGCHLD);
	sigprocmask(SIG_BLOCK, &blocked, &waiting);
	sigdelset(&waiting, SIGINT);
	sigdelset(&waiting, SIGTERM);
	sigdelset(&waiting, SIGCHLD);
	handle(SIGINT, on_stop);
	handle(SIGTERM, on_stop);
	handle(SIGCHLD, on_child);
	while (!stop_signal)
		sigsuspend(&waiting);
	fprintf(stderr, "pause: shutting down on signal %d\n", (int)stop_signal);
	return 0;
}

/*
 * A deterministic workload for the recorder tests: one call from each of a
 * thread, a forked child, an exec'd image and (on x86_64) the 32-bit
 * int $0x80 entry point, each a call nothing else in the program makes,
 * so a test can tell that every part was seen.
 *
 *   probe            thread (getcpu), fork (getpriority), compat getppid
 *                    (i386 number 64), then exec itself as "probe exec"
 *   probe exec       times(2), then exit
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/times.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/futex.h>

static int futex_word;

static void *in_thread(void *arg)
{
    unsigned cpu = 0;
    (void)arg;
    syscall(SYS_getcpu, &cpu, NULL, NULL);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "exec") == 0) {
        struct tms t;
        times(&t);
        return 0;
    }
    pthread_t th;
    if (pthread_create(&th, NULL, in_thread, NULL) != 0)
        return 10;
    /* pthread_join waits on a futex only if the thread is still running:
     * make one futex call unconditionally so the set does not depend on
     * scheduling. */
    syscall(SYS_futex, &futex_word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
    pthread_join(th, NULL);

    pid_t pid = fork();
    if (pid == 0) {
        syscall(SYS_getpriority, PRIO_PROCESS, 0);
        _exit(0);
    }
    int status = 0;
    if (pid < 0 || waitpid(pid, &status, 0) != pid || status != 0)
        return 11;

#if defined(__x86_64__)
    long ret;
    __asm__ volatile("int $0x80" : "=a"(ret) : "a"(64L) : "memory");
    if (ret <= 0)
        return 12;
#endif

    char *args[] = { argv[0], "exec", NULL };
    execv("/proc/self/exe", args);
    return 13;
}

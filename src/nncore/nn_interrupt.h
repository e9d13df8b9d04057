/* nn_interrupt.h: lets a long computation in the core notice Ctrl-C while it runs without the
 * GIL.
 *
 * Python's own SIGINT handler only sets a flag that the interpreter looks at between bytecodes,
 * so a call into the core that runs for a second delays KeyboardInterrupt by that second. For
 * the length of such a call (made from the main thread, with the GIL) nn_catch_sigint puts a
 * handler in front of Python's: it sets nn_interrupted, which the core's loops read between
 * blocks of work, and then calls Python's handler, so Python still raises KeyboardInterrupt
 * (or runs the user's handler) as soon as the call returns. nn_release_sigint puts Python's
 * handler back. Nothing is installed when SIGINT is ignored or has its default action (then
 * Python would not raise anyway). Windows has no sigaction: there the calls do nothing and the
 * core is interrupted between its bounded calls only.
 */
#ifndef NN_INTERRUPT_H
#define NN_INTERRUPT_H

#include <signal.h>
#include <string.h>

static volatile sig_atomic_t nn_interrupted = 0;   /* set by the handler, cleared by catch */

/* 1 once SIGINT arrived since nn_catch_sigint (a plain read: safe in any thread) */
static inline int nn_stop_requested(void)
{
    return nn_interrupted != 0;
}

#if defined(_WIN32)

static inline int nn_catch_sigint(void) { nn_interrupted = 0; return 0; }
static inline void nn_release_sigint(void) {}

#else

static struct sigaction nn_previous;               /* the handler nn_catch_sigint replaced */

static void nn_on_sigint(int sig, siginfo_t *info, void *context)
{
    nn_interrupted = 1;
    if (nn_previous.sa_flags & SA_SIGINFO) {
        if (nn_previous.sa_sigaction)
            nn_previous.sa_sigaction(sig, info, context);
    } else if (nn_previous.sa_handler != SIG_DFL && nn_previous.sa_handler != SIG_IGN) {
        nn_previous.sa_handler(sig);
    }
}

/* Installs nn_on_sigint in front of the current SIGINT handler when that is a function;
 * returns 1 if it did (then nn_release_sigint must follow). Main thread, GIL held. */
static inline int nn_catch_sigint(void)
{
    struct sigaction mine;
    nn_interrupted = 0;
    if (sigaction(SIGINT, NULL, &nn_previous) != 0)
        return 0;
    if (!(nn_previous.sa_flags & SA_SIGINFO)
            && (nn_previous.sa_handler == SIG_DFL || nn_previous.sa_handler == SIG_IGN))
        return 0;
    memset(&mine, 0, sizeof mine);
    mine.sa_sigaction = nn_on_sigint;
    mine.sa_mask = nn_previous.sa_mask;
    mine.sa_flags = (nn_previous.sa_flags & ~SA_RESETHAND) | SA_SIGINFO;
    return sigaction(SIGINT, &mine, NULL) == 0;
}

/* Puts back the handler nn_catch_sigint replaced. */
static inline void nn_release_sigint(void)
{
    sigaction(SIGINT, &nn_previous, NULL);
}

#endif
#endif

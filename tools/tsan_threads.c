/*
 * tsan_threads.c: C11 threads for ThreadSanitizer builds only.
 *
 * librdkafka starts its threads with C11 thrd_create and locks with
 * mtx_lock and cnd_wait.  glibc (2.34+) implements those by calling its
 * internal pthread functions directly, past the pthread_create and
 * pthread_mutex_lock that ThreadSanitizer intercepts.  So under TSan a
 * librdkafka thread has no TSan thread state, and its first malloc
 * crashes in TSan's allocator (seen: "SEGV on unknown address 0x000000000c38"
 * in rdk:broker and rdk:mock threads), and its locks are invisible, which
 * would turn every hand-over through librdkafka's queues into a reported
 * race.
 *
 * This file defines those C11 functions in the executable, on top of the
 * pthread functions TSan intercepts; the dynamic linker binds librdkafka's
 * references to the executable's definitions before glibc's.  glibc's mtx_t,
 * cnd_t and thrd_t have the layout of pthread_mutex_t, pthread_cond_t and
 * pthread_t (they are defined as unions of the same size), and thrd_join
 * reads a thread's int result from the pthread exit value, which is what
 * the trampoline returns.  Linked into the tools only when meson's
 * b_sanitize is 'thread' (tools/meson.build).
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <threads.h>

#define SL_EXPORT __attribute__((visibility("default")))

_Static_assert(sizeof(mtx_t) == sizeof(pthread_mutex_t), "mtx_t is a pthread mutex");
_Static_assert(sizeof(cnd_t) == sizeof(pthread_cond_t), "cnd_t is a pthread condition");
_Static_assert(sizeof(thrd_t) == sizeof(pthread_t), "thrd_t is a pthread_t");

struct tramp {
        thrd_start_t fn;
        void *arg;
};

static void *trampoline(void *p)
{
        struct tramp t = *(struct tramp *)p;
        free(p);
        return (void *)(intptr_t)t.fn(t.arg);
}

static int result(int rc)
{
        return rc == 0 ? thrd_success : rc == ETIMEDOUT ? thrd_timedout
                       : rc == EBUSY ? thrd_busy : rc == ENOMEM ? thrd_nomem : thrd_error;
}

SL_EXPORT int thrd_create(thrd_t *thr, thrd_start_t fn, void *arg)
{
        struct tramp *t = malloc(sizeof *t);
        if (!t)
                return thrd_nomem;
        t->fn = fn;
        t->arg = arg;
        int rc = pthread_create((pthread_t *)thr, NULL, trampoline, t);
        if (rc)
                free(t);
        return result(rc);
}

SL_EXPORT int mtx_init(mtx_t *m, int type)
{
        pthread_mutexattr_t a;
        pthread_mutexattr_init(&a);
        if (type & mtx_recursive)
                pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE);
        int rc = pthread_mutex_init((pthread_mutex_t *)m, &a);
        pthread_mutexattr_destroy(&a);
        return result(rc);
}

SL_EXPORT int mtx_lock(mtx_t *m)
{
        return result(pthread_mutex_lock((pthread_mutex_t *)m));
}

SL_EXPORT int mtx_trylock(mtx_t *m)
{
        return result(pthread_mutex_trylock((pthread_mutex_t *)m));
}

SL_EXPORT int mtx_timedlock(mtx_t *restrict m, const struct timespec *restrict ts)
{
        return result(pthread_mutex_timedlock((pthread_mutex_t *)m, ts));
}

SL_EXPORT int mtx_unlock(mtx_t *m)
{
        return result(pthread_mutex_unlock((pthread_mutex_t *)m));
}

SL_EXPORT void mtx_destroy(mtx_t *m)
{
        pthread_mutex_destroy((pthread_mutex_t *)m);
}

SL_EXPORT int cnd_init(cnd_t *c)
{
        return result(pthread_cond_init((pthread_cond_t *)c, NULL));
}

SL_EXPORT int cnd_signal(cnd_t *c)
{
        return result(pthread_cond_signal((pthread_cond_t *)c));
}

SL_EXPORT int cnd_broadcast(cnd_t *c)
{
        return result(pthread_cond_broadcast((pthread_cond_t *)c));
}

SL_EXPORT int cnd_wait(cnd_t *c, mtx_t *m)
{
        return result(pthread_cond_wait((pthread_cond_t *)c, (pthread_mutex_t *)m));
}

SL_EXPORT int cnd_timedwait(cnd_t *restrict c, mtx_t *restrict m, const struct timespec *restrict ts)
{
        return result(pthread_cond_timedwait((pthread_cond_t *)c, (pthread_mutex_t *)m, ts));
}

SL_EXPORT void cnd_destroy(cnd_t *c)
{
        pthread_cond_destroy((pthread_cond_t *)c);
}

SL_EXPORT int thrd_join(thrd_t thr, int *res)
{
        void *v;
        int rc = pthread_join((pthread_t)thr, &v);
        if (rc == 0 && res)
                *res = (int)(intptr_t)v;
        return result(rc);
}

SL_EXPORT int thrd_detach(thrd_t thr)
{
        return result(pthread_detach((pthread_t)thr));
}

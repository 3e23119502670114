/* A tiny log API: one line per event on stderr, with a level. */
#ifndef PGS_LOG_H
#define PGS_LOG_H

#include <stdarg.h>
#include <bpf/libbpf.h>

enum log_level { LOG_LVL_ERR, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG, LOG_LVL_TRACE };

/* 0 = info, 1 = debug (-v), 2 = libbpf's own messages too (-vv). */
void log_init(int verbosity);
int log_verbosity(void);

void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));  /* appends strerror(errno) */
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void fatalx(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* libbpf's print callback, routed through the log. */
int log_libbpf(enum libbpf_print_level level, const char *fmt, va_list ap);

#endif

/* Go's internal register ABI on linux/amd64 (ABIInternal, Go 1.17+), read at
 * a function's entry site (before its prologue ran): integer arguments in
 * RAX, RBX, RCX, RDI, RSI, R8, R9, R10, R11 in order; the running goroutine's
 * g in R14; the return address at [RSP]; the caller's frame pointer in RBP.
 * Every register read of a Go function's state goes through here. */
#ifndef GOTRACE_GO_ABI_BPF_H
#define GOTRACE_GO_ABI_BPF_H

#include "vmlinux.h"

static __always_inline __u64 go_g(const struct pt_regs *ctx) { return ctx->r14; }
static __always_inline __u64 go_arg1(const struct pt_regs *ctx) { return ctx->ax; }
static __always_inline __u64 go_arg2(const struct pt_regs *ctx) { return ctx->bx; }
static __always_inline __u64 go_arg3(const struct pt_regs *ctx) { return ctx->cx; }
static __always_inline __u64 go_arg4(const struct pt_regs *ctx) { return ctx->di; }
static __always_inline __u64 go_arg5(const struct pt_regs *ctx) { return ctx->si; }
static __always_inline __u64 go_arg6(const struct pt_regs *ctx) { return ctx->r8; }

#endif

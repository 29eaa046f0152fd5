#ifndef STATEJOURNAL_CFILECALLS_H
#define STATEJOURNAL_CFILECALLS_H

/// Atomically exchanges the files named `a` and `b` (Linux renameat2(2) with
/// RENAME_EXCHANGE, both names relative to the working directory). Returns 0,
/// or -1 with errno set (ENOENT when either name is missing; EINVAL or ENOSYS
/// where the kernel or file system cannot exchange).
int statejournal_exchange(const char *a, const char *b);

#endif

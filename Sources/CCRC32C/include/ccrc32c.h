#ifndef STATEJOURNAL_CCRC32C_H
#define STATEJOURNAL_CCRC32C_H
#include <stddef.h>
#include <stdint.h>

/// Whether this CPU computes CRC-32C in hardware (x86-64 with SSE4.2).
int statejournal_crc32c_hardware(void);

/// Extends the raw (not inverted) CRC-32C register `crc` over `count` bytes
/// with the CPU's crc32 instruction. Call only when
/// statejournal_crc32c_hardware() returned 1.
uint32_t statejournal_crc32c_update(uint32_t crc, const void *bytes, size_t count);

#endif

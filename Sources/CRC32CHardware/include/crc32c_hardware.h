#ifndef RAFTHOST_CRC32C_HARDWARE_H
#define RAFTHOST_CRC32C_HARDWARE_H

#include <stddef.h>
#include <stdint.h>

/// Whether this CPU has a CRC-32C instruction (SSE 4.2 on x86-64, the CRC extension on ARM64).
int rafthost_crc32c_hardware_available(void);

/// The raw CRC-32C register after `count` bytes at `bytes`, from `crc` (no inversion before or
/// after: the caller does them). Only when `rafthost_crc32c_hardware_available()`.
uint32_t rafthost_crc32c_hardware_update(uint32_t crc, const void *bytes, size_t count);

#endif

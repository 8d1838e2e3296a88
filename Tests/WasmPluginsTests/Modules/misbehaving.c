// A plugin that misbehaves on command, for the tests of the WebAssembly host (built by
// `make wasm-examples` into build/). Commands:
//   loop   never returns (runs out of fuel)        trap   executes `unreachable`
//   oob    reads past the end of memory            grow   grows memory by 64 MiB
//   anything else: counts it and answers the count, one byte.
// Built three ways: as is (misbehaving.wasm); with -DIMPORT_CLOCK, importing the WASI clock
// (imports-clock.wasm); with -DWITHOUT_SNAPSHOT, lacking rh_snapshot (missing-snapshot.wasm).

typedef unsigned char u8;
typedef unsigned int u32;
typedef unsigned long long u64;

#define EXPORT(name) __attribute__((export_name(#name)))

static u8 input[256];
static u8 count;

#ifdef IMPORT_CLOCK
__attribute__((import_module("wasi_snapshot_preview1"), import_name("clock_time_get")))
u32 clock_time_get(u32 clock, u64 precision, u64 *time);
#endif

static int is(const u8 *command, u32 length, const char *word) {
    u32 i = 0;
    for (; word[i]; i++)
        if (i >= length || command[i] != (u8)word[i]) return 0;
    return i == length;
}

EXPORT(rh_abi_version) u32 rh_abi_version(void) { return 1; }

EXPORT(rh_name) u64 rh_name(void) {
    static const char name[] = "Misbehaving";
    return ((u64)(u32)name << 32) | (sizeof(name) - 1);
}

EXPORT(rh_alloc) u8 *rh_alloc(u32 length) { return length <= sizeof(input) ? input : 0; }

EXPORT(rh_apply) u64 rh_apply(const u8 *command, u32 length, u64 index, u64 time) {
    (void)index;
    (void)time;
    if (is(command, length, "loop")) {
        volatile u32 spin = 0;
        for (;;) spin++;
    }
    if (is(command, length, "trap")) __builtin_trap();
    if (is(command, length, "oob")) return *(volatile u64 *)0xfffffff0u;
    if (is(command, length, "grow")) {
        // Past the cap the host stops the call; -1 (the module's own maximum) traps here.
        if (__builtin_wasm_memory_grow(0, 1024) == (unsigned long)-1) __builtin_trap();
    }
#ifdef IMPORT_CLOCK
    u64 now;
    clock_time_get(0, 1, &now);
    count += (u8)now;
#endif
    count++;
    return ((u64)(u32)&count << 32) | 1;
}

EXPORT(rh_query) u64 rh_query(const u8 *query, u32 length, u64 index, u64 time) {
    (void)query;
    (void)length;
    (void)index;
    (void)time;
    return ((u64)(u32)&count << 32) | 1;
}

#ifndef WITHOUT_SNAPSHOT
EXPORT(rh_snapshot) u64 rh_snapshot(void) { return ((u64)(u32)&count << 32) | 1; }
#endif

EXPORT(rh_restore) u32 rh_restore(const u8 *bytes, u32 length) {
    if (length != 1) return 1;
    count = bytes[0];
    return 0;
}

/*
 * rafthost_plugin.h: the C ABI of RaftHost native plugins, version 1.
 *
 * A native plugin is a shared library (.so, .dylib) that RaftHost loads at start-up when
 * cluster.yaml lists it:
 *
 *     plugins:
 *       - native: path/to/libcounter.so
 *
 * It is a replicated state machine driven with bytes: the host applies the bytes of committed
 * commands in log order on every replica, answers queries, and saves and restores the state
 * in snapshots. What the bytes mean is the plugin's business; clients send them through
 * `POST /v1/groups/{group}/command` and `.../query` with `Content-Type:
 * application/octet-stream`, or `raftctl call`.
 *
 * The library exports one symbol, `rafthost_plugin_entry`, returning a table of functions
 * (`rafthost_plugin`) that stays valid for the life of the process. The host never unloads a
 * plugin.
 *
 * Rules (the same as for the Swift `StateMachine` protocol):
 *
 * - Determinism. `apply` may depend on nothing but the state, the command bytes, the log
 *   index and the log time it is given: no clock, no random numbers, no I/O, no addresses,
 *   no iteration order of a hash table seeded per process. Every replica applies the same
 *   commands with the same index and time and must reach the same state and return the same
 *   bytes, errors included: an error from `apply` is that command's answer on every replica.
 * - Snapshots. `snapshot` returns the whole state; equal states give equal bytes. `restore`
 *   replaces the state with one from `snapshot` bytes, and leaves it unchanged when it fails.
 * - Errors, never crashes. A command or snapshot that does not decode returns
 *   `RAFTHOST_PLUGIN_ERROR` with a UTF-8 message; the host answers the client with it. Aborting
 *   or crashing takes the whole node down.
 * - Threads. The host never calls two functions on the same state at once, but it may call
 *   functions on different states (one per Raft group) on different threads at the same
 *   time: keep all mutable data in the state.
 * - Memory. Every buffer the plugin returns is owned by the plugin and handed back to
 *   `free_buffer` exactly once when the host has copied it (a buffer with `data == NULL` is
 *   not handed back). Input pointers are valid only during the call. An input of length 0
 *   may come with a NULL pointer.
 *
 * Versioning. `abi_version` is the first field and is read before any other: a host reads
 * the rest of the table only when it equals the version it was built for, and refuses the
 * library otherwise, naming both versions. Any change to this file that is not a pure
 * addition of documentation bumps RAFTHOST_PLUGIN_ABI_VERSION.
 *
 * A minimal plugin in C (a counter whose commands add a little-endian int64):
 *
 *     #include "rafthost_plugin.h"
 *     static int32_t create(void **state, rafthost_buffer *error) { ... }
 *     ...
 *     static const rafthost_plugin table = {
 *         RAFTHOST_PLUGIN_ABI_VERSION, "Counter", create, destroy, apply, query, snapshot,
 *         restore, free_buffer,
 *     };
 *     const rafthost_plugin *rafthost_plugin_entry(void) { return &table; }
 *
 * Build it with `cc -shared -fPIC -o libcounter.so counter.c -I<RaftHost>/include`.
 * Examples/NativeCounter/c/kv.c in the RaftHost repository is a complete one; a Swift
 * library exports any `StateMachine` with one line through the RaftHostPluginExport module.
 */
#ifndef RAFTHOST_PLUGIN_H
#define RAFTHOST_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** The version of this ABI; the value of `rafthost_plugin.abi_version`. */
#define RAFTHOST_PLUGIN_ABI_VERSION 1u

/** The name of the one symbol a plugin library exports. */
#define RAFTHOST_PLUGIN_ENTRY_SYMBOL "rafthost_plugin_entry"

/** A call succeeded: the output buffer holds its result (possibly empty). */
#define RAFTHOST_PLUGIN_OK 0
/** A call failed: the output buffer holds a UTF-8 message saying why (possibly empty). */
#define RAFTHOST_PLUGIN_ERROR 1

/**
 * Bytes returned by the plugin: a response, a snapshot or an error message.
 *
 * The host sets both fields to zero before each call. The plugin allocates `data` as it likes
 * (or leaves it NULL when `length` is 0) and the host returns it to `free_buffer`.
 */
typedef struct rafthost_buffer {
    uint8_t *data;
    size_t length;
} rafthost_buffer;

/**
 * The function table of a plugin, returned by `rafthost_plugin_entry`.
 *
 * Every function pointer must be non-NULL. Each function returning `int32_t` returns
 * RAFTHOST_PLUGIN_OK or RAFTHOST_PLUGIN_ERROR (any other value counts as an error).
 */
typedef struct rafthost_plugin {
    /** RAFTHOST_PLUGIN_ABI_VERSION of the header the plugin was built with. */
    uint32_t abi_version;

    /**
     * The name cluster.yaml gives under `groups[].stateMachine`: NUL-terminated UTF-8, unique
     * among the host's plugins, valid for the life of the process.
     */
    const char *name;

    /**
     * Makes a new, empty state in `*state` (one per Raft group; any non-NULL pointer, the
     * host passes it back unchanged). On error, `*error` is the message.
     */
    int32_t (*create)(void **state, rafthost_buffer *error);

    /** Frees a state made by `create`. The host never uses it again. */
    void (*destroy)(void *state);

    /**
     * Applies a committed command: the entry at log `index` (strictly increasing from one
     * command to the next), stamped with log `time` in milliseconds (never decreasing).
     * On success `*output` is the response; on error it is the message and the command is
     * answered with that error. Either way the outcome must be the same on every replica.
     */
    int32_t (*apply)(
        void *state,
        const uint8_t *command,
        size_t command_length,
        uint64_t index,
        uint64_t time,
        rafthost_buffer *output
    );

    /**
     * Answers a query on the state after log `index` (its log `time`), without changing it.
     * On success `*output` is the response; on error it is the message.
     */
    int32_t (*query)(
        const void *state,
        const uint8_t *query,
        size_t query_length,
        uint64_t index,
        uint64_t time,
        rafthost_buffer *output
    );

    /** Serializes the whole state into `*output` (or an error message). */
    int32_t (*snapshot)(const void *state, rafthost_buffer *output);

    /**
     * Replaces the state with one from `snapshot` bytes. On error `*error` is the message and
     * the state must be left as it was.
     */
    int32_t (*restore)(void *state, const uint8_t *snapshot, size_t snapshot_length, rafthost_buffer *error);

    /** Frees a buffer this plugin returned (its `data`; never called with NULL data). */
    void (*free_buffer)(rafthost_buffer buffer);
} rafthost_plugin;

/**
 * The entry point: the one symbol a plugin exports. Returns the plugin's table, which must
 * stay valid and unchanged for the life of the process; may be called more than once.
 */
const rafthost_plugin *rafthost_plugin_entry(void);

#ifdef __cplusplus
}
#endif

#endif /* RAFTHOST_PLUGIN_H */

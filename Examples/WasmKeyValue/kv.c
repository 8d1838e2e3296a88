// A key/value store as a RaftHost WebAssembly plugin, in C without a libc (ABI version 1:
// Sources/WasmPlugins/Docs.docc/WasmPluginABI.md). Built by `make wasm-examples`. A toy: the
// entries are an array searched linearly, and the space of deleted or overwritten keys and
// values is not reused.
//
// Commands, as text:  set <key> <value>   answers the previous value, or nothing
//                     del <key>           answers the deleted value, or nothing
// Queries, as text:   get <key>           answers the value; an unknown key is an error
//                     count               answers the number of keys in decimal
// Anything else is answered with an error and leaves the state unchanged.

typedef unsigned char u8;
typedef unsigned int u32;
typedef unsigned long long u64;

#define EXPORT(name) __attribute__((export_name(#name)))

extern u8 __heap_base;

// ---- memory: a bump allocator over the linear memory ---------------------------------------

static u32 heap_top;

static u8 *alloc(u32 size) {
    if (heap_top == 0) heap_top = (u32)&__heap_base;
    u32 start = (heap_top + 7u) & ~7u;
    u64 end = (u64)start + size;
    u64 have = (u64)__builtin_wasm_memory_size(0) * 65536u;
    if (end > have) {
        u64 pages = (end - have + 65535u) / 65536u;
        // Past the host's memory cap the host stops the call with an error, so -1 only comes back
        // when the module's own maximum is reached.
        if (__builtin_wasm_memory_grow(0, (unsigned long)pages) == (unsigned long)-1) __builtin_trap();
    }
    heap_top = (u32)end;
    return (u8 *)start;
}

static void copy(u8 *to, const u8 *from, u32 count) {
    for (u32 i = 0; i < count; i++) to[i] = from[i];
}

static int same(const u8 *a, u32 alen, const u8 *b, u32 blen) {
    if (alen != blen) return 0;
    for (u32 i = 0; i < alen; i++)
        if (a[i] != b[i]) return 0;
    return 1;
}

// A buffer that is reused from call to call and grows when too small.
typedef struct {
    u8 *bytes;
    u32 capacity;
} Buffer;

static u8 *reserve(Buffer *buffer, u32 size) {
    if (size > buffer->capacity) {
        buffer->capacity = size < 64 ? 64 : size;
        buffer->bytes = alloc(buffer->capacity);
    }
    return buffer->bytes;
}

// ---- the state -------------------------------------------------------------------------------

typedef struct {
    u8 *key;
    u32 key_length;
    u8 *value;
    u32 value_length;
} Entry;

static Entry *entries;
static u32 count, capacity;

static Entry *find(const u8 *key, u32 length) {
    for (u32 i = 0; i < count; i++)
        if (same(entries[i].key, entries[i].key_length, key, length)) return &entries[i];
    return 0;
}

static void put(const u8 *key, u32 key_length, const u8 *value, u32 value_length) {
    Entry *entry = find(key, key_length);
    if (!entry) {
        if (count == capacity) {
            u32 grown = capacity ? capacity * 2 : 16;
            Entry *moved = (Entry *)alloc(grown * (u32)sizeof(Entry));
            copy((u8 *)moved, (u8 *)entries, count * (u32)sizeof(Entry));
            entries = moved;
            capacity = grown;
        }
        entry = &entries[count++];
        entry->key = alloc(key_length);
        copy(entry->key, key, key_length);
        entry->key_length = key_length;
        entry->value_length = 0;
    }
    if (value_length > entry->value_length) entry->value = alloc(value_length);
    copy(entry->value, value, value_length);
    entry->value_length = value_length;
}

// ---- answers: ptr << 32 | length, the top bit of the length flagging an error message --------

static Buffer input, output;

static u64 answer(const u8 *bytes, u32 length) {
    u8 *out = reserve(&output, length);
    copy(out, bytes, length);
    return ((u64)(u32)out << 32) | length;
}

static u64 fail(const char *message) {
    u32 length = 0;
    while (message[length]) length++;
    return answer((const u8 *)message, length) | 0x80000000u;
}

// Splits `<word> <rest>` at the first space; false without one.
static int split(const u8 *text, u32 length, u32 *word_length) {
    for (u32 i = 0; i < length; i++)
        if (text[i] == ' ') {
            *word_length = i;
            return 1;
        }
    return 0;
}

// ---- the ABI ---------------------------------------------------------------------------------

EXPORT(rh_abi_version) u32 rh_abi_version(void) { return 1; }

EXPORT(rh_name) u64 rh_name(void) {
    static const char name[] = "WasmKeyValue";
    return ((u64)(u32)name << 32) | (sizeof(name) - 1);
}

EXPORT(rh_alloc) u8 *rh_alloc(u32 length) { return reserve(&input, length); }

EXPORT(rh_apply) u64 rh_apply(const u8 *command, u32 length, u64 index, u64 time) {
    (void)index;
    (void)time;
    if (length > 4 && same(command, 4, (const u8 *)"set ", 4)) {
        const u8 *key = command + 4;
        u32 key_length;
        if (!split(key, length - 4, &key_length) || key_length == 0) return fail("usage: set <key> <value>");
        const u8 *value = key + key_length + 1;
        u32 value_length = length - 4 - key_length - 1;
        Entry *old = find(key, key_length);
        u64 previous = old ? answer(old->value, old->value_length) : answer(0, 0);
        put(key, key_length, value, value_length);
        return previous;
    }
    if (length > 4 && same(command, 4, (const u8 *)"del ", 4)) {
        Entry *entry = find(command + 4, length - 4);
        if (!entry) return answer(0, 0);
        u64 previous = answer(entry->value, entry->value_length);
        *entry = entries[--count];
        return previous;
    }
    return fail("unknown command: use set <key> <value> or del <key>");
}

EXPORT(rh_query) u64 rh_query(const u8 *query, u32 length, u64 index, u64 time) {
    (void)index;
    (void)time;
    if (length > 4 && same(query, 4, (const u8 *)"get ", 4)) {
        Entry *entry = find(query + 4, length - 4);
        return entry ? answer(entry->value, entry->value_length) : fail("no such key");
    }
    if (same(query, length, (const u8 *)"count", 5)) {
        u8 digits[10];
        u32 at = 10, n = count;
        do {
            digits[--at] = (u8)('0' + n % 10);
            n /= 10;
        } while (n);
        return answer(digits + at, 10 - at);
    }
    return fail("unknown query: use get <key> or count");
}

// Snapshot: for each entry in order, u32 key length, key, u32 value length, value (little endian).

static void put_u32(u8 *at, u32 value) {
    for (int i = 0; i < 4; i++) at[i] = (u8)(value >> (8 * i));
}

static u32 get_u32(const u8 *at) { return at[0] | (u32)at[1] << 8 | (u32)at[2] << 16 | (u32)at[3] << 24; }

EXPORT(rh_snapshot) u64 rh_snapshot(void) {
    u32 size = 0;
    for (u32 i = 0; i < count; i++) size += 8 + entries[i].key_length + entries[i].value_length;
    u8 *out = reserve(&output, size), *at = out;
    for (u32 i = 0; i < count; i++) {
        put_u32(at, entries[i].key_length);
        copy(at + 4, entries[i].key, entries[i].key_length);
        at += 4 + entries[i].key_length;
        put_u32(at, entries[i].value_length);
        copy(at + 4, entries[i].value, entries[i].value_length);
        at += 4 + entries[i].value_length;
    }
    return ((u64)(u32)out << 32) | size;
}

// Called once on a fresh instance: checks the whole snapshot before taking any of it.
EXPORT(rh_restore) u32 rh_restore(const u8 *bytes, u32 length) {
    u32 at = 0;
    while (at < length) {
        for (int part = 0; part < 2; part++) {
            if (length - at < 4 || length - at - 4 < get_u32(bytes + at)) return 1;
            at += 4 + get_u32(bytes + at);
        }
    }
    at = 0;
    while (at < length) {
        u32 key_length = get_u32(bytes + at);
        const u8 *key = bytes + at + 4;
        at += 4 + key_length;
        u32 value_length = get_u32(bytes + at);
        put(key, key_length, bytes + at + 4, value_length);
        at += 4 + value_length;
    }
    return 0;
}

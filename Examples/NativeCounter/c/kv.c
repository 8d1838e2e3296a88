/*
 * CKeyValue: a key/value store written in C against include/rafthost_plugin.h, the proof that
 * the plugin ABI needs nothing from Swift.
 *
 *   command  `key=value`  sets key to value (the first `=` splits), answers the value
 *   query    `key`        answers the value; an unknown key is an error
 *   snapshot              entries sorted by key, each a 4-byte little-endian length and the
 *                         key, then the same for the value
 *
 * Build: cc -shared -fPIC -std=c11 -I../../include -o libCKeyValue.so kv.c
 */
#include "rafthost_plugin.h"

#include <stdlib.h>
#include <string.h>

typedef struct entry {
    uint8_t *key;
    size_t key_length;
    uint8_t *value;
    size_t value_length;
} entry;

/* Entries sorted by key (bytewise, shorter first on a common prefix). */
typedef struct store {
    entry *entries;
    size_t count;
    size_t capacity;
} store;

static int32_t message(rafthost_buffer *output, const char *text) {
    size_t length = strlen(text);
    output->data = malloc(length > 0 ? length : 1);
    if (output->data != NULL) {
        memcpy(output->data, text, length);
        output->length = length;
    }
    return RAFTHOST_PLUGIN_ERROR;
}

static int32_t bytes(rafthost_buffer *output, const uint8_t *data, size_t length) {
    if (length == 0) {
        return RAFTHOST_PLUGIN_OK;
    }
    output->data = malloc(length);
    if (output->data == NULL) {
        return message(output, "out of memory");
    }
    memcpy(output->data, data, length);
    output->length = length;
    return RAFTHOST_PLUGIN_OK;
}

static int compare(const uint8_t *a, size_t a_length, const uint8_t *b, size_t b_length) {
    size_t common = a_length < b_length ? a_length : b_length;
    int order = common > 0 ? memcmp(a, b, common) : 0;
    if (order != 0) {
        return order;
    }
    return a_length < b_length ? -1 : (a_length > b_length ? 1 : 0);
}

/* The index of `key`, or where it would go; `*found` says which. */
static size_t search(const store *s, const uint8_t *key, size_t length, int *found) {
    size_t low = 0, high = s->count;
    while (low < high) {
        size_t middle = low + (high - low) / 2;
        int order = compare(s->entries[middle].key, s->entries[middle].key_length, key, length);
        if (order == 0) {
            *found = 1;
            return middle;
        }
        if (order < 0) {
            low = middle + 1;
        } else {
            high = middle;
        }
    }
    *found = 0;
    return low;
}

static uint8_t *copy(const uint8_t *data, size_t length) {
    uint8_t *result = malloc(length > 0 ? length : 1);
    if (result != NULL && length > 0) {
        memcpy(result, data, length);
    }
    return result;
}

/* Sets key to value; 0 on success, -1 when out of memory (the store is unchanged). */
static int set(store *s, const uint8_t *key, size_t key_length, const uint8_t *value, size_t value_length) {
    int found;
    size_t index = search(s, key, key_length, &found);
    uint8_t *new_value = copy(value, value_length);
    if (new_value == NULL) {
        return -1;
    }
    if (found) {
        free(s->entries[index].value);
        s->entries[index].value = new_value;
        s->entries[index].value_length = value_length;
        return 0;
    }
    uint8_t *new_key = copy(key, key_length);
    if (new_key == NULL) {
        free(new_value);
        return -1;
    }
    if (s->count == s->capacity) {
        size_t capacity = s->capacity > 0 ? s->capacity * 2 : 8;
        entry *entries = realloc(s->entries, capacity * sizeof(entry));
        if (entries == NULL) {
            free(new_key);
            free(new_value);
            return -1;
        }
        s->entries = entries;
        s->capacity = capacity;
    }
    memmove(&s->entries[index + 1], &s->entries[index], (s->count - index) * sizeof(entry));
    s->entries[index] = (entry){new_key, key_length, new_value, value_length};
    s->count += 1;
    return 0;
}

static void clear(store *s) {
    for (size_t i = 0; i < s->count; i++) {
        free(s->entries[i].key);
        free(s->entries[i].value);
    }
    free(s->entries);
    *s = (store){0};
}

static int32_t kv_create(void **state, rafthost_buffer *error) {
    store *s = calloc(1, sizeof(store));
    if (s == NULL) {
        return message(error, "out of memory");
    }
    *state = s;
    return RAFTHOST_PLUGIN_OK;
}

static void kv_destroy(void *state) {
    clear(state);
    free(state);
}

static int32_t kv_apply(
    void *state, const uint8_t *command, size_t length, uint64_t index, uint64_t time, rafthost_buffer *output
) {
    (void)index;
    (void)time;
    const uint8_t *equals = length > 0 ? memchr(command, '=', length) : NULL;
    if (equals == NULL || equals == command) {
        return message(output, "a command is key=value with a non-empty key");
    }
    size_t key_length = (size_t)(equals - command);
    const uint8_t *value = equals + 1;
    size_t value_length = length - key_length - 1;
    if (set(state, command, key_length, value, value_length) != 0) {
        return message(output, "out of memory");
    }
    return bytes(output, value, value_length);
}

static int32_t kv_query(
    const void *state, const uint8_t *key, size_t length, uint64_t index, uint64_t time, rafthost_buffer *output
) {
    (void)index;
    (void)time;
    const store *s = state;
    int found;
    size_t at = search(s, key, length, &found);
    if (!found) {
        return message(output, "no such key");
    }
    return bytes(output, s->entries[at].value, s->entries[at].value_length);
}

static void put_length(uint8_t *out, size_t length) {
    for (int i = 0; i < 4; i++) {
        out[i] = (uint8_t)(length >> (8 * i));
    }
}

static int32_t kv_snapshot(const void *state, rafthost_buffer *output) {
    const store *s = state;
    size_t total = 0;
    for (size_t i = 0; i < s->count; i++) {
        total += 8 + s->entries[i].key_length + s->entries[i].value_length;
    }
    if (total == 0) {
        return RAFTHOST_PLUGIN_OK;
    }
    uint8_t *out = malloc(total);
    if (out == NULL) {
        return message(output, "out of memory");
    }
    size_t at = 0;
    for (size_t i = 0; i < s->count; i++) {
        const entry *e = &s->entries[i];
        put_length(out + at, e->key_length);
        memcpy(out + at + 4, e->key, e->key_length);
        at += 4 + e->key_length;
        put_length(out + at, e->value_length);
        memcpy(out + at + 4, e->value, e->value_length);
        at += 4 + e->value_length;
    }
    output->data = out;
    output->length = total;
    return RAFTHOST_PLUGIN_OK;
}

/* Reads a length and the bytes after it; 0 on success, -1 when the input ends first. */
static int take(const uint8_t *in, size_t length, size_t *at, const uint8_t **field, size_t *field_length) {
    if (length - *at < 4) {
        return -1;
    }
    size_t n = 0;
    for (int i = 0; i < 4; i++) {
        n |= (size_t)in[*at + i] << (8 * i);
    }
    *at += 4;
    if (length - *at < n) {
        return -1;
    }
    *field = in + *at;
    *field_length = n;
    *at += n;
    return 0;
}

static int32_t kv_restore(void *state, const uint8_t *snapshot, size_t length, rafthost_buffer *error) {
    store restored = {0};
    size_t at = 0;
    const uint8_t *previous = NULL;
    size_t previous_length = 0;
    while (at < length) {
        const uint8_t *key, *value;
        size_t key_length, value_length;
        if (take(snapshot, length, &at, &key, &key_length) != 0
            || take(snapshot, length, &at, &value, &value_length) != 0) {
            clear(&restored);
            return message(error, "the snapshot is truncated");
        }
        if (previous != NULL && compare(previous, previous_length, key, key_length) >= 0) {
            clear(&restored);
            return message(error, "the snapshot's keys are not sorted and distinct");
        }
        if (set(&restored, key, key_length, value, value_length) != 0) {
            clear(&restored);
            return message(error, "out of memory");
        }
        previous = key;
        previous_length = key_length;
    }
    store *s = state;
    clear(s);
    *s = restored;
    return RAFTHOST_PLUGIN_OK;
}

static void kv_free_buffer(rafthost_buffer buffer) {
    free(buffer.data);
}

static const rafthost_plugin table = {
    .abi_version = RAFTHOST_PLUGIN_ABI_VERSION,
    .name = "CKeyValue",
    .create = kv_create,
    .destroy = kv_destroy,
    .apply = kv_apply,
    .query = kv_query,
    .snapshot = kv_snapshot,
    .restore = kv_restore,
    .free_buffer = kv_free_buffer,
};

const rafthost_plugin *rafthost_plugin_entry(void) {
    return &table;
}

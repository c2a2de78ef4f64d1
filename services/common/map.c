/*
 * map.c — open addressing with tombstones, grown at 70 % load. Each slot keeps its key's hash: a probe
 * compares strings only when the hashes are equal, and growing does not hash again.
 */
#include "map.h"
#include "util.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define TOMBSTONE ((char *)1)

typedef struct {
    char *key;
    void *value;
    uint64_t hash;
} slot;

struct sq_map {
    slot *slots;
    size_t cap, len, used; /* used = live + tombstones */
};

sq_map *sq_map_new(size_t initial)
{
    sq_map *m = calloc(1, sizeof *m);
    size_t cap = 16;
    while (cap < initial * 2)
        cap *= 2;
    m->slots = calloc(cap, sizeof *m->slots);
    m->cap = cap;
    return m;
}

void sq_map_free(sq_map *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->cap; i++)
        if (m->slots[i].key && m->slots[i].key != TOMBSTONE)
            free(m->slots[i].key);
    free(m->slots);
    free(m);
}

void sq_map_clear(sq_map *m, void (*free_value)(void *value))
{
    for (size_t i = 0; i < m->cap; i++) {
        slot *s = &m->slots[i];
        if (s->key && s->key != TOMBSTONE) {
            if (free_value)
                free_value(s->value);
            free(s->key);
        }
    }
    memset(m->slots, 0, m->cap * sizeof *m->slots);
    m->len = m->used = 0;
}

static size_t find(const sq_map *m, const char *key, uint64_t hash, bool *found)
{
    size_t mask = m->cap - 1, i = hash & mask, first_free = (size_t)-1;
    for (;;) {
        slot *s = &m->slots[i];
        if (!s->key) {
            *found = false;
            return first_free != (size_t)-1 ? first_free : i;
        }
        if (s->key == TOMBSTONE) {
            if (first_free == (size_t)-1)
                first_free = i;
        } else if (s->hash == hash && strcmp(s->key, key) == 0) {
            *found = true;
            return i;
        }
        i = (i + 1) & mask;
    }
}

static void grow(sq_map *m)
{
    slot *old = m->slots;
    size_t oldcap = m->cap;
    m->cap = m->len * 4 > oldcap ? oldcap * 2 : oldcap;
    m->slots = calloc(m->cap, sizeof *m->slots);
    m->used = m->len;
    for (size_t i = 0; i < oldcap; i++)
        if (old[i].key && old[i].key != TOMBSTONE) {
            bool found;
            size_t j = find(m, old[i].key, old[i].hash, &found);
            m->slots[j] = old[i];
        }
    free(old);
}

/* FNV-1a, then a finalizer (MurmurHash3's): the low bits that pick the slot depend on every bit of the
 * key, so keys that differ only in their last characters do not crowd one run of slots. */
static uint64_t hash_of(const char *key)
{
    uint64_t h = sq_fnv1a(key, strlen(key));
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}

void *sq_map_get(const sq_map *m, const char *key)
{
    bool found;
    size_t i = find(m, key, hash_of(key), &found);
    return found ? m->slots[i].value : NULL;
}

void *sq_map_put(sq_map *m, const char *key, void *value)
{
    if ((m->used + 1) * 10 >= m->cap * 7)
        grow(m);
    bool found;
    uint64_t h = hash_of(key);
    size_t i = find(m, key, h, &found);
    if (found) {
        void *prev = m->slots[i].value;
        m->slots[i].value = value;
        return prev;
    }
    if (!m->slots[i].key)
        m->used++;
    m->slots[i].key = strdup(key);
    m->slots[i].value = value;
    m->slots[i].hash = h;
    m->len++;
    return NULL;
}

void *sq_map_del(sq_map *m, const char *key)
{
    bool found;
    size_t i = find(m, key, hash_of(key), &found);
    if (!found)
        return NULL;
    void *v = m->slots[i].value;
    free(m->slots[i].key);
    m->slots[i].key = TOMBSTONE;
    m->slots[i].value = NULL;
    m->len--;
    return v;
}

size_t sq_map_len(const sq_map *m) { return m->len; }

static void visit(sq_map *m, size_t from, size_t to, int (*fn)(void *ctx, const char *key, void *value), void *ctx)
{
    for (size_t i = from; i < to; i++) {
        slot *s = &m->slots[i];
        if (!s->key || s->key == TOMBSTONE)
            continue;
        if (fn(ctx, s->key, s->value)) {
            free(s->key);
            s->key = TOMBSTONE;
            s->value = NULL;
            m->len--;
        }
    }
}

void sq_map_each(sq_map *m, int (*fn)(void *ctx, const char *key, void *value), void *ctx) { visit(m, 0, m->cap, fn, ctx); }

void sq_map_sweep(sq_map *m, size_t *cursor, size_t share, int (*fn)(void *ctx, const char *key, void *value), void *ctx)
{
    size_t n = m->cap / (share ? share : 1) + 1;
    if (n < 64)
        n = 64;
    size_t from = *cursor < m->cap ? *cursor : 0, to = from + n < m->cap ? from + n : m->cap;
    visit(m, from, to, fn, ctx);
    *cursor = to < m->cap ? to : 0;
}

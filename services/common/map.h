/*
 * map.h — a string-keyed hash map (open addressing, linear probing). Keys are
 * copied; values are borrowed pointers the caller owns. Single-threaded.
 */
#ifndef SQ_MAP_H
#define SQ_MAP_H

#include <stdbool.h>
#include <stddef.h>

typedef struct sq_map sq_map;

sq_map *sq_map_new(size_t initial);
/* Frees the map and its keys; values are the caller's. Accepts NULL. */
void sq_map_free(sq_map *m);
void *sq_map_get(const sq_map *m, const char *key);
/* Inserts or replaces; returns the previous value (or NULL). */
void *sq_map_put(sq_map *m, const char *key, void *value);
/* Removes; returns the value that was there (or NULL). */
void *sq_map_del(sq_map *m, const char *key);
size_t sq_map_len(const sq_map *m);
/* Removes every entry (free_value, if not NULL, is called on each value) and keeps the capacity:
 * unlike deleting entry by entry, it leaves no tombstones behind. */
void sq_map_clear(sq_map *m, void (*free_value)(void *value));
/* Calls fn for every entry; fn returns non-zero to delete that entry (after fn has freed the value). */
void sq_map_each(sq_map *m, int (*fn)(void *ctx, const char *key, void *value), void *ctx);
/*
 * sq_map_each over a slice: the entries in the next `share` of the map's slots from *cursor (share 100 →
 * a hundredth, at least 64 slots), moving *cursor on and back to 0 past the end. Called every tick, it
 * visits the whole map every `share` ticks without ever stopping the caller for a whole walk. Entries put
 * while a round is under way may be visited in the next round only.
 */
void sq_map_sweep(sq_map *m, size_t *cursor, size_t share, int (*fn)(void *ctx, const char *key, void *value), void *ctx);

#endif

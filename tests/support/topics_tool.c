/*
 * topics_tool — for tests written in other languages:
 *   topics_tool create|delete <prefix>   a prefixed copy of the topics of DESIGN.md §2 with the stack's
 *                                        partition counts and configurations (ts_create_topic_set)
 *   topics_tool config <topic> <name>    prints a topic's configuration as the broker reports it
 *   topics_tool copy <from> <to>         copies a topic message by message: same partition, key, value,
 *                                        headers and Kafka timestamp (ts_copy_topic); prints the count
 */
#include <stdio.h>
#include <string.h>

#include "testsupport.h"

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "config") == 0) {
        char v[512];
        if (ts_topic_config_get(argv[2], argv[3], v, sizeof v, NULL) != 0) {
            fprintf(stderr, "topics_tool: no configuration %s of topic %s\n", argv[3], argv[2]);
            return 1;
        }
        printf("%s\n", v);
        return 0;
    }
    if (argc == 4 && strcmp(argv[1], "copy") == 0) {
        int64_t n = ts_copy_topic(argv[2], argv[3]);
        if (n < 0) {
            fprintf(stderr, "topics_tool: copying %s to %s failed\n", argv[2], argv[3]);
            return 1;
        }
        printf("%lld\n", (long long)n);
        return 0;
    }
    if (argc != 3 || (strcmp(argv[1], "create") != 0 && strcmp(argv[1], "delete") != 0)) {
        fprintf(stderr, "usage: topics_tool create|delete <prefix> | config <topic> <name> | copy <from> <to>\n");
        return 2;
    }
    if (strcmp(argv[1], "create") == 0)
        return ts_create_topic_set(argv[2]) == 0 ? 0 : 1;
    ts_delete_topic_set(argv[2]);
    return 0;
}

/*
 * topics_tool — for tests written in other languages:
 *   topics_tool create|delete <prefix>   a prefixed copy of the topics of DESIGN.md §2 with the stack's
 *                                        partition counts and configurations (ts_create_topic_set)
 *   topics_tool config <topic> <name>    prints a topic's configuration as the broker reports it
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
    if (argc != 3 || (strcmp(argv[1], "create") != 0 && strcmp(argv[1], "delete") != 0)) {
        fprintf(stderr, "usage: topics_tool create|delete <prefix> | topics_tool config <topic> <name>\n");
        return 2;
    }
    if (strcmp(argv[1], "create") == 0)
        return ts_create_topic_set(argv[2]) == 0 ? 0 : 1;
    ts_delete_topic_set(argv[2]);
    return 0;
}

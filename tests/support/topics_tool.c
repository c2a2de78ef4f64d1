/*
 * topics_tool — creates or deletes a prefixed copy of the topics of DESIGN.md §2,
 * for tests written in other languages: topics_tool create|delete <prefix>.
 */
#include <stdio.h>
#include <string.h>

#include "testsupport.h"

int main(int argc, char **argv)
{
    if (argc != 3 || (strcmp(argv[1], "create") != 0 && strcmp(argv[1], "delete") != 0)) {
        fprintf(stderr, "usage: topics_tool create|delete <prefix>\n");
        return 2;
    }
    if (strcmp(argv[1], "create") == 0)
        return ts_create_topic_set(argv[2]) == 0 ? 0 : 1;
    ts_delete_topic_set(argv[2]);
    return 0;
}

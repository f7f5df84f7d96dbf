#include "util/options.h"

#include <string.h>

char *optlist_next(char **cursor, char **value)
{
	char *item, *eq, *comma;

	while (*cursor && **cursor == ',')
		(*cursor)++;
	if (!*cursor || !**cursor)
		return NULL;
	item = *cursor;
	comma = strchr(item, ',');
	if (comma) {
		*comma = '\0';
		*cursor = comma + 1;
	} else {
		*cursor = NULL;
	}
	eq = strchr(item, '=');
	if (eq)
		*eq = '\0';
	*value = eq ? eq + 1 : NULL;
	return item;
}

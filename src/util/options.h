/* Splitting "-o a,b=c" option lists. */
#pragma once

/*
 * Returns the next item of a comma list (modifying the string in place) and
 * sets *value to the text after '=' or NULL. Returns NULL at the end.
 */
char *optlist_next(char **cursor, char **value);

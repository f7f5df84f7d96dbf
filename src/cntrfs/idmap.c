#include "cntrfs/idmap.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>

static bool ranges_overlap(uint32_t a, uint32_t b, uint32_t count_a, uint32_t count_b)
{
	uint64_t a_end = (uint64_t)a + count_a, b_end = (uint64_t)b + count_b;

	return a < b_end && b < a_end;
}

static int parse_u32(const char **p, uint32_t *out)
{
	char *end;
	unsigned long long v;

	if (!isdigit((unsigned char)**p))
		return -EINVAL;
	errno = 0;
	v = strtoull(*p, &end, 10);
	if (errno || v > UINT32_MAX)
		return -EINVAL;
	*p = end;
	*out = (uint32_t)v;
	return 0;
}

static void skip_blanks(const char **p)
{
	while (**p == ' ' || **p == '\t')
		(*p)++;
}

/* Between the numbers of one extent: ':' or blanks. */
static int skip_field_sep(const char **p)
{
	const char *start = *p;

	skip_blanks(p);
	if (**p == ':') {
		(*p)++;
		skip_blanks(p);
	}
	return *p == start ? -EINVAL : 0;
}

int idmap_parse(struct idmap *m, const char *text)
{
	const char *p = text;

	for (;;) {
		struct idmap_extent e;

		while (*p == ' ' || *p == '\t' || *p == '\n' || *p == ',')
			p++;
		if (!*p)
			break;
		if (parse_u32(&p, &e.inside) || skip_field_sep(&p) || parse_u32(&p, &e.outside) ||
		    skip_field_sep(&p) || parse_u32(&p, &e.count))
			return -EINVAL;
		skip_blanks(&p);
		if (*p && *p != ',' && *p != '\n')
			return -EINVAL;
		if (e.count == 0 || (uint64_t)e.inside + e.count > (uint64_t)UINT32_MAX + 1 ||
		    (uint64_t)e.outside + e.count > (uint64_t)UINT32_MAX + 1)
			return -EINVAL;
		for (unsigned k = 0; k < m->n; k++)
			if (ranges_overlap(e.inside, m->ext[k].inside, e.count, m->ext[k].count) ||
			    ranges_overlap(e.outside, m->ext[k].outside, e.count, m->ext[k].count))
				return -EINVAL;
		if (m->n == IDMAP_MAX_EXTENTS)
			return -EINVAL;
		m->ext[m->n++] = e;
	}
	return 0;
}

bool idmap_is_identity(const struct idmap *m)
{
	return m->n == 0;
}

uint32_t idmap_to_outside(const struct idmap *m, uint32_t id)
{
	if (m->n == 0)
		return id;
	for (unsigned k = 0; k < m->n; k++)
		if (id >= m->ext[k].inside && id - m->ext[k].inside < m->ext[k].count)
			return m->ext[k].outside + (id - m->ext[k].inside);
	return IDMAP_OVERFLOW;
}

int idmap_map_inside(const struct idmap *m, uint32_t id, uint32_t *out)
{
	if (m->n == 0) {
		*out = id;
		return 0;
	}
	for (unsigned k = 0; k < m->n; k++) {
		if (id >= m->ext[k].outside && id - m->ext[k].outside < m->ext[k].count) {
			*out = m->ext[k].inside + (id - m->ext[k].outside);
			return 0;
		}
	}
	return -EOVERFLOW;
}

uint32_t idmap_to_inside(const struct idmap *m, uint32_t id)
{
	uint32_t out;

	return idmap_map_inside(m, id, &out) < 0 ? IDMAP_OVERFLOW : out;
}

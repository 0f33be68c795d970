/* The STAC API fields extension: which members of each returned item to
 * keep. GET "fields=a,-b" and POST {"include": [...], "exclude": [...]},
 * with the extension's semantics: the included set is a default set (id,
 * type, stac_version, geometry, bbox, links, assets, collection and
 * properties.datetime, plus properties.start_datetime and end_datetime when
 * datetime is null) together with the include list; the exclude list is
 * taken out of it; a field is returned when it is included and not
 * excluded, at any depth. Paths are dotted ("properties.cm:emission",
 * "assets.rgb"); a first segment that is not an Item member (type,
 * stac_version, stac_extensions, id, geometry, bbox, properties, links,
 * assets, collection) is a property ("cm:emission" = "properties.cm:emission").
 * Pure functions on caller-owned values: any thread. */
#ifndef TESSERA_CATALOG_FIELDS_H
#define TESSERA_CATALOG_FIELDS_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

#include "util/strlist.h"

#define FIELDS_MAX_PATHS 64
#define FIELDS_MAX_PATH 256

struct catalog_fields {
    bool active;                     /* false: items are returned whole */
    struct strlist include, exclude; /* normalized paths */
};

/* GET form ("" selects the default set). 0, -EINVAL with a message naming
 * the path in err, or -ENOMEM. */
int catalog_fields_parse_text(const char *text, struct catalog_fields *f, char *err, size_t errlen);
/* POST form: an object with optional "include" and "exclude" arrays. */
int catalog_fields_parse_json(const cJSON *obj, struct catalog_fields *f, char *err, size_t errlen);
void catalog_fields_free(struct catalog_fields *f);
/* Removes from item (an Item object) every member that f does not keep. */
void catalog_fields_apply(const struct catalog_fields *f, cJSON *item);

#endif

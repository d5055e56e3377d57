/*
 * Framed Avro encoding of Kafka message values: single-object encoding
 * (C3 01, fingerprint) or Confluent framing (00, registry id); see
 * gridhub/avro.h.
 *
 * Avro C's decoder trusts its input: it allocates whatever a length prefix
 * claims, loops over whatever a block count claims and recurses as deep as
 * the data nests. Message values come from other processes, so every body
 * is first walked by a strict validator that checks each length, count,
 * index and varint against the bytes actually present; Avro C only ever
 * sees bodies that it can decode exactly.
 */
#include "gridhub/avro.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gridhub/util.h"
#include "schema_registry.h"

#define SO_MAGIC0 0xc3
#define SO_MAGIC1 0x01
#define SO_HEADER 10 /* C3 01 + 8-byte fingerprint */
#define CF_MAGIC 0x00
#define CF_HEADER 5 /* 00 + 4-byte id */

/* Nesting deeper than this is hostile input, not one of our schemas. */
#define MAX_DEPTH 64
/* Items that occupy no bytes (nulls, empty records) cost nothing to claim
 * and Avro C allocates each one; cap them per message. */
#define MAX_EMPTY_ITEMS (1u << 20)

typedef struct id_entry {
    int32_t id;
    const gh_schema_t *s;
} id_entry_t;

struct gh_serde {
    gh_schemas_t *set;
    gh_registry_t *reg; /* NULL: single-object encoding */
    pthread_mutex_t lock;
    id_entry_t *ids; /* registry id -> schema in set */
    size_t nids;
};

gh_serde_t *gh_serde_new(gh_schemas_t *set, const char *registry_url) {
    gh_serde_t *sd = gh_xcalloc(1, sizeof(*sd));
    sd->set = set;
    if (registry_url && *registry_url) sd->reg = gh_registry_new(registry_url);
    pthread_mutex_init(&sd->lock, NULL);
    return sd;
}

void gh_serde_destroy(gh_serde_t *sd) {
    if (!sd) return;
    gh_registry_destroy(sd->reg);
    free(sd->ids);
    pthread_mutex_destroy(&sd->lock);
    free(sd);
}

/* ---- Validation of an Avro binary body ----------------------------------- */

typedef struct vr {
    const uint8_t *start, *p, *end;
    unsigned depth;
    uint64_t empty_items;
    const char *schema_name;
    char *errstr;
    size_t errstr_size;
} vr_t;

static gh_err_t verr(vr_t *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static gh_err_t verr(vr_t *r, const char *fmt, ...) {
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return gh_seterr(r->errstr, r->errstr_size, GH_ERR_SERDE,
                     "corrupt %s body at byte %zu of %zu: %s", r->schema_name,
                     (size_t)(r->p - r->start), (size_t)(r->end - r->start),
                     msg);
}

static gh_err_t v_long(vr_t *r, int64_t *out) {
    uint64_t v = 0;
    for (int i = 0; i < 10; i++) {
        if (r->p == r->end) return verr(r, "truncated varint");
        uint8_t b = *r->p++;
        /* The tenth byte holds bit 63 only; anything more overflows (and
         * Avro C would shift a signed value out of range on it). */
        if (i == 9 && b > 1) return verr(r, "varint overflows 64 bits");
        v |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) {
            *out = (int64_t)((v >> 1) ^ (0 - (v & 1)));
            return GH_OK;
        }
    }
    return verr(r, "varint longer than 10 bytes");
}

static gh_err_t v_skip(vr_t *r, int64_t n, const char *what) {
    if (n < 0) return verr(r, "negative %s length %" PRId64, what, n);
    if ((uint64_t)n > (uint64_t)(r->end - r->p))
        return verr(r, "%s of %" PRId64 " bytes, only %zu left", what, n,
                    (size_t)(r->end - r->p));
    r->p += n;
    return GH_OK;
}

static gh_err_t v_value(vr_t *r, avro_schema_t s);

/* Arrays and maps: blocks of items, a negative count announcing the
 * block's byte size, a zero count ending the sequence. */
static gh_err_t v_blocks(vr_t *r, avro_schema_t item, int is_map) {
    for (;;) {
        int64_t count, size = -1;
        gh_err_t err = v_long(r, &count);
        if (err) return err;
        if (count == 0) return GH_OK;
        if (count < 0) {
            if (count == INT64_MIN) return verr(r, "block count out of range");
            count = -count;
            if ((err = v_long(r, &size))) return err;
            if (size < 0 || (uint64_t)size > (uint64_t)(r->end - r->p))
                return verr(r,
                            "block size %" PRId64 " exceeds the %zu bytes "
                            "left",
                            size, (size_t)(r->end - r->p));
        }
        const uint8_t *block = r->p;
        for (int64_t i = 0; i < count; i++) {
            const uint8_t *before = r->p;
            if (is_map) {
                int64_t klen;
                if ((err = v_long(r, &klen))) return err;
                if ((err = v_skip(r, klen, "map key"))) return err;
            }
            if ((err = v_value(r, item))) return err;
            if (r->p == before && ++r->empty_items > MAX_EMPTY_ITEMS)
                return verr(r, "more than %u zero-length items",
                            MAX_EMPTY_ITEMS);
        }
        if (size >= 0 && r->p - block != size)
            return verr(r, "block announced %" PRId64 " bytes but holds %zu",
                        size, (size_t)(r->p - block));
    }
}

static gh_err_t v_value(vr_t *r, avro_schema_t s) {
    while (is_avro_link(s))
        s = avro_schema_link_target(s);
    if (!s) return verr(r, "schema has an unresolved reference");
    if (++r->depth > MAX_DEPTH)
        return verr(r, "values nest deeper than %d levels", MAX_DEPTH);
    gh_err_t err = GH_OK;
    int64_t v = 0;
    switch (avro_typeof(s)) {
    case AVRO_NULL:
        break;
    case AVRO_BOOLEAN:
        if (r->p == r->end)
            err = verr(r, "truncated boolean");
        else if (*r->p > 1)
            err = verr(r, "boolean byte 0x%02x is neither 0 nor 1", *r->p);
        else
            r->p++;
        break;
    case AVRO_INT32:
        if (!(err = v_long(r, &v)) && (v < INT32_MIN || v > INT32_MAX))
            err = verr(r, "int value %" PRId64 " out of range", v);
        break;
    case AVRO_INT64:
        err = v_long(r, &v);
        break;
    case AVRO_FLOAT:
        err = v_skip(r, 4, "float");
        break;
    case AVRO_DOUBLE:
        err = v_skip(r, 8, "double");
        break;
    case AVRO_STRING:
    case AVRO_BYTES:
        if (!(err = v_long(r, &v))) err = v_skip(r, v, "string/bytes");
        break;
    case AVRO_FIXED:
        err = v_skip(r, avro_schema_fixed_size(s), "fixed");
        break;
    case AVRO_ENUM:
        if (!(err = v_long(r, &v)) &&
            (v < 0 || v >= avro_schema_enum_number_of_symbols(s)))
            err = verr(r, "enum index %" PRId64 " out of range for %s", v,
                       avro_schema_type_name(s));
        break;
    case AVRO_UNION:
        if (!(err = v_long(r, &v))) {
            if (v < 0 || (uint64_t)v >= avro_schema_union_size(s))
                err = verr(r, "union branch %" PRId64 " out of range", v);
            else
                err = v_value(r, avro_schema_union_branch(s, (int)v));
        }
        break;
    case AVRO_RECORD: {
        size_t n = avro_schema_record_size(s);
        for (size_t i = 0; i < n && !err; i++)
            err = v_value(r, avro_schema_record_field_get_by_index(s, (int)i));
        break;
    }
    case AVRO_ARRAY:
        err = v_blocks(r, avro_schema_array_items(s), 0);
        break;
    case AVRO_MAP:
        err = v_blocks(r, avro_schema_map_values(s), 1);
        break;
    default:
        err = verr(r, "unsupported schema type %d", (int)avro_typeof(s));
    }
    r->depth--;
    return err;
}

static gh_err_t validate(const gh_schema_t *w, const uint8_t *body, size_t len,
                         char *errstr, size_t errstr_size) {
    vr_t r = {.start = body,
              .p = body,
              .end = body + len,
              .schema_name = gh_schema_fullname(w),
              .errstr = errstr,
              .errstr_size = errstr_size};
    gh_err_t err = v_value(&r, gh_schema_avro(w));
    if (!err && r.p != r.end)
        err = verr(&r, "%zu trailing bytes after the value",
                   (size_t)(r.end - r.p));
    return err;
}

/* ---- Encode -------------------------------------------------------------- */

gh_err_t gh_serde_encode(gh_serde_t *sd, const char *topic,
                         const gh_schema_t *s, avro_value_t *v, gh_buf_t *out,
                         char *errstr, size_t errstr_size) {
    avro_schema_t vs = avro_value_get_schema(v);
    if (vs != gh_schema_avro(s) && !avro_schema_equal(vs, gh_schema_avro(s)))
        return gh_seterr(errstr, errstr_size, GH_ERR_INVALID_ARG,
                         "value to encode is not of schema %s",
                         gh_schema_fullname(s));
    uint8_t hdr[SO_HEADER];
    size_t hlen;
    if (sd->reg) {
        char *subject = gh_xasprintf("%s-value", topic ? topic : "");
        int32_t id = 0;
        gh_err_t err = gh_registry_register(sd->reg, subject, gh_schema_json(s),
                                            gh_schema_fingerprint(s), &id,
                                            errstr, errstr_size);
        free(subject);
        if (err) return err;
        hdr[0] = CF_MAGIC;
        for (int i = 0; i < 4; i++)
            hdr[1 + i] = (uint8_t)((uint32_t)id >> (8 * (3 - i)));
        hlen = CF_HEADER;
    } else {
        uint64_t fp = gh_schema_fingerprint(s);
        hdr[0] = SO_MAGIC0;
        hdr[1] = SO_MAGIC1;
        for (int i = 0; i < 8; i++)
            hdr[2 + i] = (uint8_t)(fp >> (8 * i));
        hlen = SO_HEADER;
    }

    size_t size = 0;
    if (avro_value_sizeof(v, &size))
        return gh_seterr(errstr, errstr_size, GH_ERR_SERDE,
                         "cannot size a value of %s: %s", gh_schema_fullname(s),
                         avro_strerror());
    char *body = gh_xmalloc(size);
    avro_writer_t w = avro_writer_memory(body, (int64_t)size);
    int rc = avro_value_write(w, v);
    avro_writer_free(w);
    if (rc) {
        free(body);
        return gh_seterr(errstr, errstr_size, GH_ERR_SERDE,
                         "cannot encode a value of %s: %s (is every union "
                         "branch set?)",
                         gh_schema_fullname(s), avro_strerror());
    }
    gh_buf_append(out, hdr, hlen);
    gh_buf_append(out, body, size);
    free(body);
    return GH_OK;
}

/* ---- Decode -------------------------------------------------------------- */

/* The writer schema of registry id `id`, fetched and added to the set on
 * first sight. */
static gh_err_t schema_for_id(gh_serde_t *sd, int32_t id, const gh_schema_t **w,
                              char *errstr, size_t errstr_size) {
    pthread_mutex_lock(&sd->lock);
    for (size_t i = 0; i < sd->nids; i++)
        if (sd->ids[i].id == id) {
            *w = sd->ids[i].s;
            pthread_mutex_unlock(&sd->lock);
            return GH_OK;
        }
    pthread_mutex_unlock(&sd->lock);

    const char *json = NULL;
    gh_err_t err =
        gh_registry_schema_by_id(sd->reg, id, &json, errstr, errstr_size);
    if (err) return err;
    char why[512];
    err = gh_schemas_add_json(sd->set, json, 0, w, why, sizeof(why));
    if (err)
        return gh_seterr(errstr, errstr_size, err,
                         "schema id %" PRId32 " from %s is unusable: %s", id,
                         gh_registry_url(sd->reg), why);
    pthread_mutex_lock(&sd->lock);
    sd->ids = gh_xrealloc(sd->ids, (sd->nids + 1) * sizeof(*sd->ids));
    sd->ids[sd->nids++] = (id_entry_t){id, *w};
    pthread_mutex_unlock(&sd->lock);
    return GH_OK;
}

gh_err_t gh_serde_decode(gh_serde_t *sd, const void *buf, size_t len,
                         const gh_schema_t *reader, avro_value_t *out_value,
                         const gh_schema_t **out_schema, char *errstr,
                         size_t errstr_size) {
    const uint8_t *b = buf;
    const gh_schema_t *w = NULL;
    size_t hlen;
    if (out_schema) *out_schema = NULL;
    if (len == 0)
        return gh_seterr(errstr, errstr_size, GH_ERR_SERDE,
                         "empty message: no framing header");
    if (b[0] == SO_MAGIC0) {
        if (len < SO_HEADER)
            return gh_seterr(errstr, errstr_size, GH_ERR_SERDE,
                             "truncated single-object header: %zu of %d "
                             "bytes",
                             len, SO_HEADER);
        if (b[1] != SO_MAGIC1)
            return gh_seterr(errstr, errstr_size, GH_ERR_SERDE,
                             "bad single-object magic C3 %02X (want C3 01)",
                             b[1]);
        uint64_t fp = 0;
        for (int i = 0; i < 8; i++)
            fp |= (uint64_t)b[2 + i] << (8 * i);
        w = gh_schemas_by_fingerprint(sd->set, fp);
        if (!w)
            return gh_seterr(errstr, errstr_size, GH_ERR_UNKNOWN_SCHEMA,
                             "no schema with fingerprint %016" PRIx64
                             " in the schema set; if it is an older version, "
                             "add its .avsc to schemas/history/",
                             fp);
        hlen = SO_HEADER;
    } else if (b[0] == CF_MAGIC) {
        if (len < CF_HEADER)
            return gh_seterr(errstr, errstr_size, GH_ERR_SERDE,
                             "truncated Confluent header: %zu of %d bytes", len,
                             CF_HEADER);
        uint32_t uid = ((uint32_t)b[1] << 24) | ((uint32_t)b[2] << 16) |
                       ((uint32_t)b[3] << 8) | b[4];
        if (!sd->reg)
            return gh_seterr(errstr, errstr_size, GH_ERR_UNKNOWN_SCHEMA,
                             "message is Confluent-framed (schema id %" PRIu32
                             ") but no schema.registry.url is configured",
                             uid);
        if (uid > INT32_MAX)
            return gh_seterr(errstr, errstr_size, GH_ERR_SERDE,
                             "Confluent schema id %" PRIu32 " out of range",
                             uid);
        gh_err_t err = schema_for_id(sd, (int32_t)uid, &w, errstr, errstr_size);
        if (err) return err;
        hlen = CF_HEADER;
    } else {
        return gh_seterr(errstr, errstr_size, GH_ERR_SERDE,
                         "bad magic byte 0x%02X: neither single-object "
                         "(C3 01) nor Confluent (00) framing",
                         b[0]);
    }

    gh_err_t err = validate(w, b + hlen, len - hlen, errstr, errstr_size);
    if (err) return err;
    avro_value_t wv;
    if ((err = gh_schema_new_value(w, &wv, errstr, errstr_size))) return err;
    avro_reader_t rd =
        avro_reader_memory((const char *)(b + hlen), (int64_t)(len - hlen));
    int rc = avro_value_read(rd, &wv);
    avro_reader_free(rd);
    if (rc) {
        avro_value_decref(&wv);
        return gh_seterr(errstr, errstr_size, GH_ERR_SERDE,
                         "cannot decode a %s body: %s", gh_schema_fullname(w),
                         avro_strerror());
    }
    if (!reader || gh_schema_fingerprint(reader) == gh_schema_fingerprint(w)) {
        *out_value = wv;
        if (out_schema) *out_schema = w;
        return GH_OK;
    }
    avro_value_t rv;
    if ((err = gh_schema_new_value(reader, &rv, errstr, errstr_size))) {
        avro_value_decref(&wv);
        return err;
    }
    err = gh_avro_project(w, &wv, reader, &rv, errstr, errstr_size);
    avro_value_decref(&wv);
    if (err) {
        avro_value_decref(&rv);
        return err;
    }
    *out_value = rv;
    if (out_schema) *out_schema = reader;
    return GH_OK;
}

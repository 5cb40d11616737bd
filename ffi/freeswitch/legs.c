/*
 * legs.c — see legs.h. A chained hash table under one mutex; each leg's
 * queue has its own mutex, so a mixer thread copying a frame for one leg
 * holds up only that leg's channel thread, and only for a memcpy.
 */
#include "legs.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define BUCKETS 1024u
#define UUID_MAX 64u

struct leg {
    struct leg *next;
    char uuid[UUID_MAX];
    pthread_mutex_t lock; /* guards the ring below */
    leg_frame ring[LEG_QUEUE_FRAMES];
    unsigned head;  /* next to pop */
    unsigned count;
    atomic_uint_fast64_t dropped;
};

static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;
static leg *table[BUCKETS];
static size_t open_legs;

static unsigned bucket_of(const char *s)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (; *s; s++) {
        h = (h ^ (unsigned char)*s) * 16777619u;
    }
    return h % BUCKETS;
}

/* Call with table_lock held. */
static leg **slot_of(const char *uuid)
{
    leg **p = &table[bucket_of(uuid)];
    while (*p && strcmp((*p)->uuid, uuid)) {
        p = &(*p)->next;
    }
    return p;
}

leg *leg_open(const char *uuid)
{
    if (!uuid || strlen(uuid) >= UUID_MAX) {
        return NULL;
    }
    leg *l = calloc(1, sizeof *l);
    if (!l) {
        return NULL;
    }
    strcpy(l->uuid, uuid);
    pthread_mutex_init(&l->lock, NULL);
    pthread_mutex_lock(&table_lock);
    leg **p = slot_of(uuid);
    if (*p) {
        pthread_mutex_unlock(&table_lock);
        pthread_mutex_destroy(&l->lock);
        free(l);
        return NULL;
    }
    *p = l;
    open_legs++;
    pthread_mutex_unlock(&table_lock);
    return l;
}

void leg_close(leg *l)
{
    if (!l) {
        return;
    }
    pthread_mutex_lock(&table_lock);
    leg **p = slot_of(l->uuid);
    if (*p == l) {
        *p = l->next;
        open_legs--;
    }
    pthread_mutex_unlock(&table_lock);
    /* A pusher takes the leg's lock while it still holds table_lock, so once
     * the leg is out of the table, taking its lock once waits out the last
     * pusher that found it. */
    pthread_mutex_lock(&l->lock);
    pthread_mutex_unlock(&l->lock);
    pthread_mutex_destroy(&l->lock);
    free(l);
}

/* Whether a leg takes `frame`: whole L16 samples, G.711 octets (one a
 * sample) or one Opus packet. */
static int takes(const huddle_frame *frame)
{
    switch (frame->codec) {
    case HUDDLE_CODEC_L16:
        return frame->len % 2 == 0;
    case HUDDLE_CODEC_OPUS:
    case HUDDLE_CODEC_PCMU:
    case HUDDLE_CODEC_PCMA:
        return 1;
    default:
        return 0;
    }
}

int legs_push(const char *uuid, const huddle_frame *frame)
{
    if (!uuid || !frame || !frame->data || !frame->len || frame->len > sizeof(((leg_frame *)0)->data) ||
        !takes(frame)) {
        return -1;
    }
    pthread_mutex_lock(&table_lock);
    leg *l = *slot_of(uuid);
    if (!l) {
        pthread_mutex_unlock(&table_lock);
        return -1;
    }
    pthread_mutex_lock(&l->lock);
    pthread_mutex_unlock(&table_lock);
    if (l->count == LEG_QUEUE_FRAMES) {
        l->head = (l->head + 1) % LEG_QUEUE_FRAMES;
        l->count--;
        atomic_fetch_add(&l->dropped, 1);
    }
    leg_frame *f = &l->ring[(l->head + l->count) % LEG_QUEUE_FRAMES];
    f->codec = frame->codec;
    f->sample_rate = frame->sample_rate;
    f->samples = frame->codec == HUDDLE_CODEC_OPUS  ? frame->samples
                 : frame->codec == HUDDLE_CODEC_L16 ? (uint32_t)(frame->len / 2)
                                                    : (uint32_t)frame->len;
    f->len = (uint32_t)frame->len;
    memcpy(f->data.bytes, frame->data, frame->len);
    l->count++;
    pthread_mutex_unlock(&l->lock);
    return 0;
}

int leg_pop(leg *l, leg_frame *out)
{
    pthread_mutex_lock(&l->lock);
    int got = l->count > 0;
    if (got) {
        const leg_frame *f = &l->ring[l->head];
        out->codec = f->codec;
        out->sample_rate = f->sample_rate;
        out->samples = f->samples;
        out->len = f->len;
        memcpy(out->data.bytes, f->data.bytes, f->len);
        l->head = (l->head + 1) % LEG_QUEUE_FRAMES;
        l->count--;
    }
    pthread_mutex_unlock(&l->lock);
    return got;
}

void leg_trim(leg *l, unsigned keep)
{
    pthread_mutex_lock(&l->lock);
    while (l->count > keep) {
        l->head = (l->head + 1) % LEG_QUEUE_FRAMES;
        l->count--;
        atomic_fetch_add(&l->dropped, 1);
    }
    pthread_mutex_unlock(&l->lock);
}

uint64_t leg_dropped(const leg *l)
{
    return atomic_load(&l->dropped);
}

size_t legs_count(void)
{
    pthread_mutex_lock(&table_lock);
    size_t n = open_legs;
    pthread_mutex_unlock(&table_lock);
    return n;
}

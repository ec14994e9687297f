/* redis_check.h - invariants of examples/miniredis.c's store and pub/sub links, for
   tests/test_srv_redis.c and the fuzzers (include miniredis.c first). Each returns 0,
   or the line of the check that failed. */
#ifndef REDIS_CHECK_H
#define REDIS_CHECK_H

/* The store: count and nexpire match the slots, the load stays under 0.7, every key
   is reachable from its home slot; the channel table: each channel in its bucket,
   with subscribers, each where its index says. */
static inline int rdb_check(const rdb *db) {
    size_t i, j, n = 0, ne = 0, chans = 0;
    for (i = 0; i <= db->mask; i++) {
        const rentry *e = db->slots[i].e;
        int found;
        if (!e) continue;
        n++;
        ne += e->expire >= 0;
        if (rdb_slot(db, db->slots[i].h, e->data, e->klen, &found) != i || !found)
            return __LINE__;
    }
    if (n != db->count || ne != db->nexpire) return __LINE__;
    if (n * 10 > (db->mask + 1) * 7) return __LINE__;
    for (i = 0; i <= db->chmask; i++) {
        const rchan *ch;
        for (ch = db->chans[i]; ch; ch = ch->next) {
            chans++;
            if (ch->nsubs == 0 || (ch->h & db->chmask) != i) return __LINE__;
            for (j = 0; j < ch->nsubs; j++) {
                if (ch->subs[j]->ch != ch || ch->subs[j]->chi != j) return __LINE__;
            }
        }
    }
    if (chans != db->nchans || (db->chmask > 15 && db->nchans * 8 < db->chmask + 1))
        return __LINE__;
    return 0;
}

/* A client: each subscription where its index says and in its set, the set as big as
   the array and at most half full; one cut off has no channels and no queue. */
static inline int client_check(rclient *c) {
    size_t j, inset = 0;
    for (j = 0; j < c->nchans; j++) {
        rsub *s = c->subs[j];
        if (s->c != c || s->ci != j || s->ch->subs[s->chi] != s) return __LINE__;
        if (c->set[sub_slot(c, s->ch)] != s) return __LINE__;
    }
    for (j = 0; c->set && j <= c->setmask; j++) inset += c->set[j] != NULL;
    if (inset != c->nchans || (c->set && c->nchans * 2 > c->setmask + 1)) return __LINE__;
    if (!c->set && (c->subs || c->nchans)) return __LINE__;
    if (c->kill && (c->nchans || c->pend.p)) return __LINE__;
    return 0;
}

/* The store, these n clients (all the db has), and the subscriptions on both sides
   adding up. */
static inline int pubsub_check(const rdb *db, rclient *const *cs, int n) {
    size_t i, total = 0;
    const rchan *ch;
    int k, line;
    if ((line = rdb_check(db)) != 0) return line;
    for (i = 0; i <= db->chmask; i++) for (ch = db->chans[i]; ch; ch = ch->next)
        total += ch->nsubs;
    for (k = 0; k < n; k++) {
        if ((line = client_check(cs[k])) != 0) return line;
        if (cs[k]->db != db) return __LINE__;
        total -= cs[k]->nchans;
    }
    return total == 0 ? 0 : __LINE__;
}
#endif

package redislimit

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/lkgate/lkgate"
)

var _ lkgate.BanStore = (*Store)(nil)

const (
	banKeyPrefix = "lkgate:ban:"
	// bansKey is the sorted set that lists the bans for Bans: member
	// banMember, score the ban's end in unix milliseconds. It is a key of
	// its own, not one per ban, so the listing needs no SCAN.
	bansKey = "lkgate:bans"
	// banSlack keeps a ban's key past its end, so that a Redis clock up to
	// 30 s ahead of the replicas' never drops a ban early: the replicas
	// compare the stored end with their own clock. The list keeps its
	// members as long, on the replicas' clock.
	banSlack = 30 * time.Second
)

// banMember names one identity in one room of one tenant; the lengths keep
// names apart whatever characters they hold, and let parseBanMember split
// them again.
func banMember(tenant, room, identity string) string {
	return strconv.Itoa(len(tenant)) + ":" + tenant + strconv.Itoa(len(room)) + ":" + room + identity
}

// banKey is the ban's own key, which BannedUntil reads.
func (s *Store) banKey(tenant, room, identity string) string {
	return s.prefix + banKeyPrefix + banMember(tenant, room, identity)
}

// parseBanMember is the inverse of banMember; ok is false for a member
// banMember did not write.
func parseBanMember(m string) (tenant, room, identity string, ok bool) {
	if tenant, m, ok = cutLen(m); !ok {
		return "", "", "", false
	}
	if room, m, ok = cutLen(m); !ok {
		return "", "", "", false
	}
	return tenant, room, m, true
}

// cutLen cuts a "<n>:" prefix and the n bytes after it off s. Only the
// digits strconv.Itoa writes of a length are accepted (no sign, no
// leading zero).
func cutLen(s string) (name, rest string, ok bool) {
	digits, rest, ok := strings.Cut(s, ":")
	if !ok {
		return "", "", false
	}
	n, err := strconv.Atoi(digits)
	if err != nil || n < 0 || n > len(rest) || strconv.Itoa(n) != digits {
		return "", "", false
	}
	return rest[:n], rest[n:], true
}

// trimBans drops from the list the bans that ended before now-banSlack.
func (s *Store) trimBans(ctx context.Context, p redis.Pipeliner, now time.Time) {
	p.ZRemRangeByScore(ctx, s.prefix+bansKey, "-inf", "("+strconv.FormatInt(now.Add(-banSlack).UnixMilli(), 10))
}

// The list must never miss a ban its key holds, or the sweep misses it;
// listing a ban lifted or shortened since is harmless (the sweep reads the
// key). Pipelines are not transactions, so the order of their commands
// keeps that: Ban sets the key before it lists, and only lengthens a
// listed end (ZADD GT); Unban unlists before it deletes the key. A Ban
// interleaved with an Unban then leaves either no key or a listed one. A
// cluster client sends a pipeline's commands for each node on their own,
// so on a Redis Cluster, where the key and the list may lie on different
// nodes, the second command waits for the first's reply (inOrder).

// Ban records a ban until until and lists it, replacing any earlier ban:
// one round trip (SET PXAT, ZADD GT and a trim of the list, pipelined),
// two on a Redis Cluster.
func (s *Store) Ban(ctx context.Context, tenant, room, identity string, until time.Time) error {
	ms := until.UnixMilli()
	err := s.inOrder(ctx, func(p redis.Pipeliner) {
		p.Do(ctx, "SET", s.banKey(tenant, room, identity), ms, "PXAT", until.Add(banSlack).UnixMilli())
	}, func(p redis.Pipeliner) {
		p.ZAddGT(ctx, s.prefix+bansKey, redis.Z{Score: float64(ms), Member: banMember(tenant, room, identity)})
		// Trimmed here too, so that the list stays bounded without Bans.
		// No clock is given: this machine's is within banSlack of the
		// Manager's, as the key's expiry already assumes of Redis's.
		s.trimBans(ctx, p, time.Now())
	})
	if err != nil {
		return fmt.Errorf("redislimit: ban: %w", err)
	}
	return nil
}

// Unban drops a ban and its listing: one round trip (ZREM and DEL,
// pipelined), two on a Redis Cluster.
func (s *Store) Unban(ctx context.Context, tenant, room, identity string) error {
	err := s.inOrder(ctx, func(p redis.Pipeliner) {
		p.ZRem(ctx, s.prefix+bansKey, banMember(tenant, room, identity))
	}, func(p redis.Pipeliner) {
		p.Del(ctx, s.banKey(tenant, room, identity))
	})
	if err != nil {
		return fmt.Errorf("redislimit: unban: %w", err)
	}
	return nil
}

// inOrder has Redis run first's commands before second's: one pipeline
// on one Redis, which runs a connection's commands in order; on a
// cluster, second is sent only once first has succeeded.
func (s *Store) inOrder(ctx context.Context, first, second func(redis.Pipeliner)) error {
	if _, ok := s.client.(*redis.ClusterClient); !ok {
		_, err := s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
			first(p)
			second(p)
			return nil
		})
		return err
	}
	for _, cmds := range []func(redis.Pipeliner){first, second} {
		_, err := s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
			cmds(p)
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// BannedUntil reads a ban: one GET.
func (s *Store) BannedUntil(ctx context.Context, tenant, room, identity string, now time.Time) (time.Time, error) {
	v, err := s.client.Get(ctx, s.banKey(tenant, room, identity)).Int64()
	switch {
	case errors.Is(err, redis.Nil):
		return time.Time{}, nil
	case err != nil:
		return time.Time{}, fmt.Errorf("redislimit: ban check: %w", err)
	}
	if until := time.UnixMilli(v); until.After(now) {
		return until, nil
	}
	return time.Time{}, nil
}

// Bans lists the bans that end after now, a shortened one with its
// longest end: one round trip (a trim of the
// list and ZRANGE BYSCORE, pipelined). A member it cannot parse, written
// by something else, is skipped.
func (s *Store) Bans(ctx context.Context, now time.Time) ([]lkgate.Ban, error) {
	var listed *redis.ZSliceCmd
	_, err := s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		s.trimBans(ctx, p, now)
		listed = p.ZRangeArgsWithScores(ctx, redis.ZRangeArgs{
			Key: s.prefix + bansKey, ByScore: true,
			Start: "(" + strconv.FormatInt(now.UnixMilli(), 10), Stop: "+inf",
		})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("redislimit: bans: %w", err)
	}
	var bans []lkgate.Ban
	for _, z := range listed.Val() {
		m, _ := z.Member.(string)
		tenant, room, identity, ok := parseBanMember(m)
		if !ok {
			continue
		}
		bans = append(bans, lkgate.Ban{Tenant: tenant, Room: room, Identity: identity, Until: time.UnixMilli(int64(z.Score))})
	}
	return bans, nil
}

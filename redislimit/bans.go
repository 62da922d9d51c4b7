package redislimit

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/lkgate/lkgate"
)

var _ lkgate.BanStore = (*Store)(nil)

const (
	banKeyPrefix = "lkgate:ban:"
	// banSlack keeps a ban's key past its end, so that a Redis clock up to
	// 30 s ahead of the replicas' never drops a ban early: the replicas
	// compare the stored end with their own clock.
	banSlack = 30 * time.Second
)

// banKey names one identity in one room of one tenant; the lengths keep
// names apart whatever characters they hold.
func (s *Store) banKey(tenant, room, identity string) string {
	return s.prefix + banKeyPrefix + strconv.Itoa(len(tenant)) + ":" + tenant + strconv.Itoa(len(room)) + ":" + room + identity
}

// Ban records a ban until until: one SET PXAT, replacing any earlier ban.
func (s *Store) Ban(ctx context.Context, tenant, room, identity string, until time.Time) error {
	ms := until.UnixMilli()
	if err := s.client.Do(ctx, "SET", s.banKey(tenant, room, identity), ms, "PXAT", until.Add(banSlack).UnixMilli()).Err(); err != nil {
		return fmt.Errorf("redislimit: ban: %w", err)
	}
	return nil
}

// Unban drops a ban: one DEL.
func (s *Store) Unban(ctx context.Context, tenant, room, identity string) error {
	if err := s.client.Del(ctx, s.banKey(tenant, room, identity)).Err(); err != nil {
		return fmt.Errorf("redislimit: unban: %w", err)
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

package redislimit

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/lkgate/lkgate"
)

var _ lkgate.SeenEvents = (*Store)(nil)

const seenKeyPrefix = "lkgate:webhook:"

func (s *Store) seenKey(id string) string { return s.prefix + seenKeyPrefix + id }

// Seen records a webhook event id until until and reports whether it is
// new: one SET NX PXAT, so replicas agree on which of them handles it, and
// Redis drops the record at until (its own clock).
func (s *Store) Seen(ctx context.Context, id string, until time.Time) (bool, error) {
	err := s.client.Do(ctx, "SET", s.seenKey(id), "1", "NX", "PXAT", until.UnixMilli()).Err()
	switch {
	case errors.Is(err, redis.Nil):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("redislimit: seen %s: %w", id, err)
	}
	return true, nil
}

// Forget drops the record of a webhook event id.
func (s *Store) Forget(ctx context.Context, id string) error {
	if err := s.client.Del(ctx, s.seenKey(id)).Err(); err != nil {
		return fmt.Errorf("redislimit: forget %s: %w", id, err)
	}
	return nil
}

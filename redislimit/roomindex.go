package redislimit

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/lkgate/lkgate"
)

// RoomIndex is an lkgate.RoomIndex kept in Redis and shared by every
// replica. One hash per tenant maps each LiveKit room name to its session
// ("<started unix ms> <sid>"), one sorted set per tenant remembers the
// tenant's finished sessions (sid scored by when Redis saw it finish) for
// lkgate.FinishedMemory, and one set holds the tenants that have rooms,
// so Tenants needs no SCAN. Started, Finished, Rooms, Room and Tenants
// are one script or command each (one round trip); Reconcile is one script
// for a tenant of up to ReconcileChunk rooms, and bounded chunks beyond.
//
// Keys are Prefix+"lkgate:{rooms}:t:"+tenant (the hash),
// Prefix+"lkgate:{rooms}:f:"+tenant (finished sessions, expiring with its
// newest entry) and Prefix+"lkgate:{rooms}:tenants". The hash tag {rooms}
// keeps every key of one index in one slot of a Redis Cluster, so that
// each script updates the tenant's rooms and the tenant set atomically;
// the index then lives on one shard: 64 to 101 bytes per room, whether
// the tenant's hash is a listpack (up to hash-max-listpack-entries rooms)
// or a hash table, and 31 to 128 per session finished in the last hour
// (see docs/scaling.md).
//
// It is safe for concurrent use.
type RoomIndex struct {
	client redis.UniversalClient
	prefix string
}

var _ lkgate.RoomIndex = (*RoomIndex)(nil)

// ReconcileChunk is the most rooms one Reconcile script handles: a
// tenant whose listed rooms or entries exceed it is reconciled in
// scripts of this many rooms, so that no script holds Redis for long.
const ReconcileChunk = 1000

// finishedMemoryMs is how long a finished session is remembered.
var finishedMemoryMs = lkgate.FinishedMemory.Milliseconds()

// NewRoomIndex validates cfg and returns a RoomIndex. It does not contact
// Redis. A Prefix whose first hash tag is empty ("{}") is refused: it
// would spread one index over the slots of a Redis Cluster.
func NewRoomIndex(cfg Config) (*RoomIndex, error) {
	if cfg.Client == nil {
		return nil, errors.New("redislimit: Config.Client is required")
	}
	// An empty hash tag makes Redis Cluster hash the whole key, which
	// would scatter one tenant's keys over slots.
	if i := strings.IndexByte(cfg.Prefix, '{'); i >= 0 && strings.HasPrefix(cfg.Prefix[i:], "{}") {
		return nil, errors.New(`redislimit: Config.Prefix's first hash tag is empty ("{}")`)
	}
	return &RoomIndex{client: cfg.Client, prefix: cfg.Prefix}, nil
}

// keys returns the tenant's hash, its finished sessions and the tenant
// set, in the order the scripts take them.
func (x *RoomIndex) keys(tenant string) []string {
	p := x.prefix + "lkgate:{rooms}:"
	return []string{p + "t:" + tenant, p + "f:" + tenant, p + "tenants"}
}

// indexLua is shared by the scripts: entry splits a stored value, later
// orders sessions by start to the second (as LiveKit gives it), then SID
// bytewise (Lua's own string order follows Redis's locale).
const indexLua = `
local function entry(v)
  local i = string.find(v, " ", 1, true)
  return tonumber(string.sub(v, 1, i - 1)), string.sub(v, i + 1)
end
local function later(ms, sid, cms, csid)
  local s, cs = math.floor(ms / 1000), math.floor(cms / 1000)
  if s ~= cs then
    return s > cs
  end
  local n = math.min(#sid, #csid)
  for i = 1, n do
    local a, b = string.byte(sid, i), string.byte(csid, i)
    if a ~= b then
      return a > b
    end
  end
  return #sid > #csid
end
-- put records the listed or started session unless it finished or the
-- name holds it or a later one; it returns 1 if added, 2 if it replaced
-- an earlier session, 0 otherwise.
local function put(name, sid, ms)
  if redis.call("ZSCORE", KEYS[2], sid) then
    return 0
  end
  local cur = redis.call("HGET", KEYS[1], name)
  local n = tonumber(ms)
  if cur then
    local cms, csid = entry(cur)
    if csid == sid or not later(n, sid, cms, csid) then
      return 0
    end
  end
  redis.call("HSET", KEYS[1], name, ms .. " " .. sid)
  if cur then
    return 2
  end
  return 1
end
-- putListed puts each listed room of ARGV from first on (name, sid and
-- start); it returns how many it added and replaced, and the names.
local function putListed(first)
  local added, replaced, listed = 0, 0, {}
  for i = first, #ARGV, 3 do
    listed[ARGV[i]] = true
    local r = put(ARGV[i], ARGV[i + 1], ARGV[i + 2])
    if r > 0 then
      added = added + 1
    end
    if r == 2 then
      replaced = replaced + 1
    end
  end
  return added, replaced, listed
end
`

// startedScript is Started: ARGV are the tenant, name, sid and start (unix
// ms). It returns 1 if the index changed.
var startedScript = redis.NewScript(indexLua + `
if put(ARGV[2], ARGV[3], ARGV[4]) == 0 then
  return 0
end
redis.call("SADD", KEYS[3], ARGV[1])
return 1
`)

// finishedScript is Finished: ARGV are the tenant, name, sid and the
// memory (ms). The session is remembered from Redis's clock, older ones
// are trimmed, and the set expires with its newest entry.
var finishedScript = redis.NewScript(indexLua + `
local t = redis.call("TIME")
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local mem = tonumber(ARGV[4])
redis.call("ZADD", KEYS[2], "NX", now, ARGV[3])
redis.call("ZREMRANGEBYSCORE", KEYS[2], "-inf", now - mem)
redis.call("PEXPIRE", KEYS[2], mem)
local cur = redis.call("HGET", KEYS[1], ARGV[2])
if not cur then
  return 0
end
local _, csid = entry(cur)
if csid ~= ARGV[3] then
  return 0
end
redis.call("HDEL", KEYS[1], ARGV[2])
if redis.call("EXISTS", KEYS[1]) == 0 then
  redis.call("SREM", KEYS[3], ARGV[1])
end
return 1
`)

// reconcileScript is Reconcile of a tenant with at most ARGV[3] entries:
// ARGV are the tenant, before (unix ms), the limit, then name, sid and
// start of each listed room. It returns {added, removed}, or {-1, 0} if
// the tenant has more entries than the limit.
var reconcileScript = redis.NewScript(indexLua + `
if redis.call("HLEN", KEYS[1]) > tonumber(ARGV[3]) then
  return {-1, 0}
end
local added, removed, listed = putListed(4)
local before = tonumber(ARGV[2])
local all = redis.call("HGETALL", KEYS[1])
for i = 1, #all, 2 do
  if not listed[all[i]] and entry(all[i + 1]) < before then
    redis.call("HDEL", KEYS[1], all[i])
    removed = removed + 1
  end
end
if redis.call("EXISTS", KEYS[1]) == 1 then
  redis.call("SADD", KEYS[3], ARGV[1])
else
  redis.call("SREM", KEYS[3], ARGV[1])
end
return {added, removed}
`)

// reconcileListedScript is one chunk of a large tenant's listed rooms:
// ARGV are the tenant, then name, sid and start of each. It returns
// {added, replaced}.
var reconcileListedScript = redis.NewScript(indexLua + `
local added, replaced = putListed(2)
if added > 0 then
  redis.call("SADD", KEYS[3], ARGV[1])
end
return {added, replaced}
`)

// removeScript is one chunk of a large tenant's removals: ARGV are the
// tenant, then name and sid of each entry to remove if it still holds
// that session. It returns how many it removed.
var removeScript = redis.NewScript(indexLua + `
local removed = 0
for i = 2, #ARGV, 2 do
  local cur = redis.call("HGET", KEYS[1], ARGV[i])
  if cur then
    local _, csid = entry(cur)
    if csid == ARGV[i + 1] then
      redis.call("HDEL", KEYS[1], ARGV[i])
      removed = removed + 1
    end
  end
end
if redis.call("EXISTS", KEYS[1]) == 0 then
  redis.call("SREM", KEYS[3], ARGV[1])
end
return removed
`)

// Started records the session r of tenant's room: one script.
func (x *RoomIndex) Started(ctx context.Context, tenant string, r lkgate.IndexedRoom) error {
	err := startedScript.Run(ctx, x.client, x.keys(tenant), tenant, r.Name, r.SID, r.Started.UnixMilli()).Err()
	if err != nil {
		return fmt.Errorf("redislimit: room index: started %s: %w", r.Name, err)
	}
	return nil
}

// Finished records the end of the session r of tenant's room: one script.
func (x *RoomIndex) Finished(ctx context.Context, tenant string, r lkgate.IndexedRoom) error {
	err := finishedScript.Run(ctx, x.client, x.keys(tenant), tenant, r.Name, r.SID, finishedMemoryMs).Err()
	if err != nil {
		return fmt.Errorf("redislimit: room index: finished %s: %w", r.Name, err)
	}
	return nil
}

// Rooms returns the tenant's rooms: one HGETALL.
func (x *RoomIndex) Rooms(ctx context.Context, tenant string) ([]lkgate.IndexedRoom, error) {
	all, err := x.client.HGetAll(ctx, x.keys(tenant)[0]).Result()
	if err != nil {
		return nil, fmt.Errorf("redislimit: room index: rooms: %w", err)
	}
	out := make([]lkgate.IndexedRoom, 0, len(all))
	for name, v := range all {
		r, err := parseEntry(name, v)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// Room returns the tenant's entry for name: one HGET.
func (x *RoomIndex) Room(ctx context.Context, tenant, name string) (lkgate.IndexedRoom, bool, error) {
	v, err := x.client.HGet(ctx, x.keys(tenant)[0], name).Result()
	if errors.Is(err, redis.Nil) {
		return lkgate.IndexedRoom{}, false, nil
	}
	if err != nil {
		return lkgate.IndexedRoom{}, false, fmt.Errorf("redislimit: room index: room: %w", err)
	}
	r, err := parseEntry(name, v)
	if err != nil {
		return lkgate.IndexedRoom{}, false, err
	}
	return r, true, nil
}

// Tenants returns the tenants with rooms: one SMEMBERS.
func (x *RoomIndex) Tenants(ctx context.Context) ([]string, error) {
	ts, err := x.client.SMembers(ctx, x.keys("")[2]).Result()
	if err != nil {
		return nil, fmt.Errorf("redislimit: room index: tenants: %w", err)
	}
	return ts, nil
}

// Reconcile makes the tenant's entries agree with listed: one script up
// to ReconcileChunk rooms. A larger tenant costs one script per chunk of
// listed rooms, an HSCAN of its entries and one script per chunk of
// removals; each removal applies only if the entry still holds the
// session scanned, so events handled meanwhile are kept.
func (x *RoomIndex) Reconcile(ctx context.Context, tenant string, listed []lkgate.IndexedRoom, before time.Time) (lkgate.ReconcileResult, error) {
	res, err := x.reconcile(ctx, tenant, listed, before.UnixMilli())
	if err != nil {
		return res, fmt.Errorf("redislimit: room index: reconcile %s: %w", tenant, err)
	}
	return res, nil
}

func (x *RoomIndex) reconcile(ctx context.Context, tenant string, listed []lkgate.IndexedRoom, before int64) (lkgate.ReconcileResult, error) {
	keys := x.keys(tenant)
	if len(listed) <= ReconcileChunk {
		args := append(make([]any, 0, 3+3*len(listed)), tenant, before, ReconcileChunk)
		args = appendRooms(args, listed)
		n, err := reconcileScript.Run(ctx, x.client, keys, args...).Int64Slice()
		if err != nil {
			return lkgate.ReconcileResult{}, err
		}
		if len(n) != 2 {
			return lkgate.ReconcileResult{}, errors.New("unexpected reply")
		}
		if n[0] >= 0 {
			return lkgate.ReconcileResult{Added: int(n[0]), Removed: int(n[1])}, nil
		}
	}
	var res lkgate.ReconcileResult
	names := make(map[string]bool, len(listed))
	for chunk := range slices.Chunk(listed, ReconcileChunk) {
		args := appendRooms(append(make([]any, 0, 1+3*len(chunk)), tenant), chunk)
		n, err := reconcileListedScript.Run(ctx, x.client, keys, args...).Int64Slice()
		if err != nil {
			return res, err
		}
		if len(n) != 2 {
			return res, errors.New("unexpected reply")
		}
		res.Added += int(n[0])
		res.Removed += int(n[1])
		for _, r := range chunk {
			names[r.Name] = true
		}
	}
	// HSCAN may return an entry twice; the removal script counts it once.
	var gone []any
	flush := func() error {
		if len(gone) == 0 {
			return nil
		}
		n, err := removeScript.Run(ctx, x.client, keys, append([]any{tenant}, gone...)...).Int()
		res.Removed += n
		gone = gone[:0]
		return err
	}
	iter := x.client.HScan(ctx, keys[0], 0, "", ReconcileChunk).Iterator()
	for iter.Next(ctx) {
		name := iter.Val()
		if !iter.Next(ctx) {
			break
		}
		r, err := parseEntry(name, iter.Val())
		if err != nil {
			return res, err
		}
		if names[name] || r.Started.UnixMilli() >= before {
			continue
		}
		if gone = append(gone, name, r.SID); len(gone) == 2*ReconcileChunk {
			if err := flush(); err != nil {
				return res, err
			}
		}
	}
	if err := iter.Err(); err != nil {
		return res, err
	}
	return res, flush()
}

// appendRooms appends each room's name, sid and start (unix ms) to args.
func appendRooms(args []any, rooms []lkgate.IndexedRoom) []any {
	for _, r := range rooms {
		args = append(args, r.Name, r.SID, r.Started.UnixMilli())
	}
	return args
}

// parseEntry reads one stored "<started unix ms> <sid>".
func parseEntry(name, v string) (lkgate.IndexedRoom, error) {
	ms, sid, ok := strings.Cut(v, " ")
	n, err := strconv.ParseInt(ms, 10, 64)
	if !ok || err != nil {
		return lkgate.IndexedRoom{}, fmt.Errorf("redislimit: room index: malformed entry %q for %s", v, name)
	}
	return lkgate.IndexedRoom{Name: name, SID: sid, Started: time.UnixMilli(n)}, nil
}

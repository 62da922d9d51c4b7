package main

import (
	"context"
	"slices"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"
)

// memoryUse is what the index takes in Redis.
type memoryUse struct {
	used            int64    // INFO memory used_memory, less the empty server's
	entries         int64    // rooms in the index
	roomsBytes      int64    // MEMORY USAGE of the tenants' hashes
	listpack        [3]int64 // tenants, rooms and bytes of hashes encoded as listpacks
	hashtable       [3]int64 // the same of hash tables
	finished        int64    // sessions remembered finished
	finishedMem     int64    // MEMORY USAGE of the finished sets
	otherKeys       int64
	listpackMax     string // hash-max-listpack-entries
	zsetListpackMax string // zset-max-listpack-entries
}

func usedMemory(ctx context.Context, c *redis.Client) (int64, error) {
	info, err := c.InfoMap(ctx, "memory").Result()
	if err != nil {
		return 0, err
	}
	return strconv.ParseInt(info["Memory"]["used_memory"], 10, 64)
}

// measureMemory adds up MEMORY USAGE (every element sampled) of the
// index's keys by kind, after a SCAN: fine for a measurement, not for
// the index itself.
func measureMemory(ctx context.Context, c *redis.Client, base int64) (memoryUse, error) {
	var m memoryUse
	used, err := usedMemory(ctx, c)
	if err != nil {
		return m, err
	}
	m.used = used - base
	cfg, err := c.ConfigGet(ctx, "*-max-listpack-entries").Result()
	if err != nil {
		return m, err
	}
	m.listpackMax, m.zsetListpackMax = cfg["hash-max-listpack-entries"], cfg["zset-max-listpack-entries"]
	iter := c.Scan(ctx, 0, "*", 1000).Iterator()
	var keys []string
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	if err := iter.Err(); err != nil {
		return m, err
	}
	for chunk := range slices.Chunk(keys, 500) {
		usage := make([]*redis.IntCmd, len(chunk))
		enc := make([]*redis.StringCmd, len(chunk))
		size := make([]*redis.IntCmd, len(chunk))
		_, err := c.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, k := range chunk {
				usage[i] = p.MemoryUsage(ctx, k, 0)
				enc[i] = p.ObjectEncoding(ctx, k)
				switch {
				case strings.Contains(k, "}:t:"):
					size[i] = p.HLen(ctx, k)
				case strings.Contains(k, "}:f:"):
					size[i] = p.ZCard(ctx, k)
				default:
					size[i] = p.SCard(ctx, k)
				}
			}
			return nil
		})
		if err != nil {
			return m, err
		}
		for i, k := range chunk {
			switch {
			case strings.Contains(k, "}:t:"):
				m.roomsBytes += usage[i].Val()
				m.entries += size[i].Val()
				kind := &m.hashtable
				if enc[i].Val() == "listpack" {
					kind = &m.listpack
				}
				kind[0]++
				kind[1] += size[i].Val()
				kind[2] += usage[i].Val()
			case strings.Contains(k, "}:f:"):
				m.finishedMem += usage[i].Val()
				m.finished += size[i].Val()
			default:
				m.otherKeys += usage[i].Val()
			}
		}
	}
	return m, nil
}

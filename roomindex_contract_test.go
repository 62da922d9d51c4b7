package lkgate_test

import (
	"testing"

	"github.com/lkgate/lkgate"
	"github.com/lkgate/lkgate/internal/roomindextest"
)

func TestMemoryRoomIndexContract(t *testing.T) {
	roomindextest.Run(t, func(*testing.T) lkgate.RoomIndex { return lkgate.NewMemoryRoomIndex(nil) })
}

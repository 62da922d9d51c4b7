package lkgatetest

import (
	"context"

	"github.com/livekit/protocol/livekit"
)

// dispatchService implements the part of livekit.AgentDispatchService that
// tests need to see where agents were dispatched: ListDispatch.
type dispatchService struct{ s *Server }

var _ livekit.AgentDispatchService = dispatchService{}

// ListDispatch lists the room's agent dispatches (roomAdmin on the room),
// or the one with req.DispatchId. An unknown room is unavailable "no
// response from servers", as v1.8.4 answers (after about 3 s) every
// request that must reach a running room.
func (svc dispatchService) ListDispatch(ctx context.Context, req *livekit.ListAgentDispatchRequest) (*livekit.ListAgentDispatchResponse, error) {
	if err := ensureAdmin(ctx, req.Room); err != nil {
		return nil, err
	}
	s := svc.s
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.rooms[req.Room]
	if r == nil {
		return nil, errNoResponse()
	}
	res := &livekit.ListAgentDispatchResponse{}
	for _, d := range r.dispatches {
		if req.DispatchId == "" || d.Id == req.DispatchId {
			res.AgentDispatches = append(res.AgentDispatches, d)
		}
	}
	res.AgentDispatches = cloneAll(res.AgentDispatches)
	return res, nil
}

// CreateDispatch answers unimplemented.
func (dispatchService) CreateDispatch(context.Context, *livekit.CreateAgentDispatchRequest) (*livekit.AgentDispatch, error) {
	return nil, errUnimplemented("CreateDispatch")
}

// DeleteDispatch answers unimplemented.
func (dispatchService) DeleteDispatch(context.Context, *livekit.DeleteAgentDispatchRequest) (*livekit.AgentDispatch, error) {
	return nil, errUnimplemented("DeleteDispatch")
}
